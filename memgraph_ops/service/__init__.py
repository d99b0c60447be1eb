"""The service: `memgraph-ops serve` owns HOT and serves it over HTTP.

- `keys`: API keys per tenant (hashed under `<home>/service/keys.json`);
- `endpoint`: the endpoint file a running server leaves under the data root, and discovery;
- `writer`: group commit (one writer thread, one transaction per short window);
- `app`: the FastAPI application (events in, hot reads, operator endpoints, health, metrics);
- `server`: running it on uvicorn, with a graceful shutdown.

Only `keys` and `endpoint` are imported by light callers (the CLI, the facade's discovery):
FastAPI and uvicorn are imported by `app` and `server` alone.
"""
