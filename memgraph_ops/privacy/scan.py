"""`pii scan`: run detection and redaction over `{"id", "text"}` JSONL, for users and evaluation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from memgraph_ops.errors import InputError
from memgraph_ops.privacy.redact import Redactor
from memgraph_ops.privacy.scanner import Span


@dataclass
class ScanReport:
    documents: int = 0
    skipped_lines: list[str] = field(default_factory=list)
    entities: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"documents": self.documents, "skipped_lines": self.skipped_lines,
                "entities": self.entities}  # fmt: skip


def _documents(path: Path, report: ScanReport) -> Iterator[tuple[Any, str]]:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                report.skipped_lines.append(f"line {number}: not valid JSON")
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
                report.skipped_lines.append(f"line {number}: needs a string field `text`")
                continue
            yield doc.get("id", number), doc["text"]


def scan_jsonl(
    path: Path,
    out: IO[str],
    redactor: Redactor,
    *,
    tenant: str = "default",
    batch: int = 512,
    progress: Callable[[int, int], None] | None = None,
) -> ScanReport:
    """Write one `{"id", "entities": [{"type","start","end","score"}], "redacted"}` line per
    input document; offsets are character offsets into the input text."""
    report = ScanReport()
    pending: list[tuple[Any, str]] = []

    def flush() -> None:
        results = redactor.scanner.scan([text for _, text in pending])
        for (doc_id, text), spans in zip(pending, results, strict=True):
            redacted, kept = redactor.apply(text, spans, tenant)
            out.write(json.dumps(_line(doc_id, kept, redacted), ensure_ascii=False) + "\n")
            for span in kept:
                report.entities[span.entity] = report.entities.get(span.entity, 0) + 1
        report.documents += len(pending)
        pending.clear()
        if progress:
            progress(report.documents, 0)

    for doc in _documents(path, report):
        pending.append(doc)
        if len(pending) >= batch:
            flush()
    if pending:
        flush()
    return report


def _line(doc_id: Any, spans: list[Span], redacted: str) -> dict[str, Any]:
    return {
        "id": doc_id,
        "entities": [
            {"type": s.entity, "start": s.start, "end": s.end, "score": round(s.score, 3)}
            for s in spans
        ],
        "redacted": redacted,
    }
