"""``make bench``: gas and throughput benchmarks (never timed unit tests)."""
