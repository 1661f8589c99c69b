"""Library code behind the command line: input preparation, inspection, benchmarking."""
