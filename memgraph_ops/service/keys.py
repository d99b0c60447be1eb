"""API keys per tenant, stored hashed under the data root.

A key is shown once, when it is created: `mgk_<key id>_<token>`, where the token is 32 random
bytes (URL-safe base64). The file keeps the key id, the SHA-256 of the whole key, tenant, role
and dates, never the key itself. A plain hash is enough here (no slow KDF): the token has 256
bits of entropy, so nobody can guess it from its hash. The key id inside the key lets
`authenticate` find the one record to compare (`hmac.compare_digest`) without a scan.

`<home>/service/keys.json` is written atomically under a lock file, mode 0600. A running server
re-reads it when it changes, so a revocation takes effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from memgraph_ops._files import atomic_write, lock_for, locked
from memgraph_ops.errors import ConfigError, InputError

Role = Literal["tenant", "admin", "operator"]
KEY_PREFIX = "mgk_"
_KEY_FORMAT = re.compile(r"^mgk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Principal:
    """Who a request acts for. `tenant` is None for the admin and the local operator, who act
    for every tenant."""

    key_id: str
    role: Role
    tenant: str | None

    @property
    def is_admin(self) -> bool:
        return self.role in ("admin", "operator")


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    role: Literal["tenant", "admin"]
    tenant: str | None
    sha256: str
    created_at: str
    revoked_at: str | None = None

    def public(self) -> dict[str, Any]:
        """The record without its hash (what `keys list` shows)."""
        shown = asdict(self)
        del shown["sha256"]
        return shown


def keys_path(home: Path) -> Path:
    return home / "service" / "keys.json"


class KeyRing:
    """The API keys of a data root."""

    def __init__(self, home: Path) -> None:
        self.path = keys_path(home)
        self._lock = lock_for(self.path.with_name("keys.lock"))
        self._cache: tuple[tuple[int, int], dict[str, KeyRecord]] | None = None

    def create(self, *, tenant: str | None = None, admin: bool = False) -> tuple[str, str]:
        """A new key for `tenant` (or an admin key): returns (key id, key). The key is not
        kept: show it to the user now."""
        if admin == (tenant is not None):
            raise InputError("a key is either for one tenant (--tenant T) or an admin key")
        if tenant is not None and not tenant.strip():
            raise InputError("the tenant of a key must not be empty")
        key_id = secrets.token_hex(6)
        secret = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = KeyRecord(
            key_id=key_id,
            role="admin" if admin else "tenant",
            tenant=tenant,
            sha256=_digest(secret),
            created_at=_now(),
        )
        with locked(self._lock):
            records = self._read()
            records[key_id] = record
            self._write(records)
        return key_id, secret

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key (kept in the file, marked revoked). Raises InputError if unknown."""
        with locked(self._lock):
            records = self._read()
            record = records.get(key_id)
            if record is None:
                known = ", ".join(sorted(records)) or "none"
                raise InputError(f"no API key {key_id!r} in {self.path} (known: {known})")
            if record.revoked_at is None:
                record = KeyRecord(**{**asdict(record), "revoked_at": _now()})
                records[key_id] = record
                self._write(records)
        return record

    def list(self) -> list[KeyRecord]:
        return sorted(self._read().values(), key=lambda r: r.created_at)

    def authenticate(self, secret: str) -> Principal | None:
        """The principal a key stands for; None if it is malformed, unknown or revoked."""
        match = _KEY_FORMAT.match(secret)
        if match is None:
            return None
        record = self._current().get(match.group(1))
        if record is None or record.revoked_at is not None:
            return None
        if not hmac.compare_digest(record.sha256, _digest(secret)):
            return None
        return Principal(record.key_id, record.role, record.tenant)

    def _current(self) -> dict[str, KeyRecord]:
        """The records, re-read only when the file changed (a stat per request)."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return {}
        stamp = (info.st_mtime_ns, info.st_size)
        if self._cache is None or self._cache[0] != stamp:
            self._cache = (stamp, self._read())
        return self._cache[1]

    def _read(self) -> dict[str, KeyRecord]:
        try:
            document = json.loads(self.path.read_text())
            return {r["key_id"]: KeyRecord(**r) for r in document["keys"]}
        except FileNotFoundError:
            return {}
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{self.path} is not a valid key file ({exc}); restore it from a backup or "
                "delete it and create new keys"
            ) from exc

    def _write(self, records: dict[str, KeyRecord]) -> None:
        document = {"version": 1, "keys": [asdict(r) for r in records.values()]}
        atomic_write(self.path, json.dumps(document, indent=2) + "\n")
        # Hashes only, but still nobody else's business (the data root is 0700 as well).
        os.chmod(self.path, 0o600)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
