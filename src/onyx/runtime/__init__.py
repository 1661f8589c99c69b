"""Execution: plans built once per session, and feed validation."""
