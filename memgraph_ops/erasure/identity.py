"""What an erasure looks for: the subject's clear values, pseudonym tokens and sessions.

In the lake and vault a person appears only through keyed pseudonyms: `user_id` is the token
`<USER_ID:…>` of the clear user id, and emails, phones, names and addresses typed in text are
tokens `<ENTITY:…>`. Tokens are recomputed here for every tenant (or the request's tenant) and
every entity type an identifier could have been recognised as; searches use the 12 hex digits
of each token (`digests`), which match however the surrounding text was escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from memgraph_ops.erasure.request import Subject
from memgraph_ops.privacy.pseudonyms import Pseudonymizer
from memgraph_ops.privacy.redact import DEFAULT_ENTITIES

USER_ENTITY = "USER_ID"


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


def resolve(subject: Subject, pseudonyms: Pseudonymizer, tenants: list[str]) -> Identity:
    """The clear values and tokens of `subject` in `tenants` (sessions are found later)."""
    scope = [subject.tenant] if subject.tenant else sorted(set(tenants))
    values = [subject.value.strip(), *(v.strip() for v in subject.identifiers)]
    user_ids = [] if subject.kind == "session" else values
    clear = sorted({form for v in values for form in (v, v.lower())})
    user_tokens = sorted({pseudonyms.subject(t, u) for t in scope for u in user_ids})
    identifiers = values if subject.kind == "identifier" else values[1:]
    tokens = sorted(
        set(user_tokens)
        | {
            pseudonyms.token(t, entity, v)
            for t in scope
            for v in identifiers
            for entity in DEFAULT_ENTITIES
        }
    )
    return Identity(subject, scope, user_ids, clear, user_tokens, tokens)
