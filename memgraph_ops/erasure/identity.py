"""What an erasure looks for: the subject's clear values, pseudonym tokens and sessions.

In the lake and vault a person appears only through keyed pseudonyms: `user_id` is the token
`<USER_ID:…>` of the clear user id, and emails, phones, names and addresses typed in text are
tokens `<ENTITY:…>`. Tokens are recomputed here for every tenant (or the request's tenant) and
every entity type an identifier could have been recognised as; searches use the 12 hex digits
of each token (`digests`), which match however the surrounding text was escaped.

An erasure by user also collects the identifiers the user typed into their own sessions while
those were still raw in HOT (`identifiers_in`: an email, a phone number, a full name), before
deleting them: they are `found`, searched and verified like stated identifiers, but never taken
for user ids (a third party's email mentioned by the subject must not make that party's
sessions the subject's).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from memgraph_ops.erasure.request import Subject
from memgraph_ops.privacy.pseudonyms import Pseudonymizer
from memgraph_ops.privacy.redact import DEFAULT_ENTITIES, Redactor

USER_ENTITY = "USER_ID"

SUBJECT_ENTITIES = frozenset(
    {"EMAIL_ADDRESS", "PHONE_NUMBER", "PERSON", "STREET_ADDRESS", "CREDIT_CARD", "IBAN_CODE",
     "US_SSN"}
)  # fmt: skip
"""Entity types collected from the subject's own rows: values that name one person. Places,
dates, IP addresses and secrets are left out: as clear needles they match unrelated text
(`Paris`, `2024-01-01`, `10.0.0.1` inside `10.0.0.12`) and would re-redact or fail on other
people's data."""
MIN_FOUND_LENGTH = 6
"""Shorter values are no identifier worth a substring search of the whole data root."""


@dataclass
class Identity:
    """A subject resolved against the data: what to search for and which sessions are theirs."""

    subject: Subject
    tenants: list[str]
    user_ids: list[str]
    """Clear values that may be a Session's `user_id` (HOT keeps it in clear)."""
    clear: list[str]
    """Clear values to find in raw text (HOT, and lakes kept without redaction)."""
    user_tokens: list[str]
    tokens: list[str]
    """Every pseudonym token of the subject's values (user tokens included)."""
    sessions: list[str] = field(default_factory=list)
    """The subject's own sessions: erased whole, everywhere."""
    node_ids: list[str] = field(default_factory=list)
    """Ids of the nodes of those sessions: edges touching them go too, session or not."""
    found: list[str] = field(default_factory=list)
    """Identifiers collected from the subject's own raw rows (in `clear` and `tokens` too)."""

    @property
    def digests(self) -> list[str]:
        return sorted({t.rsplit(":", 1)[1].rstrip(">") for t in self.tokens})

    @property
    def needles(self) -> list[str]:
        """What must not remain anywhere: clear values (as typed and lower-cased) and digests."""
        return sorted(set(self.clear) | set(self.digests))

    @property
    def token_pattern(self) -> str | None:
        """A regex matching the subject's tokens in text, capturing the entity type."""
        if not self.tokens:
            return None
        return r"<([A-Z_]+):(?:" + "|".join(self.digests) + r")>"

    @property
    def clear_pattern(self) -> str | None:
        if not self.clear:
            return None
        return "|".join(re.escape(v) for v in sorted(self.clear, key=len, reverse=True))


def resolve(
    subject: Subject, pseudonyms: Pseudonymizer, tenants: list[str], found: Sequence[str] = ()
) -> Identity:
    """The clear values and tokens of `subject` in `tenants` (sessions are found later), with
    the `found` identifiers of their own rows."""
    scope = [subject.tenant] if subject.tenant else sorted(set(tenants))
    values = [subject.value.strip(), *(v.strip() for v in subject.identifiers)]
    user_ids = [] if subject.kind == "session" else values
    found = sorted({v.strip() for v in found} - set(values) - {""})
    clear = sorted({form for v in [*values, *found] for form in (v, v.lower())})
    user_tokens = sorted({pseudonyms.subject(t, u) for t in scope for u in user_ids})
    identifiers = [*(values if subject.kind == "identifier" else values[1:]), *found]
    tokens = sorted(
        set(user_tokens)
        | {
            pseudonyms.token(t, entity, v)
            for t in scope
            for v in identifiers
            for entity in DEFAULT_ENTITIES
        }
    )
    return Identity(subject, scope, user_ids, clear, user_tokens, tokens, found=found)


def with_found(identity: Identity, found: Iterable[str], pseudonyms: Pseudonymizer) -> Identity:
    """`identity` with more identifiers found in the subject's rows (sessions kept)."""
    more = resolve(identity.subject, pseudonyms, identity.tenants, [*identity.found, *found])
    more.sessions, more.node_ids = identity.sessions, identity.node_ids
    return more


def identifiers_in(texts: Iterable[tuple[str | None, str]], redactor: Redactor) -> list[str]:
    """The identifiers of a person in the texts of their own rows (`(tenant, text)` pairs), as
    redaction finds them: the same scanner, each tenant's policy (entities, threshold, allow
    list), restricted to `SUBJECT_ENTITIES`; a name counts only with two words or more (a first
    name alone names nobody and, searched as a substring, matches ordinary words)."""
    pairs = [(tenant, text) for tenant, text in texts if text and text.strip()]
    if not pairs:
        return []
    found: set[str] = set()
    spans = redactor.scanner.scan([text for _, text in pairs])
    for (tenant, text), hits in zip(pairs, spans, strict=True):
        policy = redactor.config.policy(tenant)
        for span in hits:
            if span.entity not in SUBJECT_ENTITIES or not policy.keep(span, text):
                continue
            value = text[span.start : span.end].strip()
            if len(value) < MIN_FOUND_LENGTH:
                continue
            if span.entity == "PERSON" and len(value.split()) < 2:
                continue
            found.add(value)
    return sorted(found)
