"""Redaction before the lake: Presidio/spaCy detection, our recognizers, keyed pseudonyms.

The names below are imported on first use: `memgraph_ops.privacy.pseudonyms` alone must not
load Presidio and spaCy (seconds), which only detection needs."""

from typing import TYPE_CHECKING

from memgraph_ops._lazy import exports

if TYPE_CHECKING:
    from memgraph_ops.privacy.leaks import find_leaks
    from memgraph_ops.privacy.pseudonyms import Pseudonymizer, generate_key
    from memgraph_ops.privacy.redact import PrivacyConfig, PrivacyPolicy, Redactor
    from memgraph_ops.privacy.redaction import Redaction
    from memgraph_ops.privacy.scanner import Scanner, Span

__getattr__ = exports(
    __name__,
    {
        "find_leaks": "memgraph_ops.privacy.leaks",
        "Pseudonymizer": "memgraph_ops.privacy.pseudonyms",
        "generate_key": "memgraph_ops.privacy.pseudonyms",
        **{
            n: "memgraph_ops.privacy.redact" for n in ("PrivacyConfig", "PrivacyPolicy", "Redactor")
        },
        "Redaction": "memgraph_ops.privacy.redaction",
        "Scanner": "memgraph_ops.privacy.scanner",
        "Span": "memgraph_ops.privacy.scanner",
    },
)

__all__ = [
    "PrivacyConfig",
    "PrivacyPolicy",
    "Pseudonymizer",
    "Redaction",
    "Redactor",
    "Scanner",
    "Span",
    "find_leaks",
    "generate_key",
]
