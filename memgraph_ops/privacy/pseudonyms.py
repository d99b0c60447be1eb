"""Keyed deterministic pseudonyms: the same value becomes the same token everywhere.

token = `<ENTITY:hhhhhhhhhhhh>` where the 12 hex digits (48 bits) are the start of
HMAC-SHA256(tenant key, entity ‖ normalised value), and the tenant key is
HMAC-SHA256(master key, "tenant:" ‖ tenant). So analytics can still join on a token, a person's
identifiers can be found again by recomputing their tokens (erasure), tenants cannot correlate
each other's tokens, and nobody without the master key can confirm a guess.

The master key comes from `MEMGRAPH_PSEUDONYM_KEY` (hex, at least 32 bytes) or from the file
named by `MEMGRAPH_PSEUDONYM_KEY_FILE`, which must lie outside the data root (a key stored next
to the data it protects protects nothing). Presidio's own `hash` operator salts randomly and
cannot give stable tokens, so it is not used.

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
from pathlib import Path

from memgraph_ops.errors import ConfigError, InputError

KEY_ENV = "MEMGRAPH_PSEUDONYM_KEY"
KEY_FILE_ENV = "MEMGRAPH_PSEUDONYM_KEY_FILE"
TOKEN_HEX = 12


def generate_key() -> str:
    """A new random master key, as 64 hex digits."""
    return secrets.token_hex(32)


def write_key_file(path: Path) -> None:
    """Create a new key file readable by its owner only (atomically; never overwrites)."""
    if path.exists():
        raise InputError(f"{path} exists; refusing to overwrite a key (tokens depend on it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(generate_key() + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)


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
    """The master key from the environment or the key file; a clear error if there is none."""
    if os.environ.get(KEY_ENV):
        return _parse_key(os.environ[KEY_ENV], KEY_ENV)
    path_text = os.environ.get(KEY_FILE_ENV)
    if not path_text:
        raise ConfigError(
            f"no pseudonym key: set {KEY_ENV} (64 hex digits) or {KEY_FILE_ENV} (a file outside "
            "the data root). Create one with `memgraph-ops keygen --out ~/.config/memgraph-ops/"
            "pseudonym.key`. Nothing was written."
        )
    path = Path(path_text).expanduser().resolve()
    if data_root is not None and path.is_relative_to(data_root.resolve()):
        raise ConfigError(
            f"the pseudonym key file {path} lies inside the data root {data_root}: move it out "
            "(a key stored with the data it protects protects nothing)"
        )
    if not path.exists():
        raise ConfigError(f"{KEY_FILE_ENV} names {path}, which does not exist")
    return _parse_key(path.read_text(), str(path))


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
