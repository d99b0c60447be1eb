"""Side-by-side benchmarks of memgraph_ops against the bare engines (DuckDB, delta-rs).

Run them with `python -m benchmarks.run [--quick] [--only NAME]`; see `benchmarks/RESULTS.md`.
"""
