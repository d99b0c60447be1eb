"""Keyed deterministic pseudonyms: the same value becomes the same token everywhere.

token = `<ENTITY:hhhhhhhhhhhh>` where the 12 hex digits (48 bits) are the start of
HMAC-SHA256(tenant key, entity ‖ normalised value), and the tenant key is
HMAC-SHA256(master key, "tenant:" ‖ tenant). So analytics can still join on a token, a person's
identifiers can be found again by recomputing their tokens (erasure), tenants cannot correlate
each other's tokens, and nobody without the master key can confirm a guess.

The master key comes from `MEMGRAPH_PSEUDONYM_KEY` (hex, at least 32 bytes), else from the file
named by `MEMGRAPH_PSEUDONYM_KEY_FILE`, else from the default key file
`$XDG_CONFIG_HOME/memgraph-ops/pseudonym.key` (`~/.config/...` without XDG_CONFIG_HOME), which
`memgraph-ops keygen` writes. A key file must lie outside the data root (a key stored next to
the data it protects protects nothing) and be readable by its owner only (mode 0600; anything
wider is refused). Presidio's own `hash` operator salts randomly and cannot give stable tokens,
so it is not used.

Key rotation: tokens are a function of the key. Rotating means choosing a new key for new data;
old tokens stay as they are (they cannot be recomputed into new ones without the raw values,
which only HOT had). Keep the old key as long as erasure requests may need to find its tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from memgraph_ops.errors import ConfigError, InputError

KEY_ENV = "MEMGRAPH_PSEUDONYM_KEY"
KEY_FILE_ENV = "MEMGRAPH_PSEUDONYM_KEY_FILE"
TOKEN_HEX = 12


def generate_key() -> str:
    """A new random master key, as 64 hex digits."""
    return secrets.token_hex(32)


def default_key_path() -> Path:
    """`$XDG_CONFIG_HOME/memgraph-ops/pseudonym.key`, with `~/.config` when XDG_CONFIG_HOME is
    unset (or relative, which the XDG spec says to ignore)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    config = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return config / "memgraph-ops" / "pseudonym.key"


