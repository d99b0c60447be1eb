"""A labelled evaluation set for PII and secret detection in LLM traffic, built deterministically.

`python -m benchmarks.pii_evalset [--chat 2000] [--agent 1000] [--seed 7]` writes
`benchmarks/data/pii_evalset.jsonl`, one document a line:

    {"id": "chat-00042", "kind": "chat" | "agent", "text": "...",
     "spans": [{"start": 10, "end": 22, "type": "PERSON"}, ...],
     "parts": [[0, 1830], [1832, 1901], ...], "template": "pasted_email"}

`spans` are exact character offsets of every labelled value (checked: `text[start:end]` is the
value as it appears in the text — for values inside JSON strings, its JSON-escaped form).
`parts` are the messages of an agent trace (system prompt, user turn, tool call, tool result,
assistant answer) as the redactor sees them, one text each; a chat document is one part.

Values come from Faker (en_US mostly; en_GB and de_DE for some names, addresses and phones;
de/GB/FR/NL/ES IBANs) and from generators for the secrets (random keys in each provider's format,
real base64url JWTs, PEM blocks). Templates are varied on purpose: chat messages, pasted emails and
letters, support tickets, code and config files, `.env` files, curl commands, JSON tool arguments
and results, log lines, markdown and CSV tables, git logs, SQL. About a fifth of the chat documents
are hard negatives with no personal data at all (code, version numbers like 1.2.3.4, order and
tracking numbers, UUIDs, timestamps, product names, placeholder keys, masked passwords), and the
agent system prompts are long, capitalised and free of personal data, so precision means
something.

Labelling conventions: a title ("Dr.", "Ms.") is not part of a PERSON; a STREET_ADDRESS covers the
whole postal address (street, unit, city line, postcode), over one or several lines; LOCATION is a
city, state or country named in running text (or in a `"city"` field); URL_CREDENTIALS is the
`user:password` between `://` and `@`; API_KEY, BEARER_TOKEN, PASSWORD and the AWS secret cover the
value only, never its name; DATE_OF_BIRTH and US_DRIVER_LICENSE appear only in their context.
Company names, product names, usernames, zip codes alone and non-birth dates are not labelled.
"""

# Templates are data: each stays on one line so it reads as the message it produces.
# ruff: noqa: E501

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import random
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from faker import Faker

DATA = Path(__file__).resolve().parent / "data"
EVALSET = DATA / "pii_evalset.jsonl"

Pieces = list[tuple[str, str | None]]

TYPES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "STREET_ADDRESS",
    "LOCATION",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "US_DRIVER_LICENSE",
    "DATE_OF_BIRTH",
    "URL_CREDENTIALS",
    "API_KEY",
    "JWT",
    "PRIVATE_KEY",
    "BEARER_TOKEN",
    "PASSWORD",
)

_SLOT = re.compile(r"\[\[([a-z_]+?)(\d*)\]\]")
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"
URLSAFE_PW = ALNUM + "-_.~!*"
PW_CHARS = ALNUM + "!@#$%^*-_+=?"

REAL_CITIES = [
    *"""London Paris Berlin Madrid Lisbon Dublin Amsterdam Rotterdam Brussels Vienna Zurich
    Geneva Munich Hamburg Frankfurt Milan Rome Naples Prague Warsaw Krakow Budapest Stockholm Oslo
    Copenhagen Helsinki Athens Istanbul Cairo Nairobi Lagos Johannesburg Mumbai Delhi Bangalore
    Singapore Tokyo Osaka Seoul Beijing Shanghai Sydney Melbourne Auckland Toronto Vancouver
    Montreal Chicago Boston Seattle Denver Austin Houston Dallas Atlanta Miami Phoenix Portland
    Nashville Philadelphia Baltimore Pittsburgh Minneapolis Detroit Cleveland""".split(),
    *"""New York|Los Angeles|San Francisco|San Diego|Las Vegas|Salt Lake City|Mexico City|
    Buenos Aires|Rio de Janeiro|Sao Paulo|Hong Kong|Kuala Lumpur|Tel Aviv|Cape Town|St. Louis|
    New Orleans|Kansas City""".replace("\n    ", "").split("|"),
]
US_CITIES = [
    *REAL_CITIES[REAL_CITIES.index("Chicago") : REAL_CITIES.index("Cleveland") + 1],
    *"New York|Los Angeles|San Francisco|San Diego|Las Vegas|Salt Lake City".split("|"),
]
COUNTRIES = [
    *"""Germany France Spain Italy Portugal Ireland Netherlands Belgium Austria Switzerland Poland
    Sweden Norway Denmark Finland Greece Turkey Egypt Kenya Nigeria India Japan China Singapore
    Australia Canada Mexico Brazil Argentina Chile Colombia Peru Vietnam Thailand Indonesia
    Philippines Morocco Israel""".split(),
    *"""the United States|the United Kingdom|South Africa|New Zealand|South Korea|
    the Czech Republic""".replace("\n    ", "").split("|"),
]
PRODUCTS = """MacBook Pro|iPhone 15 Pro|Galaxy S24|Pixel 8|ThinkPad X1 Carbon|Surface Laptop|
Kindle Paperwhite|AirPods Max|Visual Studio Code|Microsoft Teams|Google Sheets|PostgreSQL|
Kubernetes|Docker Desktop|GitHub Actions|Apache Kafka|Redis|Snowflake|Power BI|
Jira Service Management|Salesforce Sales Cloud|Zendesk|Premium Plan|Pro Annual Subscription|
Ultra HD Monitor|Standing Desk Pro""".replace("\n", "").split("|")


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _json_escape(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]


