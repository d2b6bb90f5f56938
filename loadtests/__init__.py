"""Load tests (Locust scenarios) and the benchmark, plus the harness that starts a server for them."""
