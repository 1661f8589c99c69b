"""python -m onyx: the onyx command line."""

from onyx.cli import main

main(prog_name="onyx")
