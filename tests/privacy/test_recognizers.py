"""Each recognizer on text it must catch and text it must leave alone."""

from __future__ import annotations

import pytest

from memgraph_ops.privacy.recognizers import find_patterns, unescaped_view


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
        ("Thomas Kramer\nP.O. BOX 2172\nSouth John, OK 66840", "STREET_ADDRESS", "P.O. BOX 2172\nSouth John, OK 66840"),
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
        # the birth context inside a JSON key (`_` and camelCase defeat a `\b`)
        ('{"date_of_birth": "1985-03-03", "plan": "gold"}', "DATE_OF_BIRTH", "1985-03-03"),
        ('{"birthDate": "03/03/1985"}', "DATE_OF_BIRTH", "03/03/1985"),
        ('{"patient_dob": "1985-03-03"}', "DATE_OF_BIRTH", "1985-03-03"),
        # JSON quoted inside a message: the city line follows an escaped line break
        (r'{"tool": "ship", "args": "{\"address\": \"083 Crosby Plaza Apt. 533\nFarleytown, MT 73436\"}"}',
         "STREET_ADDRESS", r"083 Crosby Plaza Apt. 533\nFarleytown, MT 73436"),
        ("call 001-352-229-1080 after 5", "PHONE_NUMBER", "001-352-229-1080"),  # passes Luhn
        ("UK office (020) 7946 0616", "PHONE_NUMBER", "(020) 7946 0616"),
        ("Büro Hamburg: 04078 232688", "PHONE_NUMBER", "04078 232688"),
        ("If you need to reschedule, call us on 0141 496 0363.", "PHONE_NUMBER", "0141 496 0363"),
        ("driver's license number P831-0679-2470 (IL)", "US_DRIVER_LICENSE", "P831-0679-2470"),
        ("NY driver license # 537 990 751", "US_DRIVER_LICENSE", "537 990 751"),
        ("driver license number H7161 68281 26464, email", "US_DRIVER_LICENSE", "H7161 68281 26464"),
        ("my wifi password is Tr0ub4dor&3, it doesn't work", "PASSWORD", "Tr0ub4dor&3"),
        ("The admin login is admin / s3cretPw9, change it", "PASSWORD", "s3cretPw9"),
        ("Rechnung an Neureuthergasse 64/35, 18085 Eilenburg", "STREET_ADDRESS",
         "Neureuthergasse 64/35, 18085 Eilenburg"),
        ("Lindenstraße 12a\n10115 Berlin", "STREET_ADDRESS", "Lindenstraße 12a\n10115 Berlin"),
        ("Flat 46\nHawkins Road\nLeeds\nLS1 4AB", "STREET_ADDRESS", "Flat 46\nHawkins Road\nLeeds\nLS1 4AB"),
        ("ssh login from 54.252.253.211", "IP_ADDRESS", "54.252.253.211"),
        ("Hi Stephen,\nthanks for the update.", "PERSON", "Stephen"),
        ("Dear Arnim, your order shipped.", "PERSON", "Arnim"),
        ("Hi, I'm Regina Ho from billing", "PERSON", "Regina Ho"),
        ("From: Leah Brown <leah@example.com>", "PERSON", "Leah Brown"),
        ('{"customer_name": "Hans-Albert Ackermann", "tier": "gold"}', "PERSON", "Hans-Albert Ackermann"),
        ("Add Gene Cummings as an authorized user.", "PERSON", "Gene Cummings"),
        ('{"city": "Schwäbisch Hall", "zip": "74523"}', "LOCATION", "Schwäbisch Hall"),
        # real formats (presidio-research's labelled set): national groupings next to a phone
        # word before or just after, lowercase IBANs, licences with letters at both ends
        ("They're not answering at (88) 684-334", "PHONE_NUMBER", "(88) 684-334"),
        ("You can call 73 448 266", "PHONE_NUMBER", "73 448 266"),
        ("Tanzania 53144\n06-10446904-Office\\,001-748-088-2851x818-Fax", "PHONE_NUMBER", "06-10446904"),
        ("Tanzania 53144\n06-10446904-Office\\,001-748-088-2851x818-Fax", "PHONE_NUMBER", "001-748-088-2851x818"),
        ("Mali\n089 72 63 41 office\n166-684-7899", "PHONE_NUMBER", "089 72 63 41"),
        ("Phone: 021-4006034", "PHONE_NUMBER", "021-4006034"),
        ("my iban is gb50mvfc38361978683032", "IBAN_CODE", "gb50mvfc38361978683032"),
        ("My driver's license number is LH329609T", "US_DRIVER_LICENSE", "LH329609T"),
        ("my driver's license number is a56319335", "US_DRIVER_LICENSE", "a56319335"),
        # military addresses in lower case or with a ship named in any alphabet
        ("how do i change my address to unit 9456 box 8731\ndpo ap 71610 for post mail?",
         "STREET_ADDRESS", "unit 9456 box 8731\ndpo ap 71610"),
        ("Meet me at USCGC Kristjánsdóttir\nFPO AP 60677", "STREET_ADDRESS",
         "USCGC Kristjánsdóttir\nFPO AP 60677"),
        # a unit after a name starts the address, not the name's third word
        ("Mrs. Diana Weöres Apt. 434 40 Rue de la Sarthe 421\nHousse WLG 95697", "PERSON", "Diana Weöres"),
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
        'trace_id "145a3883-8314-4769-801f-b03cbff09726"',  # 3883-8314-4769-801 passes Luhn
        "the meeting on 2024-05-01 went well",  # a date, but no birth context
        "SSN-like 000-12-3456 is invalid",
        "Please summarize the attached report.",
        # placeholders and masks are no secrets
        "Login failed for user 'app' (password: ********). Check Vault.",
        ".env.example:\nDB_PASSWORD=<your-password>\nPASSWORD=${DB_PASSWORD}",
        "OPENAI_API_KEY=your-openai-api-key-here",
        "Note that the password is case-sensitive.",
        # four-part versions are not IP addresses
        "Bump version to 8.9.7.0",
        "Deploy 4.2.3.2 to staging",
        # English words that end like German street types; numbers that are no phones
        "Spring 2024 roadmap, Iceberg 3 in the lab",
        "Instr. 5 of the manual",
        "Meeting Notes, Team Alpha, W1 2AB",  # a postcode, but no flat or house number
        "order number 12345678901 shipped",
        "call me on 2024-05-01 at the office",  # a date next to a phone word
        "the office moved to 12.5.2024",
        "call 3 times, office hours 9-17",  # too few digits
        # greetings to no one in particular; no name after a bare preposition
        "Hello World! Thanks Again!",
        "Customer: Acme",
        "Pricing for Northwind Outfitters with Priority High",
    ],
)
def test_recognizer_leaves_alone(text: str) -> None:
    assert _found(text) == set()


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        # 13 digits that pass Luhn, grouped as a phone, and an order number
        ("call 001-352-229-1080 after 5", "CREDIT_CARD", "001-352-229-1080"),
        ("Order 019-2645748-4207346 shipped", "CREDIT_CARD", "019-2645748-4207346"),
        # a 9-digit licence on the line below "SSN" is no SSN
        ("SSN: 023-82-0163\nDL number: 537990751", "US_SSN", "537990751"),
        ("Hi, I'm Regina Ho from billing", "PERSON", "I'm Regina Ho"),
    ],
)  # fmt: skip
def test_recognizer_does_not_mistake(text: str, entity: str, value: str) -> None:
    assert (entity, value) not in _found(text)


def test_unescaped_view_keeps_offsets() -> None:
    text = r'{"args": "{\"note\": \"Oak St\nSpringfield\tIL\", \"path\": \"C:\\new\"}"}'
    view = unescaped_view(text)
    assert len(view) == len(text)
    assert '"note" :  "Oak St \nSpringfield  IL"' in view
    assert "C:\\\\new" in view  # an escaped backslash stays one: its `n` is no line break
    assert unescaped_view(view) == view
