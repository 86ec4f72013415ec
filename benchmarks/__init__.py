"""`python -m benchmarks`: throughput, latency, replay speed and memory, beside baselines.

Each row of the benchmark runs in a fresh child process (benchmarks.child)
on the same pre-generated workload file, so rows neither share caches nor
pollute each other's peak memory. Speed is only ever printed here, never
asserted by tests.
"""
