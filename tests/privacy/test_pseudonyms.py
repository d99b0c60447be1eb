"""Where the pseudonym master key comes from: the environment, the file it names, or the default
key file that `keygen` writes; key files must be owner-only; `status` says which is in use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import memgraph_ops
from memgraph_ops.cli import main
from memgraph_ops.errors import ConfigError
from memgraph_ops.privacy.pseudonyms import (
    KEY_ENV,
    KEY_FILE_ENV,
    default_key_path,
    load_master_key,
)
from tests.conftest import TEST_KEY
from tests.factories import event


@pytest.fixture
def no_key_variables(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Neither key variable set; HOME and XDG_CONFIG_HOME point into tmp_path. Returns the
    XDG config directory."""
    monkeypatch.delenv(KEY_ENV)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    config = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return config


def test_default_key_path_follows_xdg_config_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_key_path() == tmp_path / "xdg" / "memgraph-ops" / "pseudonym.key"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert default_key_path() == tmp_path / "user" / ".config" / "memgraph-ops" / "pseudonym.key"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # the XDG spec says: ignore it
    assert default_key_path() == tmp_path / "user" / ".config" / "memgraph-ops" / "pseudonym.key"


def test_the_key_keygen_writes_by_default_is_the_key_compact_reads(
    home: Path, no_key_variables: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with memgraph_ops.open(home) as mg:
        mg.ingest([event("e1", "Prompt", "p1", session_id="s", content="mail jane@example.com")])
        with pytest.raises(ConfigError, match="no pseudonym key") as caught:
            mg.compact()
        expected = no_key_variables / "memgraph-ops" / "pseudonym.key"
        assert str(expected) in str(caught.value)  # the message names the file it would read
    assert main(["keygen"]) == 0  # the default --out is that file
    assert expected.stat().st_mode & 0o777 == 0o600
    assert (expected.parent.stat().st_mode & 0o777) == 0o700
    assert "read when no key variable is set" in capsys.readouterr().out
    with memgraph_ops.open(home) as mg:
        report = mg.compact()
        assert report.events == 1 and report.redactions.get("EMAIL_ADDRESS") == 1
        assert "jane@example.com" not in mg.lake.nodes()["content"][0]
    assert load_master_key(home) == bytes.fromhex(expected.read_text().strip())


def test_following_the_error_message_with_an_explicit_out_works_too(
    home: Path, no_key_variables: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME")
    out = tmp_path / "user" / ".config" / "memgraph-ops" / "pseudonym.key"
    assert main(["keygen", "--out", "~/.config/memgraph-ops/pseudonym.key"]) == 0
    assert out.exists()
    assert load_master_key(home) == bytes.fromhex(out.read_text().strip())


def test_the_environment_wins_over_the_default_key_file(
    home: Path, no_key_variables: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["keygen"]) == 0
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    assert load_master_key(home) == bytes.fromhex(TEST_KEY)
    monkeypatch.delenv(KEY_ENV)
    named = tmp_path / "named.key"
    named.write_text("ab" * 32)
    named.chmod(0o600)
    monkeypatch.setenv(KEY_FILE_ENV, str(named))
    assert load_master_key(home) == bytes.fromhex("ab" * 32)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660], ids=oct)
def test_a_key_file_open_to_group_or_others_is_refused(
    home: Path, no_key_variables: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: int
) -> None:
    key = tmp_path / "wide.key"
    key.write_text(TEST_KEY + "\n")
    key.chmod(mode)
    monkeypatch.setenv(KEY_FILE_ENV, str(key))
    with pytest.raises(ConfigError, match=re.escape(f"chmod 600 {key}")):
        load_master_key(home)
    key.chmod(0o600)
    assert load_master_key(home) == bytes.fromhex(TEST_KEY)


def test_a_default_key_file_open_to_others_is_refused(home: Path, no_key_variables: Path) -> None:
    assert main(["keygen"]) == 0
    default = default_key_path()
    default.chmod(0o644)
    with pytest.raises(
        ConfigError, match="open to group or others.*" + re.escape(f"chmod 600 {default}")
    ):
        load_master_key(home)


def test_keygen_leaves_no_temp_file_and_never_overwrites(
    no_key_variables: Path, tmp_path: Path
) -> None:
    out = tmp_path / "keys" / "k.key"
    assert main(["keygen", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["k.key"]
    assert main(["keygen", "--out", str(out)]) == 2
    assert sorted(p.name for p in out.parent.iterdir()) == ["k.key"]


def test_status_says_which_key_is_in_use(
    home: Path, no_key_variables: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert main(["status"]) == 0
    assert "KEY  none: no pseudonym key" in capsys.readouterr().out
    assert main(["keygen"]) == 0
    capsys.readouterr()
    default = default_key_path()
    assert main(["status"]) == 0
    assert f"KEY  {default} (default key file)" in capsys.readouterr().out
    assert main(["status", "--json"]) == 0
    key = json.loads(capsys.readouterr().out)["pseudonym_key"]
    assert key == {
        "source": "default_file",
        "path": str(default),
        "in_use": f"{default} (default key file)",
        "problem": None,
    }
    default.chmod(0o644)
    assert main(["status"]) == 0
    assert f"(default key file): the pseudonym key file {default} is open" in (
        capsys.readouterr().out
    )
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    assert main(["status"]) == 0
    assert f"KEY  {KEY_ENV} (environment)" in capsys.readouterr().out
