"""The [service] table of memgraph.toml: checked like the others, read by serve and connect."""

from __future__ import annotations

from pathlib import Path

import pytest

from memgraph_ops import load_settings
from memgraph_ops.client import Client, connect
from memgraph_ops.errors import ConfigError
from memgraph_ops.store import Store


def test_service_table(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home.mkdir(parents=True)
    config = home / "memgraph.toml"
    config.write_text('[service]\nport = 0\ncommit_window_ms = 5\nurl = "http://127.0.0.1:1"\n')
    settings = load_settings(home)
    assert settings.service == {"port": 0, "commit_window_ms": 5.0, "url": "http://127.0.0.1:1"}
    monkeypatch.setenv("MEMGRAPH_API_KEY", "mgk_000000000000_" + "x" * 43)
    client = connect(settings)  # by configuration alone
    assert isinstance(client, Client) and client.url == "http://127.0.0.1:1"
    client.close()

    config.write_text("[service]\nprot = 1\n")
    with pytest.raises(
        ConfigError, match=r"\[service\] has no setting 'prot' \(did you mean 'port'"
    ):
        load_settings(home)
    config.write_text("[service]\nqueue_size = 0\n")
    with pytest.raises(ConfigError, match="queue_size must be at least 1"):
        load_settings(home)
    config.write_text("")
    monkeypatch.delenv("MEMGRAPH_URL", raising=False)
    store = connect(load_settings(home))  # nobody serves the root: the file itself
    assert type(store) is Store
    store.close()
