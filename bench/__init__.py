"""Benchmarks: each script serves this project beside a baseline and prints their ratio."""
