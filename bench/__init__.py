"""linkcast's benchmarks: ``make bench`` runs each in turn (``bench.run`` side by side first); see bench/README.md."""
