"""Package attributes imported on first use (PEP 562), so that importing one light module of a
package (the CLI's parser, `memgraph_ops.errors`) does not import its heavy siblings."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` giving each name from its module (`names`: name → module,
    with `name:attr` when the attribute has another name there)."""

    def getattr_(name: str) -> Any:
        where = names.get(name)
        if where is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attr = where.partition(":")
        value = getattr(importlib.import_module(module), attr or name)
        setattr(importlib.import_module(package), name, value)
        return value

    return getattr_
