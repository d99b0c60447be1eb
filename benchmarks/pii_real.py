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
import re
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


CHATS = SHARED.parent / "chats" / "hh-rlhf-harmless-test.jsonl"
TRACES = SHARED.parent / "agent-traces"
_TURN = re.compile(r"\n\n(?:Human|Assistant): ")


def chat_messages(path: Path = CHATS) -> list[list[str]]:
    """Real chats (hh-rlhf `chosen` transcripts): per conversation, its messages."""
    conversations = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                turns = [t for t in _TURN.split(json.loads(line)["chosen"]) if t.strip()]
                conversations.append(turns)
    return conversations


def agent_messages(root: Path = TRACES) -> list[list[str]]:
    """Real agent traces: per SWE-agent trajectory its `history` message contents, per
    OpenHands event stream its events' messages and observations (texts of one event each)."""
    traces = []
    for path in sorted(root.rglob("*.traj")):
        history = json.loads(path.read_text(encoding="utf-8")).get("history", [])
        traces.append([_text(m.get("content")) for m in history if _text(m.get("content"))])
    for path in sorted(root.rglob("*.json*")):
        if path.suffix == ".jsonl":
            records = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
        else:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            records = loaded if isinstance(loaded, list) else [loaded]
        texts = [t for r in records for t in _event_texts(r)]
        if texts:
            traces.append(texts)
    return traces


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _event_texts(record: Any) -> list[str]:
    if not isinstance(record, dict):
        return []
    if "history" in record and isinstance(record["history"], list):  # an evaluation output
        return [t for event in record["history"] for t in _event_texts(event)]
    texts = [record.get(k) for k in ("message", "content")]
    return [t for t in texts if isinstance(t, str) and t.strip()]
