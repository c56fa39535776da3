"""linkcast's benchmarks: ``python -m bench.run`` (``make bench``) runs them side by side; see bench/README.md."""
