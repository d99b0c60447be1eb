"""Redaction before the lake: Presidio/spaCy detection, our recognizers, keyed pseudonyms."""

from memgraph_ops.privacy.leaks import find_leaks
from memgraph_ops.privacy.pseudonyms import Pseudonymizer, generate_key
from memgraph_ops.privacy.redact import PrivacyConfig, PrivacyPolicy, Redaction, Redactor
from memgraph_ops.privacy.scanner import Scanner, Span

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
