"""What an integrity check finds: the shapes `verify` in each layer fills and the CLI prints.

A `Problem` names one file (relative to the data root), says what is wrong with it and how to
repair it. Errors mean data is missing or damaged; warnings mean something needs attention but
nothing is lost (a stray pack a crashed writer left, a file that could not be checked).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Layer = Literal["hot", "lake", "vault"]
Severity = Literal["error", "warning"]
Progress = Callable[[int, int], None]
"""Called with (bytes checked, bytes to check)."""


@dataclass(frozen=True)
class Problem:
    layer: Layer
    path: str
    """The file, relative to the data root (absolute if it lies outside)."""
    what: str
    repair: str
    severity: Severity = "error"


@dataclass
class LayerReport:
    """What one layer's check looked at and found."""

    layer: Layer
    checked: dict[str, int] = field(default_factory=dict)
    """Counts of what was read: tables, files, frames, bytes…"""
    problems: list[Problem] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    """Files checked only for readability because no digest was recorded for them."""

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def count(self, key: str, n: int = 1) -> None:
        self.checked[key] = self.checked.get(key, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def counter(progress: Progress | None, total: int) -> Callable[[int], None]:
    """A callback adding checked bytes up and reporting (done, total) to `progress`."""
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    return advance


def relative(path: Path, home: Path) -> str:
    """`path` relative to the data root, or absolute if it lies outside it."""
    resolved, root = path.resolve(), home.resolve()
    if resolved.is_relative_to(root):
        return os.path.relpath(resolved, root)
    return str(resolved)
