"""`python -m benchmarks`: the benchmark (what `make bench` runs), from a source checkout."""

from benchmarks.cli import bench

bench(prog_name="python -m benchmarks")
