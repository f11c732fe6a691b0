"""Benchmarks of the pipeline against this machine's limits and against peers (issue 10): `python -m benchmarks`."""
