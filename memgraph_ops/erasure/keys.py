"""Keyed material of erasure: subject hashes, sealed request subjects, receipt signatures.

Everything comes from the pseudonym master key (`MEMGRAPH_PSEUDONYM_KEY` or the key file
outside the data root), so no new secret has to be stored. The primitives are the
`cryptography` package's; nothing here composes them by hand.

- **Subject hash**: HMAC-SHA256 under a key that is itself HMAC-SHA256(master,
  `erasure:subject`), truncated to 128 bits. Unchanged since the first release, because
  tombstones, queued requests and receipts already on disk name subjects by it.
- **Sealing** a queued request's subject: AES-256-GCM with a key from HKDF-SHA256(master,
  info=`memgraph-ops/erasure/seal/aes-256-gcm/v1`), a random 96-bit nonce per seal and the
  request id as associated data, so a sealed value moved to another request does not open.
  Format: `aes-256-gcm:` + base64(nonce ‖ ciphertext ‖ 128-bit tag).
- **Receipt signatures**: Ed25519 with the private key whose 32-byte seed is HKDF-SHA256(master,
  info=`memgraph-ops/erasure/receipt/ed25519/v1`). The signature covers `canonical_json` of the
  receipt without its `signature`. The public key (`ReceiptKey`, exported as PEM
  SubjectPublicKeyInfo) checks receipts without any secret; its fingerprint is
  `sha256:` + the hex SHA-256 of the raw 32-byte public key.

Legacy formats (before the `cryptography` package), still read:
- a seal without the `aes-256-gcm:` prefix (plain base64, whose alphabet has no `:`) is the old
  HMAC-SHA256 counter-mode keystream with an HMAC-SHA256 tag (keys HMAC(master, `erasure:seal`)
  and HMAC(master, `erasure:seal-mac`)). `unseal` opens it; the caller re-seals it at once.
- a receipt without `signature_algorithm` carries a hex HMAC-SHA256 (key HMAC(master,
  `erasure:receipt`)) that only the master key holder can check (`verify_legacy_receipt`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from memgraph_ops.errors import ConfigError, InputError
from memgraph_ops.tombstones import SubjectHasher

SEAL_PREFIX = "aes-256-gcm:"
SIGNATURE_ALGORITHM = "Ed25519"
LEGACY_SIGNATURE_ALGORITHM = "HMAC-SHA256"

_SEAL_INFO = b"memgraph-ops/erasure/seal/aes-256-gcm/v1"
_SIGNING_INFO = b"memgraph-ops/erasure/receipt/ed25519/v1"
_SEAL_AAD = b"memgraph-ops/erasure/request-id\x00"
_NONCE = 12
_LEGACY_NONCE = 16
_LEGACY_TAG = 32


def canonical_json(document: dict[str, Any]) -> bytes:
    """The bytes a receipt signature covers: `document` without `signature`, as JSON with sorted
    keys, no whitespace, UTF-8. Values go through a JSON round trip first, so a receipt read back
    from a file or the `erasure_log` gives the same bytes as the one that was signed.

    >>> canonical_json({"b": [1, 2], "a": "é", "signature": "x"})
    b'{"a":"\\xc3\\xa9","b":[1,2]}'
    """
    body = {k: v for k, v in document.items() if k != "signature"}
    plain = json.loads(json.dumps(body, default=str))
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


class ReceiptKey:
    """The public key that checks receipt signatures: no secret, safe to hand to an auditor."""

    def __init__(self, key: Ed25519PublicKey) -> None:
        self._key = key

    @classmethod
    def from_text(cls, text: str, source: str = "the public key") -> ReceiptKey:
        """Read a PEM public key (as `pem()` writes it) or the raw 32 bytes in base64."""
        stripped = text.strip()
        try:
            if stripped.startswith("-----BEGIN"):
                loaded = serialization.load_pem_public_key(stripped.encode())
                if not isinstance(loaded, Ed25519PublicKey):
                    raise InputError(
                        f"{source} is a {type(loaded).__name__}, not an Ed25519 public key: "
                        "export the right one with `memgraph-ops erase public-key`"
                    )
                return cls(loaded)
            return cls(
                Ed25519PublicKey.from_public_bytes(base64.b64decode(stripped, validate=True))
            )
        except (ValueError, binascii.Error, UnsupportedAlgorithm) as exc:
            raise InputError(
                f"{source} is neither a PEM public key nor 32 bytes of base64 ({exc}); export "
                "it with `memgraph-ops erase public-key --out FILE`"
            ) from exc

    @classmethod
    def load(cls, path: Path) -> ReceiptKey:
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the public key {path}: {exc}") from exc
        return cls.from_text(text, str(path))

    def raw(self) -> bytes:
        return self._key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def pem(self) -> str:
        """PEM SubjectPublicKeyInfo (`openssl pkey -pubin -in FILE -text` reads it)."""
        return self._key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    @property
    def fingerprint(self) -> str:
        """`sha256:` + the hex SHA-256 of the raw public key; receipts name their key by it."""
        digest = hashes.Hash(hashes.SHA256())
        digest.update(self.raw())
        return "sha256:" + digest.finalize().hex()

    def check(self, document: dict[str, Any]) -> bool:
        """Whether `document["signature"]` is this key's Ed25519 signature of the rest."""
        try:
            signature = base64.b64decode(str(document.get("signature", "")), validate=True)
            self._key.verify(signature, canonical_json(document))
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