def write_key_file(path: Path) -> None:
    """Create a new key file readable by its owner only (mode 0600 from its first byte, written
    atomically; never overwrites)."""
    if path.exists():
        raise InputError(f"{path} exists; refusing to overwrite a key (tokens depend on it)")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w") as out:  # mkstemp creates the file with mode 0600
            out.write(generate_key() + "\n")
            out.flush()
            os.fsync(out.fileno())
        # link, not replace: a key someone created meanwhile is never overwritten
        os.link(tmp, path)
    except FileExistsError:
        raise InputError(
            f"{path} exists; refusing to overwrite a key (tokens depend on it)"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class KeySource:
    """Where the master key is read from."""

    kind: Literal["environment", "key_file", "default_file"]
    path: Path | None = None
    """The key file (None for a key given in the environment)."""

    def describe(self) -> str:
        if self.kind == "environment":
            return f"{KEY_ENV} (environment)"
        if self.kind == "key_file":
            return f"{self.path} (from {KEY_FILE_ENV})"
        return f"{self.path} (default key file)"


def key_source() -> KeySource | None:
    """Where the master key would be read from now: the environment, the key file the
    environment names, or the default key file if it exists; None if nowhere."""
    if os.environ.get(KEY_ENV):
        return KeySource("environment")
    path_text = os.environ.get(KEY_FILE_ENV)
    if path_text:
        return KeySource("key_file", Path(path_text).expanduser().resolve())
    default = default_key_path()
    if default.exists():
        return KeySource("default_file", default.resolve())
    return None


def _parse_key(text: str, source: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(
            f"the pseudonym key from {source} is not hex; create one with `memgraph-ops keygen`"
        ) from None
    if len(key) < 32:
        raise ConfigError(f"the pseudonym key from {source} is shorter than 32 bytes (64 hex)")
    return key


def load_master_key(data_root: Path | None = None) -> bytes:
    """The master key from the environment or a key file (see `key_source`).

    Raises:
        ConfigError: there is no key, or it is not hex or too short, or its file is missing,
            lies inside the data root or is open to group or others.
    """
    source = key_source()
    if source is None:
        raise ConfigError(
            f"no pseudonym key: set {KEY_ENV} (64 hex digits) or {KEY_FILE_ENV} (a file outside "
            f"the data root), or create the default key file {default_key_path()} with "
            "`memgraph-ops keygen` (read when neither variable is set). Nothing was written."
        )
    if source.path is None:
        return _parse_key(os.environ[KEY_ENV], KEY_ENV)
    path = source.path
    if data_root is not None and path.is_relative_to(data_root.resolve()):
        raise ConfigError(
            f"the pseudonym key file {path} lies inside the data root {data_root}: move it out "
            "(a key stored with the data it protects protects nothing)"
        )
    if not path.exists():
        raise ConfigError(f"{KEY_FILE_ENV} names {path}, which does not exist")
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        raise ConfigError(
            f"the pseudonym key file {path} is open to group or others (mode {mode:04o}); "
            f"anyone who reads it can confirm guesses behind every token: run `chmod 600 {path}`"
        )
    return _parse_key(path.read_text(), str(path))


def key_status(data_root: Path | None = None) -> dict[str, str | None]:
    """Which key is in use, for `status`: `source` (environment, key_file, default_file or
    None), `path`, `in_use` (a sentence) and `problem` (why it cannot be used, or None)."""
    source = key_source()
    try:
        load_master_key(data_root)
        problem = None
    except ConfigError as exc:
        problem = str(exc)
    return {
        "source": source.kind if source else None,
        "path": str(source.path) if source and source.path else None,
        "in_use": source.describe() if source else None,
        "problem": problem,
    }


def normalize(entity: str, value: str) -> str:
    """The form of a value that should get one token however it was typed."""
    text = " ".join(value.split())
    if entity == "PHONE_NUMBER":
        digits = re.sub(r"\D", "", text.split("x")[0].split("ext")[0])
        if digits.startswith("001") and len(digits) == 13:
            digits = digits[3:]
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        return digits
    if entity in ("CREDIT_CARD", "US_SSN"):
        return re.sub(r"\D", "", text)
    if entity == "IBAN_CODE":
        return text.replace(" ", "").upper()
    if entity in ("EMAIL_ADDRESS", "PERSON", "LOCATION", "STREET_ADDRESS"):
        return re.sub(r"[\s,.]+", " ", text).strip().casefold()
    return text


class Pseudonymizer:
    """Computes tokens for (tenant, entity, value) with one master key."""

    def __init__(self, master_key: bytes) -> None:
        self._master = master_key
        self._tenant_keys: dict[str, bytes] = {}

    @classmethod
    def from_environment(cls, data_root: Path | None = None) -> Pseudonymizer:
        return cls(load_master_key(data_root))

    def _tenant_key(self, tenant: str) -> bytes:
        key = self._tenant_keys.get(tenant)
        if key is None:
            key = hmac.new(self._master, f"tenant:{tenant}".encode(), hashlib.sha256).digest()
            self._tenant_keys[tenant] = key
        return key

    def digest(self, tenant: str, entity: str, value: str) -> str:
        message = f"{entity}\x1f{normalize(entity, value)}".encode()
        return hmac.new(self._tenant_key(tenant), message, hashlib.sha256).hexdigest()[:TOKEN_HEX]

    def token(self, tenant: str, entity: str, value: str) -> str:
        return f"<{entity}:{self.digest(tenant, entity, value)}>"

    def subject(self, tenant: str, user_id: str) -> str:
        """The token that replaces a Session's `user_id` outside HOT."""
        return self.token(tenant, "USER_ID", user_id)
