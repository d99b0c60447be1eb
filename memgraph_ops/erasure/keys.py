"""Keyed material of erasure: subject hashes, receipt signatures, sealed request subjects.

Everything is derived from the pseudonym master key (`MEMGRAPH_PSEUDONYM_KEY` or the key file
outside the data root) with HMAC-SHA256 under a purpose label, so an erasure key never equals a
tenant's pseudonym key and nobody without the master key can confirm a guessed subject.

A queued request has to remember its subject until it is done (HOT holds raw text, which only
the clear value can find). It is kept *sealed*: encrypted with a keystream of HMAC-SHA256 in
counter mode under a random nonce, then authenticated with HMAC-SHA256 (encrypt-then-MAC). The
sealed value is dropped when the request completes; receipts keep only the keyed hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from memgraph_ops.errors import ConfigError

_NONCE = 16
_TAG = 32


class ErasureKeys:
    """Keys for one master key: `subject_hash`, `sign`, `seal`/`unseal`."""

    def __init__(self, master_key: bytes) -> None:
        self._hash_key = _derive(master_key, "erasure:subject")
        self._sign_key = _derive(master_key, "erasure:receipt")
        self._seal_key = _derive(master_key, "erasure:seal")
        self._mac_key = _derive(master_key, "erasure:seal-mac")

    def subject_hash(self, kind: str, value: str, tenant: str | None = None) -> str:
        """The keyed hash naming a subject in queues, receipts, run tags and tombstones."""
        message = f"{kind}\x1f{tenant or '*'}\x1f{value}".encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()[:32]

    def hashes(self, kind: str, values: list[str], tenant: str | None = None) -> list[str]:
        return [self.subject_hash(kind, v, tenant) for v in values]

    def sign(self, document: dict[str, Any]) -> str:
        """HMAC-SHA256 over the canonical JSON of `document` (without its `signature`)."""
        body = {k: v for k, v in document.items() if k != "signature"}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        return hmac.new(self._sign_key, text.encode(), hashlib.sha256).hexdigest()

    def verify(self, document: dict[str, Any]) -> bool:
        return hmac.compare_digest(str(document.get("signature", "")), self.sign(document))

    def seal(self, text: str) -> str:
        nonce = secrets.token_bytes(_NONCE)
        data = text.encode()
        cipher = bytes(a ^ b for a, b in zip(data, self._stream(nonce, len(data)), strict=True))
        tag = hmac.new(self._mac_key, nonce + cipher, hashlib.sha256).digest()
        return base64.b64encode(nonce + cipher + tag).decode()

    def unseal(self, sealed: str) -> str:
        raw = base64.b64decode(sealed)
        nonce, cipher, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
        expected = hmac.new(self._mac_key, nonce + cipher, hashlib.sha256).digest()
        if not hmac.compare_digest(tag, expected):
            raise ConfigError(
                "a queued erasure request cannot be unsealed with this pseudonym key: the key "
                "changed since it was queued; restore the old key to finish it"
            )
        plain = bytes(a ^ b for a, b in zip(cipher, self._stream(nonce, len(cipher)), strict=True))
        return plain.decode()

    def _stream(self, nonce: bytes, length: int) -> bytes:
        blocks = (
            hmac.new(self._seal_key, nonce + i.to_bytes(8, "big"), hashlib.sha256).digest()
            for i in range(-(-length // 32))
        )
        return b"".join(blocks)[:length]


def _derive(master: bytes, purpose: str) -> bytes:
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()
