"""TLS through uvicorn's certificate options: clients verify the server, and the endpoint file
lets local commands trust its certificate."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import memgraph_ops
from memgraph_ops.client import Client, RemoteStore, ServiceUnavailableError
from memgraph_ops.service import endpoint
from tests.factories import session
from tests.service.conftest import Keys, Server


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "memgraph test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls(serve: Callable[..., Server], keys: Keys, home: Path, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server = serve("--ssl-certfile", str(cert), "--ssl-keyfile", str(key))
    assert server.url.startswith("https://127.0.0.1:")
    trusted = ssl.create_default_context(cafile=str(cert))
    with Client(server.url, keys.acme, verify=trusted) as client:
        assert client.ingest(session("s1", 1)).accepted == len(session("s1", 1))
    # a client that does not trust the certificate never sends its key
    with (
        Client(server.url, keys.acme, retry_for=0) as untrusting,
        pytest.raises(ServiceUnavailableError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        untrusting.node("s1")
    # local commands find the server and trust it through the endpoint file
    found = endpoint.discover(home)
    assert found is not None and found.cafile == str(cert)
    with memgraph_ops.open(home) as mg:
        assert isinstance(mg.store, RemoteStore)
        assert mg.store.node("s1")["user_id"] == "user-1"
