"""Benchmarks (`make bench`): Caseflow against a bare-Temporal baseline measured in the same run."""
