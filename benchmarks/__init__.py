"""Benchmarks. `python -m benchmarks.solvers --workdir DIR [--quick]` runs the sampler benchmark."""
