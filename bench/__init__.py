"""Timing and memory benchmarks that run the real server and compare it with the bare models."""