class ErasureKeys:
    """Keys derived from one master key: `subject_hash`, `seal`/`unseal`, `sign`/`verify`."""

    def __init__(self, master_key: bytes) -> None:
        self._subject = SubjectHasher(master_key)
        self._aead = AESGCM(_hkdf(master_key, _SEAL_INFO))
        self._signing_key = Ed25519PrivateKey.from_private_bytes(_hkdf(master_key, _SIGNING_INFO))
        self.public_key = ReceiptKey(self._signing_key.public_key())
        self._legacy_receipt_key = _legacy_derive(master_key, "erasure:receipt")
        self._legacy_seal_key = _legacy_derive(master_key, "erasure:seal")
        self._legacy_mac_key = _legacy_derive(master_key, "erasure:seal-mac")

    def subject_hash(self, kind: str, value: str, tenant: str | None = None) -> str:
        """The keyed hash naming a subject in queues, receipts, run tags and tombstones."""
        return self._subject(kind, value, tenant)

    def hashes(self, kind: str, values: list[str], tenant: str | None = None) -> list[str]:
        return [self.subject_hash(kind, v, tenant) for v in values]

    # receipts -----------------------------------------------------------------------------------

    def sign(self, document: dict[str, Any]) -> str:
        """The base64 Ed25519 signature of `canonical_json(document)`."""
        return base64.b64encode(self._signing_key.sign(canonical_json(document))).decode()

    def verify(self, document: dict[str, Any]) -> bool:
        """Whether this master key signed the receipt (Ed25519, or a legacy HMAC)."""
        if "signature_algorithm" not in document:
            return self.verify_legacy_receipt(document)
        signed_by_us = document["signature_algorithm"] == SIGNATURE_ALGORITHM
        return signed_by_us and self.public_key.check(document)

    def verify_legacy_receipt(self, document: dict[str, Any]) -> bool:
        """Check a receipt signed before Ed25519: HMAC-SHA256 over its canonical JSON."""
        body = {k: v for k, v in document.items() if k != "signature"}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        expected = hmac.new(self._legacy_receipt_key, text.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(str(document.get("signature", "")), expected)

    # sealed subjects ----------------------------------------------------------------------------

    def seal(self, text: str, *, request_id: str) -> str:
        """Encrypt `text` for the queued request `request_id` (a fresh nonce every time)."""
        nonce = secrets.token_bytes(_NONCE)
        cipher = self._aead.encrypt(nonce, text.encode(), _SEAL_AAD + request_id.encode())
        return SEAL_PREFIX + base64.b64encode(nonce + cipher).decode()

    def unseal(self, sealed: str, *, request_id: str) -> str:
        """Decrypt what `seal` made for this request (or a legacy seal); `ConfigError` if it
        does not authenticate."""
        if is_legacy_seal(sealed):
            return self._legacy_unseal(sealed, request_id)
        try:
            raw = base64.b64decode(sealed.removeprefix(SEAL_PREFIX), validate=True)
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _SEAL_AAD + request_id.encode())
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise _unseal_error(request_id, "was altered or belongs to another request") from exc
        return plain.decode()

    def _legacy_unseal(self, sealed: str, request_id: str) -> str:
        try:
            raw = base64.b64decode(sealed, validate=True)
        except binascii.Error as exc:
            raise _unseal_error(request_id, "is in the legacy format and not valid base64") from exc
        nonce, tag = raw[:_LEGACY_NONCE], raw[-_LEGACY_TAG:]
        cipher = raw[_LEGACY_NONCE:-_LEGACY_TAG]
        expected = hmac.new(self._legacy_mac_key, nonce + cipher, hashlib.sha256).digest()
        if len(raw) < _LEGACY_NONCE + _LEGACY_TAG or not hmac.compare_digest(tag, expected):
            raise _unseal_error(request_id, "is in the legacy format and was altered")
        blocks = (
            hmac.new(self._legacy_seal_key, nonce + i.to_bytes(8, "big"), hashlib.sha256).digest()
            for i in range(-(-len(cipher) // 32))
        )
        stream = b"".join(blocks)[: len(cipher)]
        return bytes(a ^ b for a, b in zip(cipher, stream, strict=True)).decode()


def is_legacy_seal(sealed: str) -> bool:
    """Whether `sealed` was made by the scheme before AES-GCM (and should be re-sealed)."""
    return not sealed.startswith(SEAL_PREFIX)


def _unseal_error(request_id: str, what: str) -> ConfigError:
    return ConfigError(
        f"the sealed subject of erasure request {request_id} does not open: it {what}, or it "
        "was sealed under another pseudonym key. Restore the key the request was queued with; "
        f"or re-queue it: delete erasure/requests/{request_id}.json under the data root and "
        "run `memgraph-ops erase` for the same subject again"
    )


def _hkdf(master: bytes, info: bytes) -> bytes:
    # No salt: the master key is already 32+ uniformly random bytes (RFC 5869 §3.1).
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def _legacy_derive(master: bytes, purpose: str) -> bytes:
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()
