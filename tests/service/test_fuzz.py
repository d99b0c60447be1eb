"""Fuzz the API from its own OpenAPI document: no request may make the server fail (5xx).

Schemathesis generates the requests (its pytest plugin does not run under pytest 9, so the
test drives its strategies with Hypothesis itself)."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from memgraph_ops.service import wire
from tests.service.conftest import Keys, Server


@schemathesis.serializer(wire.ARROW, wire.NDJSON)
def _raw_bytes(ctx: Any, value: Any) -> bytes:
    """Generated Arrow and JSONL bodies go out as the bytes or text generated (mostly not a
    valid stream: exactly what a fuzzer should send)."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf8", errors="surrogatepass")


@pytest.mark.heavy
def test_no_request_makes_the_server_fail(server: Server, keys: Keys) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # every endpoint is in the document
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            # the same cases every CI run (a landing must not hinge on a random draw); random
            # ones elsewhere, so local runs keep exploring
            derandomize=bool(os.environ.get("CI")),
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            for key in (keys.admin, keys.acme):
                response = case.call(
                    base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
                )
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: "
                        f"{response.text[:300]}"
                    )

        run()
        assert server.process.poll() is None, f"the server died under {operation.label}"
    assert failures == [], "\n".join(dict.fromkeys(f.split(":")[0] for f in failures))
