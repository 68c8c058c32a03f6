"""Helpers the tests and benchmarks share: servers they start, stores they reset."""