class Gen:
    """Value generators, one seeded random source and one seeded Faker per locale."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        for i, loc in enumerate(("en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES")):
            fake = Faker(loc)
            fake.seed_instance(seed * 100 + i)
            self.fakers[loc] = fake

    def pick_locale(self) -> str:
        return self.rng.choices(("en_US", "en_GB", "de_DE"), weights=(80, 10, 10))[0]

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def digits(self, n: int) -> str:
        return self.chars(string.digits, n)

    # --- personal data --------------------------------------------------------------------
    def person(self, loc: str) -> tuple[str, str]:
        fake = self.fakers[loc]
        first = fake.first_name()
        last = fake.last_name()
        if self.rng.random() < 0.06:
            first = f"{first} {self.rng.choice(string.ascii_uppercase)}."
        return first, last

    def email_for(self, first: str, last: str) -> str:
        fake = self.fakers["en_US"]
        f = _ascii(first.split()[0]).lower()
        la = _ascii(last).lower().replace(" ", "").replace("'", "")
        domain = self.rng.choice(
            [fake.free_email_domain(), fake.domain_name(), fake.domain_name(), "example.com"]
        )
        local = self.rng.choice(
            [f"{f}.{la}", f"{f[0]}{la}", f"{f}{la[:1]}", f"{f}_{la}{fake.random_int(1, 99)}", f]
        )
        return f"{local}@{domain}"

    def email(self) -> str:
        fake = self.fakers["en_US"]
        return self.rng.choice(
            [fake.email, fake.free_email, fake.company_email, fake.ascii_safe_email]
        )()

    def phone(self, loc: str) -> str:
        if loc == "en_US" and self.rng.random() < 0.35:
            a, b, c = self.digits(3), self.digits(3), self.digits(4)
            a = str(self.rng.randint(2, 9)) + a[1:]
            b = str(self.rng.randint(2, 9)) + b[1:]
            return self.rng.choice(
                [
                    f"+1 ({a}) {b}-{c}",
                    f"({a}) {b}-{c}",
                    f"{a}-{b}-{c}",
                    f"+1 {a} {b} {c}",
                    f"{a}.{b}.{c}",
                    f"1-{a}-{b}-{c}",
                ]
            )
        return str(self.fakers[loc].phone_number())

    def us_city_line(self) -> str:
        fake = self.fakers["en_US"]
        city = self.rng.choice([fake.city(), fake.city(), self.rng.choice(US_CITIES)])
        return f"{city}, {fake.state_abbr()} {fake.zipcode()}"

    def address_lines(self, loc: str) -> list[str]:
        fake = self.fakers[loc]
        r = self.rng.random()
        if loc != "en_US":
            return str(fake.address()).split("\n")
        if r < 0.08:
            box = self.rng.choice(["P.O. Box", "PO Box", "P.O. BOX", "Post Office Box"])
            return [f"{box} {self.rng.randint(1, 99999)}", self.us_city_line()]
        if r < 0.16:
            return [str(fake.military_apo()), f"APO {fake.military_state()} {fake.postcode()}"]
        if r < 0.2:
            return [str(fake.military_dpo()), f"DPO {fake.military_state()} {fake.postcode()}"]
        if r < 0.24:
            ship = f"{fake.military_ship()} {fake.last_name()}"
            return [ship, f"FPO {fake.military_state()} {fake.postcode()}"]
        street = str(fake.street_address())
        if self.rng.random() < 0.15 and "Apt" not in street and "Suite" not in street:
            unit = self.rng.choice(["Apt 4B", "Unit 12", "#305", "Ste 200", "Floor 3", "Apt. 17"])
            return [street, unit, self.us_city_line()]
        return [street, self.us_city_line()]

    def card(self) -> str:
        fake = self.fakers["en_US"]
        kind = self.rng.choice(["visa16", "visa16", "mastercard", "mastercard", "amex", "discover"])
        number = str(fake.credit_card_number(card_type=kind))
        style = self.rng.random()
        if style < 0.45:
            return number
        sep = " " if style < 0.8 else "-"
        if len(number) == 15:
            return sep.join((number[:4], number[4:10], number[10:]))
        return sep.join(number[i : i + 4] for i in range(0, len(number), 4))

    def iban(self) -> str:
        loc = self.rng.choice(["de_DE", "de_DE", "en_GB", "fr_FR", "nl_NL", "es_ES"])
        value = str(self.fakers[loc].iban())
        if self.rng.random() < 0.5:
            value = " ".join(value[i : i + 4] for i in range(0, len(value), 4))
        return value

    def ssn(self) -> str:
        value = str(self.fakers["en_US"].ssn())
        return value.replace("-", " ") if self.rng.random() < 0.15 else value

    def driver_license(self) -> str:
        r = self.rng
        letter = r.choice(string.ascii_uppercase)
        return r.choice(
            [
                f"{letter}{self.digits(7)}",  # CA
                f"{r.randint(1, 9)}{self.digits(8)}",  # NY
                f"{self.digits(3)} {self.digits(3)} {self.digits(3)}",  # NY, spaced
                f"{letter}{self.digits(3)}-{self.digits(3)}-{self.digits(2)}-{self.digits(3)}-{self.digits(1)}",  # FL
                f"{r.randint(1, 9)}{self.digits(7)}",  # TX, PA
                f"{letter}{self.digits(3)}-{self.digits(4)}-{self.digits(4)}",  # IL
                f"{letter}{self.digits(4)} {self.digits(5)} {self.digits(5)}",  # NJ
                f"{letter}{self.digits(12)}",  # MI, MN
            ]
        )

    def dob(self, loc: str) -> str:
        d = self.fakers["en_US"].date_between(date(1935, 1, 1), date(2007, 12, 31))
        if loc == "de_DE":
            return d.strftime("%d.%m.%Y")
        if loc == "en_GB":
            return self.rng.choice([d.strftime("%d/%m/%Y"), f"{d.day} {d:%B %Y}"])
        return self.rng.choice(
            [
                d.strftime("%m/%d/%Y"),
                d.isoformat(),
                f"{d:%B} {d.day}, {d.year}",
                f"{d:%b} {d.day}, {d.year}",
                f"{d.month}/{d.day}/{d:%y}",
            ]
        )

    def ipv4(self) -> str:
        fake = self.fakers["en_US"]
        return str(fake.ipv4_public() if self.rng.random() < 0.75 else fake.ipv4_private())

    def ipv6(self) -> str:
        value = str(self.fakers["en_US"].ipv6())
        if self.rng.random() < 0.4:  # compress the middle zeros, as humans write it
            groups = value.split(":")
            value = ":".join(groups[:3]) + "::" + groups[-1]
        return value

    def location(self, what: str) -> str:
        if what == "country":
            return self.rng.choice(COUNTRIES)
        if what == "state":
            return str(self.fakers["en_US"].state())
        if self.rng.random() < 0.25:
            return str(self.fakers[self.rng.choice(["en_US", "de_DE"])].city())
        return self.rng.choice(REAL_CITIES)

    # --- secrets --------------------------------------------------------------------------
    def password(self, url_safe: bool = False) -> str:
        alphabet = URLSAFE_PW if url_safe else PW_CHARS
        n = self.rng.randint(8, 20)
        while True:
            value = self.chars(alphabet, n)
            if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
                return value

    def openai_key(self) -> str:
        if self.rng.random() < 0.5:
            return "sk-" + self.chars(ALNUM, 48)
        head, tail = self.chars(ALNUM + "_-", 74), self.chars(ALNUM + "_-", 74)
        return f"sk-proj-{head}T3BlbkFJ{tail}"

    def aws_id(self) -> str:
        return "AKIA" + self.chars(string.ascii_uppercase + "234567", 16)

    def aws_secret(self) -> str:
        return self.chars(B64, 40)

    def github(self) -> str:
        return "ghp_" + self.chars(ALNUM, 36)

    def slack(self) -> str:
        return f"xoxb-{self.digits(12)}-{self.digits(13)}-{self.chars(ALNUM, 24)}"

    def google(self) -> str:
        return "AIza" + self.chars(ALNUM + "_-", 35)

    def stripe(self) -> str:
        return "sk_live_" + self.chars(ALNUM, self.rng.choice([24, 99]))

    def api_key(self) -> str:
        return self.rng.choice(
            [self.openai_key, self.aws_id, self.github, self.slack, self.google, self.stripe]
        )()

    def jwt(self) -> str:
        fake = self.fakers["en_US"]
        header = {"alg": self.rng.choice(["HS256", "RS256"]), "typ": "JWT"}
        payload = {
            "sub": str(self.rng.randint(10**6, 10**9)),
            "name": fake.name(),
            "iat": self.rng.randint(1_600_000_000, 1_750_000_000),
        }
        if self.rng.random() < 0.5:
            payload["scope"] = "read:orders write:orders"

        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        signature = bytes(
            self.rng.getrandbits(8) for _ in range(32 if header["alg"] == "HS256" else 64)
        )
        return ".".join(
            (b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature))
        )

    def pem(self) -> str:
        kind = self.rng.choice(
            [
                "RSA PRIVATE KEY",
                "PRIVATE KEY",
                "EC PRIVATE KEY",
                "OPENSSH PRIVATE KEY",
                "ENCRYPTED PRIVATE KEY",
            ]
        )
        size = self.rng.choice([121, 300, 600, 900])
        body = base64.b64encode(bytes(self.rng.getrandbits(8) for _ in range(size))).decode()
        width = 70 if kind.startswith("OPENSSH") else 64
        lines = [body[i : i + width] for i in range(0, len(body), width)]
        return "\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"])

    def bearer(self) -> str:
        return self.rng.choice(
            [
                lambda: "ya29.a0" + self.chars(ALNUM + "_-", self.rng.randint(60, 120)),
                lambda: self.chars(ALNUM, self.rng.choice([32, 40, 64])),
                lambda: "gho_" + self.chars(ALNUM, 36),
                lambda: self.chars(ALNUM + "-_", 43),
                lambda: "EAAB" + self.chars(ALNUM, 100),
            ]
        )()

    # --- unlabelled filler ----------------------------------------------------------------
    def company(self) -> str:
        return str(self.fakers["en_US"].company())

    def order(self) -> str:
        r = self.rng
        return r.choice(
            [
                f"{r.randint(100000, 99999999)}",
                f"A{self.digits(7)}",
                f"ORD-{self.digits(6)}",
                f"{self.digits(3)}-{self.digits(7)}-{self.digits(7)}",
                f"INV-2024-{self.digits(5)}",
            ]
        )

    def version(self) -> str:
        r = self.rng
        return r.choice(
            [
                f"{r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 20)}",
                f"{r.randint(1, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}.{r.randint(0, 9)}",
                f"{r.randint(1, 4)}.{r.randint(0, 12)}.{r.randint(0, 9)}.{r.randint(100, 9999)}",
            ]
        )

    def timestamp(self) -> str:
        dt = self.fakers["en_US"].date_time_between(datetime(2024, 1, 1), datetime(2025, 12, 31))
        return self.rng.choice(
            [
                dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                dt.strftime("%Y-%m-%d %H:%M:%S"),
                dt.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            ]
        )

    def date(self) -> str:
        d = self.fakers["en_US"].date_between(date(2025, 1, 1), date(2026, 12, 31))
        return self.rng.choice([d.isoformat(), f"{d:%B} {d.day}, {d.year}", d.strftime("%m/%d/%Y")])

    def sha(self) -> str:
        return self.chars("0123456789abcdef", 40)

    def uuid(self) -> str:
        return str(self.fakers["en_US"].uuid4())

    def amount(self) -> str:
        return f"{self.rng.randint(5, 4999)}.{self.rng.randint(0, 99):02d}"

    def username(self) -> str:
        return str(self.fakers["en_US"].user_name())

    def host(self) -> str:
        return self.rng.choice(
            [
                str(self.fakers["en_US"].domain_name()),
                "db.internal",
                "localhost",
                f"prod-db-{self.rng.randint(1, 9)}.cluster-{self.chars(string.ascii_lowercase, 8)}.us-east-1.rds.amazonaws.com",
                "cluster0.x1y2z.mongodb.net",
            ]
        )


class Doc:
    """One document under construction: text, gold spans, and per-slot values (a slot used
    twice in one document, e.g. a name in the greeting and the signature, has one value)."""

    def __init__(self, gen: Gen, template: str) -> None:
        self.gen = gen
        self.template = template
        self.loc = gen.pick_locale()
        self.chunks: list[str] = []
        self.spans: list[dict[str, Any]] = []
        self.parts: list[list[int]] = []
        self.length = 0
        self.values: dict[str, Pieces] = {}
        self.people: dict[str, tuple[str, str, str]] = {}

    # building
    def add(self, text: str, kind: str | None = None) -> None:
        if kind is not None and text:
            end = self.length + len(text)
            self.spans.append({"start": self.length, "end": end, "type": kind, "value": text})
        self.chunks.append(text)
        self.length += len(text)

    def fill(self, template: str, escape: Callable[[str], str] | None = None) -> Doc:
        pieces = _SLOT.split(template)
        for i in range(0, len(pieces), 3):
            self.add(pieces[i])
            if i + 1 < len(pieces):
                for text, kind in self.slot(pieces[i + 1], pieces[i + 2]):
                    self.add(escape(text) if escape else text, kind)
        return self

    def json(self, obj: Any, indent: int | None = None, level: int = 0) -> Doc:
        pad = "" if indent is None else "\n" + " " * (indent * (level + 1))
        end = "" if indent is None else "\n" + " " * (indent * level)
        if isinstance(obj, dict):
            if not obj:
                self.add("{}")
                return self
            self.add("{")
            for n, (key, value) in enumerate(obj.items()):
                self.add(("," if n else "") + (pad if indent is not None else (" " if n else "")))
                self.add(json.dumps(key) + ": ")
                self.json(value, indent, level + 1)
            self.add(end + "}")
        elif isinstance(obj, list):
            self.add("[")
            for n, value in enumerate(obj):
                self.add(("," if n else "") + (pad if indent is not None else (" " if n else "")))
                self.json(value, indent, level + 1)
            self.add(end + "]")
        elif isinstance(obj, str):
            self.add('"')
            self.fill(_json_escape(obj), _json_escape)
            self.add('"')
        else:
            self.add(json.dumps(obj))
        return self

    def part(self, build: Callable[[Doc], Any]) -> None:
        """One message of an agent trace."""
        if self.parts:
            self.add("\n\n")
        start = self.length
        build(self)
        self.parts.append([start, self.length])

    def text(self) -> str:
        return "".join(self.chunks)

    # values
    def _person(self, idx: str) -> tuple[str, str, str]:
        if idx not in self.people:
            loc = self.loc if idx in ("", "1") else self.gen.pick_locale()
            first, last = self.gen.person(loc)
            self.people[idx] = (first, last, loc)
        return self.people[idx]

    def slot(self, kind: str, idx: str) -> Pieces:
        key = kind + idx
        if key not in self.values:
            self.values[key] = self._make(kind, idx)
        return self.values[key]

    def _make(self, kind: str, idx: str) -> Pieces:
        g, rng = self.gen, self.gen.rng
        loc = self.people[idx][2] if idx in self.people else self.loc
        match kind:
            case "name":
                first, last, _ = self._person(idx)
                return [(f"{first} {last}", "PERSON")]
            case "first":
                return [(self._person(idx)[0], "PERSON")]
            case "last":
                return [(self._person(idx)[1], "PERSON")]
            case "lname":
                first, last, _ = self._person(idx)
                return [(f"{first} {last}".lower(), "PERSON")]
            case "email":
                if rng.random() < 0.6:
                    first, last, _ = self._person(idx)
                    return [(g.email_for(first, last), "EMAIL_ADDRESS")]
                return [(g.email(), "EMAIL_ADDRESS")]
            case "phone":
                return [(g.phone(loc), "PHONE_NUMBER")]
            case "usphone":
                return [(g.phone("en_US"), "PHONE_NUMBER")]
            case "intlphone":
                return [(g.phone(rng.choice(["en_GB", "de_DE"])), "PHONE_NUMBER")]
            case "addr":
                return [(", ".join(g.address_lines(loc)), "STREET_ADDRESS")]
            case "addrml":
                return [("\n".join(g.address_lines(loc)), "STREET_ADDRESS")]
            case "usaddr":
                return [(", ".join(g.address_lines("en_US")), "STREET_ADDRESS")]
            case "street":
                return [(str(g.fakers["en_US"].street_address()), "STREET_ADDRESS")]
            case "pobox":
                line = f"{rng.choice(['P.O. Box', 'PO Box'])} {rng.randint(1, 9999)}"
                return [
                    (f"{line}{rng.choice([', ', chr(10)])}{g.us_city_line()}", "STREET_ADDRESS")
                ]
            case "military":
                fake = g.fakers["en_US"]
                head = rng.choice(
                    [fake.military_apo(), fake.military_dpo(), f"USS {fake.last_name()}"]
                )
                post = "FPO" if head.startswith("USS") else rng.choice(["APO", "DPO"])
                sep = rng.choice(["\n", ", ", " "])
                return [
                    (
                        f"{head}{sep}{post} {fake.military_state()} {fake.postcode()}",
                        "STREET_ADDRESS",
                    )
                ]
            case "city" | "country" | "state":
                return [(g.location(kind), "LOCATION")]
            case "place":
                return [(g.location(rng.choice(["city", "city", "country"])), "LOCATION")]
            case "card":
                return [(g.card(), "CREDIT_CARD")]
            case "iban":
                return [(g.iban(), "IBAN_CODE")]
            case "ip":
                return [(g.ipv4(), "IP_ADDRESS")]
            case "ipv":
                return [(g.ipv6(), "IP_ADDRESS")]
            case "ssn":
                return [(g.ssn(), "US_SSN")]
            case "dl":
                return [(g.driver_license(), "US_DRIVER_LICENSE")]
            case "dob":
                return [(g.dob(loc), "DATE_OF_BIRTH")]
            case "urlcred":
                scheme = rng.choice(
                    [
                        "postgresql",
                        "postgres",
                        "mysql",
                        "mongodb+srv",
                        "redis",
                        "amqp",
                        "https",
                        "ftp",
                    ]
                )
                user = rng.choice(["admin", "app", "postgres", "root", "svc_etl", g.username()])
                ip_host = rng.random() < 0.15
                host = g.ipv4() if ip_host else g.host()
                port = {
                    "postgresql": ":5432",
                    "postgres": ":5432",
                    "mysql": ":3306",
                    "redis": ":6379",
                    "amqp": ":5672",
                }.get(scheme, "")
                tail = {"https": "/org/repo.git", "ftp": "/uploads/"}.get(
                    scheme, f"/{rng.choice(['app', 'prod', 'analytics', '0'])}"
                )
                return [
                    (f"{scheme}://", None),
                    (f"{user}:{g.password(url_safe=True)}", "URL_CREDENTIALS"),
                    ("@", None),
                    (host, "IP_ADDRESS" if ip_host else None),
                    (f"{port}{tail}", None),
                ]
            case "openai":
                return [(g.openai_key(), "API_KEY")]
            case "awsid":
                return [(g.aws_id(), "API_KEY")]
            case "awssecret":
                return [(g.aws_secret(), "API_KEY")]
            case "ghp":
                return [(g.github(), "API_KEY")]
            case "slack":
                return [(g.slack(), "API_KEY")]
            case "google":
                return [(g.google(), "API_KEY")]
            case "stripe":
                return [(g.stripe(), "API_KEY")]
            case "apikey":
                return [(g.api_key(), "API_KEY")]
            case "jwt":
                return [(g.jwt(), "JWT")]
            case "pem":
                return [(g.pem(), "PRIVATE_KEY")]
            case "bearer":
                return [(g.bearer(), "BEARER_TOKEN")]
            case "pw":
                return [(g.password(), "PASSWORD")]
            case "svcemail":
                project = f"{g.fakers['en_US'].word()}-prod-{rng.randint(1000, 9999)}"
                return [
                    (
                        f"{rng.choice(['etl-runner', 'ci-deployer', 'svc-sync'])}@{project}.iam.gserviceaccount.com",
                        "EMAIL_ADDRESS",
                    )
                ]
            case "company":
                return [(g.company(), None)]
            case "order":
                return [(g.order(), None)]
            case "version":
                return [(g.version(), None)]
            case "ts":
                return [(g.timestamp(), None)]
            case "date":
                return [(g.date(), None)]
            case "sha":
                return [(g.sha(), None)]
            case "uuid":
                return [(g.uuid(), None)]
            case "amount":
                return [(g.amount(), None)]
            case "user":
                return [(g.username(), None)]
            case "host":
                return [(g.host(), None)]
            case "product":
                return [(rng.choice(PRODUCTS), None)]
            case "zip":
                return [(str(g.fakers["en_US"].zipcode()), None)]
        raise KeyError(f"unknown slot kind {kind!r}")


# --- chat templates: (name, weight, build) -------------------------------------------------


def _t(*variants: str) -> Callable[[Doc], Any]:
    return lambda d: d.fill(d.gen.rng.choice(variants))


CHAT: list[tuple[str, float, Callable[[Doc], Any]]] = []


def chat(name: str, weight: float = 1.0) -> Callable[[Callable[[Doc], Any]], Callable[[Doc], Any]]:
    def register(build: Callable[[Doc], Any]) -> Callable[[Doc], Any]:
        CHAT.append((name, weight, build))
        return build

    return register


chat("intro")(
    _t(
        "Hi, I'm [[name]] and I need help updating my account. My email is [[email]] and my phone is [[phone]].",
        "Hello! My name is [[name]]. You can reach me at [[email]] or call [[phone]] after 5pm.",
        "This is [[name]] from [[company]]. Please send the contract to [[email]].",
        "Can you draft a polite follow-up to [[name]] ([[email]])? We spoke on Tuesday about the renewal.",
        "Write a short bio for [[name]], a product designer based in [[city]] who moved from [[country]] in 2019.",
    )
)
chat("address_change")(
    _t(
        "Please update my shipping address to [[addr]]. The old one was [[addr2]].",
        "I moved! New address:\n[[addrml]]\nCan you change it on order [[order]]?",
        "Ship the replacement to [[addr]], attention [[name]].",
        "My billing address is [[addr]] but the package should go to my office at [[usaddr2]].",
    )
)
chat("pasted_email", 2)(
    _t(
        "Can you help me reply to this email? Keep it short.\n\n---\nFrom: [[name]] <[[email]]>\nTo: [[name2]] <[[email2]]>\nSubject: Re: [[product]] order [[order]]\n\nHi [[first2]],\n\nThanks for getting back to me. The [[product]] arrived damaged and I'd like a replacement. I'm in [[city]] until Friday, then back home.\n\nBest regards,\n[[name]]\n[[company]]\n[[addrml]]\nTel: [[phone]]\n---",
        "Summarize this thread:\n\nOn [[date]], [[name]] <[[email]]> wrote:\n> Hi team, please add [[name2]] to the distribution list, her address is [[email2]].\n> Cheers, [[first]]\n\nSure, done. -- [[name3]]",
        "Translate to German:\n\nDear [[first]],\n\nYour appointment is confirmed for [[date]] at our [[city]] office. If you need to reschedule, call us on [[phone]].\n\nKind regards,\n[[name2]]",
        "Please proofread:\n\nDear Mr. [[last]],\n\nFurther to our call, I enclose the signed lease for the flat at [[addr]]. The deposit will be paid from IBAN [[iban]].\n\nYours sincerely,\n[[name2]]\n[[addrml2]]",
    )
)
chat("support_ticket", 2)(
    _t(
        "Ticket #[[order]]\nCustomer: [[name]]\nEmail: [[email]]\nPhone: [[phone]]\nAddress:\n[[addrml]]\n\nIssue: I was charged twice for [[product]]. The card used was [[card]].",
        "**New support request**\n- Name: [[name]]\n- Contact: [[email]] / [[phone]]\n- Location: [[city]], [[country]]\n- Summary: cannot log in since the [[version]] update, error code E-4012.",
        "Customer [[name]] called from [[phone]] about invoice [[order]]. She asked us to email the receipt to [[email]] and confirmed her address as [[addr]].",
    )
)
chat("payment", 4)(
    _t(
        "My card [[card]] was declined at checkout, expiry 04/27. Billing address is [[addr]].",
        "Why was [[card]] charged $[[amount]] on [[date]]? I never ordered anything.",
        "Please refund order [[order]] to the Visa ending 4242, or to IBAN [[iban]] (account holder [[name]]).",
        "card number: [[card]] exp 11/26 cvv 123 name on card [[name]]",
    )
)
chat("bank_transfer", 3)(
    _t(
        "Bitte überweisen Sie den Betrag auf das Konto IBAN [[iban]], Kontoinhaber [[name]], bis zum Monatsende.",
        "Send the deposit to [[name]], IBAN: [[iban]], reference [[order]].",
        "Our new bank details: IBAN [[iban]] / BIC DEUTDEFFXXX. Please update your records, [[first2]].",
    )
)
chat("kyc", 5)(
    _t(
        "Name: [[name]]\nDate of Birth: [[dob]]\nSSN: [[ssn]]\nDriver's License: [[dl]]\nAddress: [[addr]]\nPhone: [[phone]]",
        "Fill this form for me: full name [[name]], DOB [[dob]], social security number [[ssn]], driver license number [[dl]], email [[email]].",
        "Applicant [[name]] (born [[dob]]) lives at [[addr]]. SSN [[ssn]]. Verify the driver's license [[dl]] against the DMV record.",
        "I was born on [[dob]] in [[city]] and my license no. is [[dl]]. Is that enough to open an account?",
    )
)
chat("travel")(
    _t(
        "I'm flying from [[city]] to [[city2]] next week, then on to [[country]]. Any tips for the layover?",
        "Plan a 5-day itinerary in [[city]] for two people who love food and museums.",
        "We are relocating our team from [[city]] to [[city2]]. What are the tax implications in [[country]]?",
        "what's the weather usually like in [[city]] in october? my sister lives in [[state]].",
    )
)
chat("markdown_table")(
    lambda d: d.fill(
        "Convert this to JSON:\n\n| Name | Email | Phone | City |\n|---|---|---|---|\n"
        + "".join(
            f"| [[name{i}]] | [[email{i}]] | [[phone{i}]] | [[city{i}]] |\n"
            for i in range(1, d.gen.rng.randint(2, 5))
        )
    )
)
chat("csv")(
    lambda d: d.fill(
        "Find duplicates in this CSV:\n\nname,email,phone,street\n"
        + "".join(
            f"[[name{i}]],[[email{i}]],[[phone{i}]],[[street{i}]]\n"
            for i in range(1, d.gen.rng.randint(3, 6))
        )
    )
)
chat("sql")(
    _t(
        "Is this query safe?\n\nINSERT INTO customers (name, email, phone, dob) VALUES ('[[name]]', '[[email]]', '[[phone]]', '[[dob]]');",
        "UPDATE users SET email = '[[email]]', address = '[[addr]]' WHERE id = 4412; -- requested by [[name]]",
    )
)
chat("git_log")(
    _t(
        "What changed here?\n\ncommit [[sha]]\nAuthor: [[name]] <[[email]]>\nDate:   Tue Mar 5 14:22:10 2024 +0100\n\n    Fix race condition in [[product]] cache\n\ncommit [[sha2]]\nAuthor: [[name2]] <[[email2]]>\nDate:   Mon Mar 4 09:01:44 2024 +0100\n\n    Bump version to [[version]]",
    )
)
chat("lowercase")(
    _t(
        "hey its [[lname]] here, my number is [[phone]] call me when the driver is close",
        "hi im [[lname]] and i live in [[city]], can u help me write a cover letter",
        "pls send the invoice to [[email]] thx",
    )
)
chat("letter")(
    _t(
        "Dear Ms. [[last]],\n\nThank you for your application. We would like to invite you to an interview in our [[city]] office.\n\nSincerely,\n[[name2]]\nHead of Recruiting, [[company]]\n[[addrml2]]",
        "Rewrite this cover letter to sound more confident:\n\n[[name]]\n[[addrml]]\n[[phone]] | [[email]]\n\nDear Hiring Manager,\nI am excited to apply for the Data Analyst role at [[company]]...",
    )
)
chat("shipping_label")(
    _t(
        "Ship to:\n[[name]]\n[[addrml]]\n\nReturn address:\n[[company]]\n[[pobox2]]",
        "Can I send a care package to my son? His address is [[military]].",
        "Deliver to [[name]], [[pobox]]. Leave at the front desk if nobody answers.",
    )
)
chat("resume")(
    _t(
        "Improve my resume header:\n\n[[name]]\n[[city]], [[state]] · [[phone]] · [[email]]\nlinkedin.com/in/[[user]]\n\nSenior Software Engineer with 8 years of experience in Python, Go and Kubernetes.",
    )
)
chat("employee")(
    _t(
        "Employee [[name]] (DOB [[dob]]) lives in [[city]]; emergency contact [[name2]], [[phone]].",
        "Onboarding checklist for [[first]] [[last]]: laptop shipped to [[addr]], badge photo pending, start date [[date]].",
        "Patient [[name]], date of birth [[dob]], phone [[phone]]. Summarize the visit notes below.",
    )
)
chat("intl_contacts")(
    _t(
        "Call me on [[intlphone]] or WhatsApp [[intlphone2]] — I'm in [[city]] this week.",
        "Our German partner [[name]] can be reached at [[intlphone]], office in [[city]].",
    )
)
chat("ip_logs", 1.5)(
    _t(
        "Why am I seeing these?\n\n[[ts]] sshd[2211]: Failed password for invalid user admin from [[ip]] port 52144 ssh2\n[[ts2]] sshd[2214]: Failed password for root from [[ip2]] port 40022 ssh2\n[[ts3]] sshd[2220]: Accepted publickey for deploy from [[ip3]] port 51515 ssh2",
        '[[ip]] - - [[[ts]]] "GET /api/v1/orders/[[order]] HTTP/1.1" 200 512 "-" "Mozilla/5.0"\n[[ip2]] - - [[[ts2]]] "POST /login HTTP/1.1" 401 73 "-" "curl/8.4.0"',
        "Please whitelist our office IPs [[ip]] and [[ip2]], and the IPv6 address [[ipv]].",
        "my ip is [[ip]] and I still can't reach the server, traceroute stops at [[ip2]]",
        'ERROR [[ts]] request_id=[[uuid]] client=[[ip]] user=[[email]] msg="rate limit exceeded"',
    )
)
chat("code_aws", 1.5)(
    _t(
        'Why does this fail with AccessDenied?\n\n```python\nimport boto3\n\nAWS_ACCESS_KEY_ID = "[[awsid]]"\nAWS_SECRET_ACCESS_KEY = "[[awssecret]]"\n\ns3 = boto3.client("s3", aws_access_key_id=AWS_ACCESS_KEY_ID,\n                  aws_secret_access_key=AWS_SECRET_ACCESS_KEY)\nprint(s3.list_buckets())\n```',
        "~/.aws/credentials:\n\n[default]\naws_access_key_id = [[awsid]]\naws_secret_access_key = [[awssecret]]\nregion = us-east-1\n\nis this format right?",
    )
)
chat("env_file", 1.5)(
    _t(
        "Here's my .env, why doesn't it load?\n\n```\nOPENAI_API_KEY=[[openai]]\nDATABASE_URL=[[urlcred]]\nSTRIPE_SECRET_KEY=[[stripe]]\nSLACK_BOT_TOKEN=[[slack]]\nDEBUG=true\nLOG_LEVEL=info\n```",
        "export GITHUB_TOKEN=[[ghp]]\nexport GOOGLE_MAPS_KEY=[[google]]\n./deploy.sh --env staging\n\nThe script says the token is invalid.",
        'config.py:\n\nOPENAI_API_KEY = "[[openai]]"\nDB_PASSWORD = "[[pw]]"\nREDIS_URL = "[[urlcred]]"',
    )
)
chat("curl", 1.5)(
    _t(
        'curl -X POST https://api.[[host]]/v1/charges \\\n  -H "Authorization: Bearer [[bearer]]" \\\n  -H \'Content-Type: application/json\' \\\n  -d \'{"amount": 2000, "currency": "usd"}\'\n\nreturns 401, why?',
        "GET /v2/orders HTTP/1.1\nHost: api.shop.example\nAuthorization: Bearer [[bearer]]\nUser-Agent: python-requests/2.31.0\nX-Request-ID: [[uuid]]\n\nThe response is 403.",
        '```python\nheaders = {"Authorization": "Bearer [[bearer]]", "Accept": "application/json"}\nresp = requests.get("https://api.github.com/user", headers=headers, timeout=10)\n```',
        'curl https://api.openai.com/v1/models -H "Authorization: Bearer [[openai]]"',
    )
)
chat("jwt")(
    _t(
        "Why is this token rejected? [[jwt]] — the error says the signature expired at [[ts]].",
        "Decode this JWT for me: [[jwt]]",
        "Cookie: session=[[jwt]]; theme=dark",
        "Authorization: Bearer [[jwt]]\n\nIs the 'scope' claim right?",
    )
)
chat("pem")(
    _t(
        "I get 'invalid format' when loading this key with paramiko [[version]]:\n\n[[pem]]\n\nWhat's wrong?",
        "Add this deploy key to the server:\n```\n[[pem]]\n```",
    )
)
chat("service_account")(
    lambda d: (
        d.fill("Why does auth fail with this service account file?\n\n"),
        d.json(
            {
                "type": "service_account",
                "project_id": "analytics-prod-4412",
                "private_key_id": "[[sha]]",
                "private_key": "[[pem]]",
                "client_email": "[[svcemail]]",
                "client_id": "104729384756102938475",
                "token_uri": "https://oauth2.googleapis.com/token",
            },
            indent=2,
        ),
    )
)
chat("connection_string", 1.5)(
    _t(
        "Server=tcp:myserver.database.windows.net,1433;Initial Catalog=app;User ID=[[user]];Password=[[pw]];Encrypt=True;\n\nThis connection string times out. Ideas?",
        'engine = create_engine("[[urlcred]]")\n\nthrows OperationalError: could not translate host name',
        "git clone [[urlcred]] fails with 403",
        'psql "host=db.internal port=5432 dbname=prod user=[[user]] password=[[pw]] sslmode=require"',
        "jdbc:mysql://db.internal:3306/shop?user=app&password=[[pw]]&useSSL=true",
    )
)
chat("yaml_config", 1.5)(
    _t(
        "database:\n  host: db.internal\n  port: 5432\n  user: app\n  password: [[pw]]\nredis:\n  url: [[urlcred]]\nlogging:\n  level: INFO",
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: app\n      POSTGRES_PASSWORD: [[pw]]\n  api:\n    environment:\n      STRIPE_KEY: [[stripe]]",
        "spring.datasource.url=jdbc:postgresql://db.internal:5432/app\nspring.datasource.username=app\nspring.datasource.password=[[pw]]",
    )
)
chat("natural_password")(
    _t(
        "my wifi password is [[pw]] but it doesn't work on the new router",
        "The admin login is admin / [[pw]], please change it after the demo.",
    )
)
chat("js_keys")(
    _t(
        "const MAPS_KEY = '[[google]]';\nconst map = new google.maps.Map(document.getElementById('map'), { zoom: 8 });",
        'stripe.api_key = "[[stripe]]"\ncharge = stripe.Charge.create(amount=2000, currency="usd")',
        "const client = new WebClient('[[slack]]');\nawait client.chat.postMessage({ channel: '#deploys', text: 'done' });",
    )
)
chat("tool_args_json", 2)(
    lambda d: d.gen.rng.choice(
        [
            lambda: d.json(
                {
                    "tool": "send_email",
                    "arguments": {
                        "to": "[[email]]",
                        "cc": ["[[email2]]"],
                        "subject": "Your order [[order]]",
                        "body": "Hi [[first]],\nyour order ships tomorrow to [[addrml]].\nThanks!",
                    },
                },
                indent=2,
            ),
            lambda: d.json(
                {
                    "name": "create_contact",
                    "arguments": {
                        "full_name": "[[name]]",
                        "email": "[[email]]",
                        "phone": "[[phone]]",
                        "city": "[[city]]",
                    },
                }
            ),
            lambda: d.json(
                {
                    "name": "charge_card",
                    "arguments": {
                        "card_number": "[[card]]",
                        "amount": 49.99,
                        "currency": "USD",
                        "cardholder": "[[name]]",
                    },
                },
                indent=2,
            ),
            lambda: d.json(
                {
                    "function": "lookup_user",
                    "parameters": {
                        "ssn": "[[ssn]]",
                        "date_of_birth": "[[dob]]",
                        "last_name": "[[last]]",
                    },
                }
            ),
            lambda: d.json(
                {
                    "tool": "http_request",
                    "args": {
                        "method": "GET",
                        "url": "https://api.[[host]]/v1/me",
                        "headers": {"Authorization": "Bearer [[bearer]]"},
                    },
                },
                indent=2,
            ),
            lambda: d.json(
                {
                    "tool_call": "run_sql",
                    "input": {
                        "dsn": "[[urlcred]]",
                        "query": "SELECT count(*) FROM orders WHERE created_at > now() - interval '1 day'",
                    },
                }
            ),
        ]
    )()
)
chat("api_response_json", 1.5)(
    lambda d: (
        d.fill("Explain this API response:\n\n"),
        d.json(
            {
                "user": {
                    "id": "[[uuid]]",
                    "name": "[[name]]",
                    "email": "[[email]]",
                    "phone": "[[phone]]",
                    "address": {"street": "[[street]]", "city": "[[city]]", "zip": "[[zip]]"},
                    "dob": "[[dob]]",
                    "ip": "[[ip]]",
                    "created_at": "[[ts]]",
                }
            },
            indent=2,
        ),
    )
)
chat("slack_json")(
    lambda d: d.json(
        {
            "token": "[[slack]]",
            "channel": "C024BE91L",
            "text": "Deploy [[version]] finished",
            "as_user": True,
        }
    )
)
chat("meeting")(
    _t(
        "Summarize: [[name]] met with [[name2]] in [[city]] to discuss the [[product]] rollout. [[first2]] will follow up by email ([[email2]]).",
        "Notes from the call with [[name]] and [[name2]]: budget approved, pilot in [[country]] starts [[date]].",
        "Can you schedule a meeting with [[name]] and [[name2]] next Tuesday? Their numbers are [[phone]] and [[phone2]].",
    )
)

# --- hard negatives (no personal data) -------------------------------------------------------
chat("neg_code", 2)(
    _t(
        'Why does this raise KeyError?\n\n```python\nfrom collections import OrderedDict\nfrom dataclasses import dataclass\n\n@dataclass\nclass CacheEntry:\n    Key: str\n    Value: bytes\n\nclass LRUCache(OrderedDict):\n    """Least Recently Used cache with a Maximum Size."""\n    def __init__(self, MaxSize: int = 128) -> None:\n        super().__init__()\n        self.MaxSize = MaxSize\n\n    def Get(self, Key):\n        Value = self[Key]  # KeyError when missing\n        self.move_to_end(Key)\n        return Value\n```',
        "Refactor this:\n\n```typescript\nexport class OrderService {\n  constructor(private readonly Http: HttpClient, private Logger: LoggerService) {}\n  async GetOrder(Id: string): Promise<Order> {\n    const Response = await this.Http.get<Order>(`/api/orders/${Id}`);\n    this.Logger.Info('Fetched Order', { Id, Status: Response.Status });\n    return Response;\n  }\n}\n```",
        "Explain the difference between `asyncio.gather` and `asyncio.TaskGroup` in Python 3.11. Use Example Code.",
        '```go\nfunc (s *Server) HandleLogin(w http.ResponseWriter, r *http.Request) {\n\tToken := r.Header.Get("Authorization")\n\tif Token == "" {\n\t\thttp.Error(w, "Missing Authorization Header", http.StatusUnauthorized)\n\t\treturn\n\t}\n}\n```\nIs this idiomatic Go?',
    )
)
chat("neg_explain", 2)(
    _t(
        "Sure! Here's a quick overview. Kubernetes schedules Pods onto Nodes; a Deployment manages ReplicaSets, and a Service gives them a stable Virtual IP. Helm Charts package all of this. Prometheus scrapes Metrics, and Grafana draws Dashboards.",
        "Absolutely. Unfortunately the Free Tier does not include Single Sign-On. Meanwhile, the Enterprise Plan adds Audit Logs, SCIM Provisioning and a dedicated Customer Success Manager.",
        "Great question! Retrieval-Augmented Generation (RAG) combines a Vector Store with a Large Language Model. First, Documents are split into Chunks; Then each Chunk is embedded; Finally, the Top-K Chunks are added to the Prompt.",
        "Certainly. In Excel, use XLOOKUP instead of VLOOKUP; Power Query can merge the Sheets, and Pivot Tables summarise Revenue by Region and Quarter.",
        "Here are three Names for a coffee shop: Bean There, Daily Grind, and Brew Haven. Which one fits a Scandinavian minimalist style?",
    )
)
chat("neg_versions", 1.5)(
    _t(
        "We upgraded the agent from [[version]] to [[version2]] and the firmware to 4.2.1.0; build 10.0.22631.2861 still crashes. Node v20.11.1, npm 10.2.4.",
        "Release notes for v[[version]]:\n- Fixed Memory Leak in Parser\n- Bumped OpenSSL to 3.0.13\n- Dropped Python 3.8 support\nSee CHANGELOG.md for 1.2.3.4 → 1.2.4.0 changes.",
        "pip install numpy==1.26.4 pandas==2.2.1 torch==2.2.0+cu121 -- ERROR: No matching distribution found for torch==2.2.0+cu121",
        "Step 3/12 : RUN pip install -r requirements.txt\n ---> Running in 3f2a1b9c8d7e\nSuccessfully built [[sha]]\nSuccessfully tagged registry.internal/api:[[version]]",
    )
)
chat("neg_orders", 1.5)(
    _t(
        "Order #[[order]] placed on [[date]] shipped via UPS, tracking 1Z999AA10123456784, total $[[amount]]. When will it arrive?",
        "Invoice [[order]] (PO 4500012345) for $[[amount]] is overdue since [[date]]. Reference: [[uuid]].",
        "The RMA number is RMA-[[order]], serial SN-8842-1190-3341, warranty until [[date]].",
        "Request [[uuid]] took 1532 ms at [[ts]]; trace id 4bf92f3577b34da6a3ce929d0e0e4736, span 00f067aa0ba902b7.",
    )
)
chat("neg_config", 1.5)(
    _t(
        '{"model": "gpt-4o", "temperature": 0.2, "max_tokens": 1024, "api_key": "${OPENAI_API_KEY}", "timeout": 30}',
        ".env.example:\nOPENAI_API_KEY=your-openai-api-key-here\nDATABASE_URL=postgresql://localhost:5432/app\nDB_PASSWORD=<your-password>\n",
        "Login failed for user 'app' (password: ********). Check the credentials in Vault.",
        'api_key = os.environ["OPENAI_API_KEY"]\nclient = OpenAI(api_key=api_key)',
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: checkout-api\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n        - name: api\n          image: registry.internal/checkout:[[version]]\n          envFrom:\n            - secretRef:\n                name: checkout-secrets",
    )
)
chat("neg_business", 1.5)(
    _t(
        "Revenue grew 12.5% to $4,512,300 in Q3; EBITDA margin 18.2%. Draft a LinkedIn Post announcing it, mention our new [[product]] line.",
        "Standup moved to 10:30 on Tuesday. Sprint 42 Review on [[date]]; Retro right after. Please update Jira Tickets before Thursday.",
        "Compare the [[product]] and the [[product2]] for a Small Business with 20 Employees. Budget is $[[amount]] per Month.",
        "Table 3 shows Section 4.2 results: Accuracy 0.913, F1 0.887, AUC 0.951 on 12,480 samples (Seed 42).",
    )
)


# --- agent traces --------------------------------------------------------------------------

_TOOLS_A = json.dumps(
    [
        {
            "name": "lookup_customer",
            "description": "Find a customer by email, phone or order number.",
            "parameters": {
                "type": "object",
                "properties": {
                    "email": {"type": "string"},
                    "phone": {"type": "string"},
                    "order_id": {"type": "string"},
                },
            },
        },
        {
            "name": "update_address",
            "description": "Replace the shipping address on an open order.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}, "address": {"type": "string"}},
                "required": ["order_id", "address"],
            },
        },
        {
            "name": "issue_refund",
            "description": "Refund an order to the original payment method.",
            "parameters": {
                "type": "object",
                "properties": {
                    "order_id": {"type": "string"},
                    "amount": {"type": "number"},
                    "reason": {
                        "type": "string",
                        "enum": ["Damaged", "Late", "Wrong Item", "Other"],
                    },
                },
            },
        },
        {
            "name": "create_ticket",
            "description": "Escalate to a Human Agent in Tier 2 Support.",
            "parameters": {
                "type": "object",
                "properties": {
                    "summary": {"type": "string"},
                    "priority": {"type": "string", "enum": ["Low", "Normal", "High", "Urgent"]},
                },
            },
        },
    ],
    indent=2,
)

SYSTEM_PROMPTS = [
    "You are Atlas, the customer support assistant for Northwind Outfitters, an online retailer of outdoor gear.\n\n"
    "## Goals\n1. Resolve order, shipping and refund questions in as few turns as possible.\n2. Never invent order numbers, tracking numbers or policies.\n"
    "3. Escalate to Tier 2 support when the customer is angry, mentions legal action, or asks for a manager.\n\n"
    "## Rules\n- Always verify the customer's identity with the `lookup_customer` tool before changing anything.\n"
    "- Refunds above $500 need approval: create a ticket with priority High.\n- Shipping addresses may only be changed while the order status is Processing.\n"
    "- Do not repeat payment details back to the customer; refer to the card by its brand only (Visa, Mastercard, Amex).\n- Respond in the customer's language; default to English.\n"
    "- Keep answers under 120 words unless the customer asks for detail.\n- Use Markdown lists for steps; never use tables.\n\n"
    "## Return policy (summary)\nItems can be returned within 30 days of delivery in original condition. Final sale items, gift cards and custom orders are excluded. "
    "Return shipping is free for members of the Trailhead Rewards program. Exchanges are processed as a return plus a new order.\n\n"
    f'## Tools\n{_TOOLS_A}\n\nWhen you call a tool, reply with a single JSON object {{"tool": <name>, "arguments": {{...}}}} and nothing else.',
    "You are a senior data engineering copilot embedded in the analytics platform team's Slack workspace.\n"
    "You help engineers write SQL for Snowflake and DuckDB, debug Airflow DAGs, and review dbt models.\n\n"
    "Guidelines:\n* Prefer CTEs over nested subqueries. Use snake_case for column names.\n* Never run DELETE, DROP or TRUNCATE without an explicit confirmation from the user.\n"
    "* When a query touches the PII schema (customers, payments, addresses), remind the user of data handling policy DH-7 and suggest the masked views in ANALYTICS.SAFE.\n"
    "* Explain query plans in plain English: scans, joins, aggregations, spills.\n* If a test fails in CI, ask for the full log before guessing.\n"
    "* Cost awareness: warehouses above size LARGE need approval in the #finops channel.\n\n"
    "Available tools:\n- run_sql(dsn, query): runs a read-only query and returns at most 200 rows.\n- get_dag_run(dag_id, run_id): returns task states and log URLs.\n"
    "- search_docs(query): searches Confluence and the dbt docs site.\n- http_request(method, url, headers, body): calls internal APIs.\n\n"
    "Output format: start with a one-line answer, then details. Put SQL in fenced code blocks tagged sql. "
    "Cite Confluence pages by title. Versions: platform release 2024.11.3, dbt-core 1.8.7, Airflow 2.9.3, Snowflake connector 3.12.1.\n\n"
    "Example interaction:\nUser: How many orders shipped last week?\nAssistant: About 18,400.\n```sql\nSELECT count(*) FROM ANALYTICS.SAFE.ORDERS WHERE SHIPPED_AT >= dateadd(day, -7, current_date);\n```",
    "You are Meridian Health's scheduling assistant. You book, move and cancel appointments for patients of the Riverside Clinic network.\n\n"
    "Compliance:\n- Treat every patient detail as protected health information under HIPAA. Do not store it outside the scheduling system.\n"
    "- Confirm the patient's full name and date of birth before sharing any appointment details.\n- Never give medical advice. For symptoms, suggest calling the nurse line or, in an emergency, 911.\n\n"
    "Booking rules:\n- New patient visits are 40 minutes; follow-ups are 20 minutes; telehealth slots start on the hour.\n"
    "- Cardiology and Dermatology need a referral on file. Pediatrics sees patients under 18 only.\n"
    "- Cancellations less than 24 hours ahead incur a fee unless the clinic cancels.\n- Offer the three earliest slots, then ask which one the patient prefers.\n\n"
    "Tools: find_patient(name, dob), list_slots(department, from_date, to_date), book(patient_id, slot_id), cancel(appointment_id, reason).\n"
    "Tool results are JSON. Summarise them; never paste raw JSON to the patient.\n\n"
    'Tone: warm, clear, brief. Use the patient\'s first name once they are verified. Sign off with "Riverside Scheduling Team".\n\n'
    "Department directory: Cardiology (building A, floor 3), Dermatology (building B, floor 1), Pediatrics (building C), Radiology (building A, basement), Physical Therapy (annex).",
    "SYSTEM: You are an autonomous DevOps agent with shell and HTTP access to the staging environment.\n\n"
    "OBJECTIVE: Keep the staging cluster healthy, apply approved changes, and report what you did.\n\n"
    "CONSTRAINTS:\n1. Never touch production. Production hosts match *.prod.* and are blocked by policy anyway.\n"
    "2. Read secrets from Vault only; never echo them into logs or chat.\n3. Every change needs a change request ID (CR-XXXX) in the commit message.\n"
    "4. Roll back automatically if the error rate exceeds 2% for 5 minutes after a deploy.\n5. Maximum 20 tool calls per task; then stop and summarise.\n\n"
    "TOOLS:\n- shell(cmd): runs in a sandbox container (Ubuntu 22.04, kubectl 1.29, helm 3.14, terraform 1.7).\n- http(method, url, headers, body)\n"
    "- read_file(path), write_file(path, content)\n- vault_read(path)\n\n"
    "REPORT FORMAT:\n## Summary\n## Actions taken\n## Verification\n## Follow-ups\n\n"
    "KNOWN ISSUES:\n- The ingress controller restarts when ConfigMap nginx-conf changes; wait 60 seconds before checking.\n"
    "- Grafana dashboards lag Prometheus by about 30 seconds.\n- Node pool B uses spot instances and may disappear; reschedule pods with kubectl drain --ignore-daemonsets.",
    "You are Quill, a writing assistant for the marketing team at Lumen Analytics.\n\n"
    "Brand voice: confident, plain-spoken, optimistic. Avoid jargon like synergy, leverage, paradigm. Use Oxford commas. Headlines in Title Case; body in sentence case.\n\n"
    "You can: draft blog posts, LinkedIn posts, newsletters and customer emails; rewrite copy for a given audience; summarise call notes into action items; translate between English, German, French and Spanish.\n\n"
    "You must not: make claims about customers without a signed case study; mention competitors by name; promise features on the roadmap; publish anything (a human approves every draft).\n\n"
    "When the user pastes an email or notes, keep names and contact details exactly as given in the output; the compliance pipeline redacts them downstream.\n\n"
    'Product names: Lumen Insights, Lumen Pulse, Lumen Connect. Pricing tiers: Starter, Growth, Enterprise. Current campaign: "See Further" (Q4).\n\n'
    "Formatting: Markdown; H2 for sections; at most 3 bullet lists per draft; end emails with a clear call to action.",
]

AGENT_USER = [
    "Hi, I'm [[name]]. My order [[order]] hasn't arrived and I moved to [[addr]] last week.",
    "please change the delivery address for order [[order]] to [[addrml]] — thanks, [[first]]",
    "Can you look up the account for [[email]]? The customer says her phone is [[phone]].",
    "How many orders did we ship to [[country]] last month? Use the prod replica.",
    "The dag `customer_sync` failed again, log says auth error for [[email]]",
    "I'd like to book a follow-up for [[name]], born [[dob]], in Cardiology next week.",
    "Reschedule my appointment please, this is [[name]], DOB [[dob]], phone [[phone]].",
    "Deploy api [[version]] to staging and check the error rate.",
    "The webhook to our CRM returns 401 since yesterday, can you check?",
    "Draft a thank-you email to [[name]] at [[company]] for hosting us in [[city]].",
    "Summarise these call notes: [[name]] ([[email]]) wants a demo for 40 seats; follow up with [[name2]] in [[city]].",
    "Why is revenue down in Q3? Break it down by region.",
]


def _agent_call(d: Doc) -> None:
    rng = d.gen.rng
    choice = rng.randrange(8)
    if choice == 0:
        d.json(
            {"tool": "lookup_customer", "arguments": {"email": "[[email]]", "phone": "[[phone]]"}}
        )
    elif choice == 1:
        d.json(
            {
                "tool": "update_address",
                "arguments": {"order_id": "[[order]]", "address": "[[addrml]]"},
            }
        )
    elif choice == 2:
        d.json(
            {
                "tool": "run_sql",
                "arguments": {
                    "dsn": "[[urlcred]]",
                    "query": "SELECT region, count(*) FROM orders WHERE shipped_at >= date_trunc('month', now()) GROUP BY 1",
                },
            }
        )
    elif choice == 3:
        d.json(
            {
                "tool": "http_request",
                "arguments": {
                    "method": "POST",
                    "url": "https://crm.[[host]]/api/v2/contacts",
                    "headers": {
                        "Authorization": "Bearer [[bearer]]",
                        "Content-Type": "application/json",
                    },
                    "body": {"email": "[[email]]", "name": "[[name]]"},
                },
            },
            indent=2,
        )
    elif choice == 4:
        d.json({"tool": "find_patient", "arguments": {"name": "[[name]]", "dob": "[[dob]]"}})
    elif choice == 5:
        d.json(
            {
                "tool": "shell",
                "arguments": {
                    "cmd": "AWS_ACCESS_KEY_ID=[[awsid]] AWS_SECRET_ACCESS_KEY=[[awssecret]] aws s3 ls s3://staging-artifacts/"
                },
            }
        )
    elif choice == 6:
        d.json({"tool": "vault_read", "arguments": {"path": "secret/staging/api"}})
    else:
        d.json(
            {
                "tool": "send_email",
                "arguments": {
                    "to": "[[email]]",
                    "subject": "Thank you",
                    "body": "Dear [[first]],\nthank you for hosting us in [[city]].\nBest,\n[[name2]]",
                },
            },
            indent=2,
        )


def _agent_result(d: Doc) -> None:
    rng = d.gen.rng
    choice = rng.randrange(6)
    if choice == 0:
        d.json(
            {
                "status": "ok",
                "customer": {
                    "id": "[[uuid]]",
                    "name": "[[name]]",
                    "email": "[[email]]",
                    "phone": "[[phone]]",
                    "shipping_address": "[[addrml]]",
                    "card_brand": "Visa",
                    "card_last4": "4242",
                    "member_since": "[[date]]",
                },
            },
            indent=2,
        )
    elif choice == 1:
        d.json(
            {
                "rows": [
                    {"region": "EMEA", "count": 18422},
                    {"region": "AMER", "count": 30117},
                    {"region": "APAC", "count": 9921},
                ],
                "elapsed_ms": 412,
            }
        )
    elif choice == 2:
        d.json(
            {
                "data": {
                    "api_key": "[[openai]]",
                    "db_password": "[[pw]]",
                    "jwt_signing_key": "[[pem]]",
                },
                "lease_duration": 3600,
            }
        )
    elif choice == 3:
        d.json(
            {
                "patient": {
                    "id": "P-[[order]]",
                    "name": "[[name]]",
                    "date_of_birth": "[[dob]]",
                    "phone": "[[phone]]",
                    "address": "[[addr]]",
                },
                "slots": ["[[ts]]", "[[ts2]]"],
            },
            indent=2,
        )
    elif choice == 4:
        d.json(
            {
                "error": "401 Unauthorized",
                "request": {
                    "url": "https://crm.[[host]]/api/v2/contacts",
                    "client_ip": "[[ip]]",
                    "token": "[[jwt]]",
                },
                "trace_id": "[[uuid]]",
            }
        )
    else:
        d.fill(
            "exit code 0\n2024-11-18 10:02:11 staging-artifacts/api-[[version]].tar.gz\n2024-11-18 10:05:43 staging-artifacts/web-[[version2]].tar.gz\n"
        )


def _agent_answer(d: Doc) -> None:
    d.fill(
        d.gen.rng.choice(
            [
                "Thanks, [[first]]! I've updated the order. You'll get a confirmation at [[email]] shortly.",
                "Done. The address on order [[order]] is now:\n[[addrml]]",
                "I found the account. It belongs to [[name]] in [[city]]; I won't share more details here.",
                "Here's the breakdown: AMER 30,117, EMEA 18,422, APAC 9,921. EMEA is down 12% Month over Month.",
                "## Summary\nDeployed api [[version]] to Staging.\n## Verification\nError Rate 0.3% after 5 Minutes.\n## Follow-Ups\nNone.",
                "Your follow-up is booked, [[first]]. We'll text a reminder to [[phone]] the day before.",
            ]
        )
    )


def _build_chat(gen: Gen, n: int) -> Iterator[dict[str, Any]]:
    weights = [w for _, w, _ in CHAT]
    for i in range(n):
        name, _, build = gen.rng.choices(CHAT, weights=weights)[0]
        doc = Doc(gen, name)
        build(doc)
        yield _finish(doc, f"chat-{i:05d}", "chat", [[0, doc.length]])


def _build_agent(gen: Gen, n: int) -> Iterator[dict[str, Any]]:
    prompt_weights = (35, 25, 20, 12, 8)
    for i in range(n):
        doc = Doc(gen, "agent_trace")
        prompt = gen.rng.choices(SYSTEM_PROMPTS, weights=prompt_weights)[0]
        user = gen.rng.choice(AGENT_USER)
        doc.part(lambda d, p=prompt: d.add(p))
        doc.part(lambda d, u=user: d.fill(u))
        doc.part(_agent_call)
        doc.part(_agent_result)
        if gen.rng.random() < 0.7:
            doc.part(_agent_answer)
        yield _finish(doc, f"agent-{i:05d}", "agent", doc.parts)


def _finish(doc: Doc, ident: str, kind: str, parts: list[list[int]]) -> dict[str, Any]:
    text = doc.text()
    spans = sorted(doc.spans, key=lambda s: s["start"])
    for span in spans:  # gold values are exact
        assert text[span["start"] : span["end"]] == span.pop("value"), (ident, span)
    for a, b in itertools.pairwise(spans):
        assert a["end"] <= b["start"], (ident, a, b)
    return {
        "id": ident,
        "kind": kind,
        "template": doc.template,
        "text": text,
        "spans": spans,
        "parts": parts,
    }


def build(chat_docs: int = 2000, agent_docs: int = 1000, seed: int = 7) -> list[dict[str, Any]]:
    """The evaluation set, deterministic for a given seed (and Faker version)."""
    gen = Gen(seed)
    return [*_build_chat(gen, chat_docs), *_build_agent(gen, agent_docs)]


def write(docs: list[dict[str, Any]], path: Path = EVALSET) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for doc in docs:
            handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def load(path: Path = EVALSET) -> list[dict[str, Any]]:
    """The evaluation set; built with the default parameters first if it does not exist."""
    if not path.exists():
        write(build(), path)
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def describe(docs: list[dict[str, Any]]) -> str:
    spans = Counter(s["type"] for d in docs for s in d["spans"])
    chars = Counter()
    for d in docs:
        for s in d["spans"]:
            chars[s["type"]] += s["end"] - s["start"]
    kinds = Counter(d["kind"] for d in docs)
    size = {k: sum(len(d["text"]) for d in docs if d["kind"] == k) for k in kinds}
    lines = [f"{kinds[k]} {k} docs, {size[k] / 1e6:.2f} MB" for k in sorted(kinds)]
    lines += [f"  {t:<18} {spans[t]:>6} spans {chars[t]:>8} chars" for t in TYPES]
    negatives = sum(1 for d in docs if not d["spans"])
    lines.append(f"  documents without any PII: {negatives}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.pii_evalset", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--chat", type=int, default=2000)
    parser.add_argument("--agent", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=EVALSET)
    args = parser.parse_args(argv)
    docs = build(args.chat, args.agent, args.seed)
    write(docs, args.out)
    print(f"wrote {args.out}")
    print(describe(docs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
