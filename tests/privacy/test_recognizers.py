"""Each recognizer on text it must catch and text it must leave alone."""

from __future__ import annotations

import pytest

from memgraph_ops.privacy.recognizers import find_patterns


def _found(text: str) -> set[tuple[str, str]]:
    return {(entity, text[s:e]) for s, e, entity, score in find_patterns(text) if score >= 0.5}


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        ("write to jane.doe+x@mail.example.co.uk today", "EMAIL_ADDRESS", "jane.doe+x@mail.example.co.uk"),
        ("call (555) 123-4567 now", "PHONE_NUMBER", "(555) 123-4567"),
        ("cell: 001-398-806-3513x96937", "PHONE_NUMBER", "001-398-806-3513x96937"),
        ("UK office +44 20 7946 0958", "PHONE_NUMBER", "+44 20 7946 0958"),
        ("card 4111 1111 1111 1111 declined", "CREDIT_CARD", "4111 1111 1111 1111"),
        ("IBAN GB33BUKB20201555555555 please", "IBAN_CODE", "GB33BUKB20201555555555"),
        ("from 54.252.253.211 port 22", "IP_ADDRESS", "54.252.253.211"),
        ("SSN 023-82-0163", "US_SSN", "023-82-0163"),
        ("driver's license number D1234567", "US_DRIVER_LICENSE", "D1234567"),
        ("born on March 3, 1985 in Ohio", "DATE_OF_BIRTH", "March 3, 1985"),
        ("ship to 083 Crosby Plaza Apt. 533\nFarleytown, MT 73436.", "STREET_ADDRESS",
         "083 Crosby Plaza Apt. 533\nFarleytown, MT 73436"),
        ("PSC 1241, Box 5868\nAPO AP 25384", "STREET_ADDRESS", "PSC 1241, Box 5868\nAPO AP 25384"),
        ("key sk-proj-abc123def456ghi789jkl012mno345", "API_KEY", "sk-proj-abc123def456ghi789jkl012mno345"),
        ("AWS AKIAIOSFODNN7EXAMPLE", "API_KEY", "AKIAIOSFODNN7EXAMPLE"),
        ('aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', "API_KEY",
         "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "API_KEY",
         "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("slack xoxb-1234567890-abcdefghij", "API_KEY", "xoxb-1234567890-abcdefghij"),
        ("google AIzaSyA1234567890abcdefghijklmnopqrstuv", "API_KEY",
         "AIzaSyA1234567890abcdefghijklmnopqrstuv"),
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "API_KEY", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
        ("Authorization: Bearer abcdefghijklmnop1234", "BEARER_TOKEN", "abcdefghijklmnop1234"),
        ("postgres://admin:s3cretPw@db.internal:5432/prod", "URL_CREDENTIALS", "admin:s3cretPw"),
        ("Server=db;User Id=sa;Password=Hunter2!;", "PASSWORD", "Hunter2!"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
         "JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ],
)  # fmt: skip
def test_recognizer_finds(text: str, entity: str, value: str) -> None:
    assert (entity, value) in _found(text)


def test_pem_private_key_is_found_whole() -> None:
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nabc==\n-----END RSA PRIVATE KEY-----"
    assert ("PRIVATE_KEY", pem) in _found(f"config:\n{pem}\nend")


@pytest.mark.parametrize(
    "text",
    [
        "version 1.2.3 of the library, build 20240101",
        "order 1234567890 shipped",  # a bare number without a phone word
        "card 4111 1111 1111 1112 declined",  # fails Luhn
        "uuid 123e4567-e89b-12d3-a456-426614174000",
        "the meeting on 2024-05-01 went well",  # a date, but no birth context
        "SSN-like 000-12-3456 is invalid",
        "Please summarize the attached report.",
    ],
)
def test_recognizer_leaves_alone(text: str) -> None:
    assert _found(text) == set()
