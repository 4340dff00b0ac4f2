"""Benchmarks: scripts that report numbers (correctness lives in tests/)."""
