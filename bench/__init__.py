"""Benchmarks on the scale data (see run.py). Never imported by the product."""
