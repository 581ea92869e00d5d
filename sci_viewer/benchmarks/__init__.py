"""Benchmarks run by ``sci-viewer bench NAME``; each prints its figures."""
