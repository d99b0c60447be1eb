"""The shared real labelled PII set (`../shared/data/pii/`, from microsoft/presidio-research),
as documents of the evaluation's format (`benchmarks.pii_evalset`).

Its labels are mapped, not the data: `ADDRESS` (a street address) -> STREET_ADDRESS; PERSON,
LOCATION, PHONE_NUMBER, EMAIL_ADDRESS, CREDIT_CARD, IBAN_CODE, US_SSN, IP_ADDRESS and
US_DRIVER_LICENSE as they are. Not scored (neither hit nor false positive, see
`benchmarks.pii_eval`): DATE_TIME (any date, where our type is a date of birth), ORGANIZATION,
DOMAIN_NAME, TITLE (a job title) and PREFIX ("Mr."). Record 56 of `generated_small.json` has a
PERSON span off by one; it is kept (a robustness case).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pii"
FILES = ("generated_large.json", "generated_small.json")
LABELS = {
    "ADDRESS": "STREET_ADDRESS",
    "PERSON": "PERSON",
    "LOCATION": "LOCATION",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN_CODE",
    "US_SSN": "US_SSN",
    "IP_ADDRESS": "IP_ADDRESS",
    "US_DRIVER_LICENSE": "US_DRIVER_LICENSE",
}
UNSCORED = frozenset({"DATE_TIME", "ORGANIZATION", "DOMAIN_NAME", "TITLE", "PREFIX"})


def paths(root: Path = SHARED) -> list[Path]:
    found = [root / name for name in FILES]
    missing = [str(p) for p in found if not p.exists()]
    if missing:
        raise SystemExit(f"the shared labelled PII set is missing: {', '.join(missing)}")
    return found


def load(root: Path = SHARED) -> list[dict[str, Any]]:
    """Every record as one document of one part (the whole text, analysed on its own)."""
    docs = []
    for path in paths(root):
        for n, record in enumerate(json.loads(path.read_text(encoding="utf-8"))):
            text = record["full_text"]
            spans = []
            for span in record["spans"]:
                label = span["entity_type"]
                if label in UNSCORED:
                    continue
                if label not in LABELS:
                    raise ValueError(f"{path.name} record {n}: unknown label {label!r}")
                start, end = span["start_position"], span["end_position"]
                spans.append({"type": LABELS[label], "start": start, "end": end})
            docs.append(
                {
                    "id": f"{path.stem}-{n}",
                    "kind": "real",
                    "template": f"template-{record.get('template_id')}",
                    "text": text,
                    "parts": [[0, len(text)]],
                    "spans": spans,
                }
            )
    return docs
