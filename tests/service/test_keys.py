"""API keys: created once, stored hashed and owner-only, listed without secrets, revoked."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from memgraph_ops.cli import main
from memgraph_ops.service.keys import KeyRing, Principal, keys_path


def test_keys_through_the_cli(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--tenant", "acme", "--json", "--home", str(home)]) == 0
    created = json.loads(capsys.readouterr().out)
    assert main(["keys", "create", "--admin", "--json", "--home", str(home)]) == 0
    admin = json.loads(capsys.readouterr().out)
    secret = created["key"]
    path = keys_path(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = path.read_text()
    # hashed only: neither the key nor its random token (`mgk_<id>_<token>`; the token itself
    # may hold `_`, so it is everything after the id) is in the file
    token = secret.split("_", 2)[2]
    assert len(token) == 43 and secret not in stored and token not in stored

    ring = KeyRing(home)
    assert ring.authenticate(secret) == Principal(created["key_id"], "tenant", "acme")
    assert ring.authenticate(admin["key"]) == Principal(admin["key_id"], "admin", None)
    assert ring.authenticate(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert ring.authenticate("mgk_nothing") is None

    assert main(["keys", "list", "--json", "--home", str(home)]) == 0
    listed = json.loads(capsys.readouterr().out)["keys"]
    assert [(k["key_id"], k["role"], k["tenant"]) for k in listed] == [
        (created["key_id"], "tenant", "acme"), (admin["key_id"], "admin", None)
    ]  # fmt: skip
    assert all("sha256" not in k and "key" not in k for k in listed)

    assert main(["keys", "revoke", created["key_id"], "--home", str(home)]) == 0
    capsys.readouterr()
    assert ring.authenticate(secret) is None  # the ring re-reads the changed file
    assert ring.authenticate(admin["key"]) is not None
    assert main(["keys", "revoke", "000000000000", "--home", str(home)]) == 2
    assert "no API key '000000000000'" in capsys.readouterr().err
    # a key is for one tenant or an admin key, not both, not neither
    with pytest.raises(SystemExit) as usage:
        main(["keys", "create", "--home", str(home)])
    assert usage.value.code == 2 and "--tenant" in capsys.readouterr().err
    with pytest.raises(Exception, match="either for one tenant"):
        ring.create()
