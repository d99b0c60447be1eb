"""What an erasure needs of a data root, as Protocols.

Erasure spans every layer, so it takes them as arguments rather than importing the facade
(which imports erasure): `memgraph_ops.Memgraph` satisfies `Layers` structurally, and so does
any root whose store is another `HotStore` (the HTTP client of `memgraph-ops serve` mirrors
these methods with plain JSON arguments and results).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from memgraph_ops.config import Settings
    from memgraph_ops.lake import Lake, Redactor
    from memgraph_ops.store import SubjectRows
    from memgraph_ops.vault import Vault


class HotStore(Protocol):
    """The operational store's erasure operations (`memgraph_ops.store.Store` has them)."""

    def tenants(self) -> list[str]: ...

    def subject_sessions(self, user_ids: list[str], tenant: str | None) -> list[str]: ...

    def subject_texts(self, rows: SubjectRows) -> list[tuple[str | None, str]]: ...

    def find_subject(self, rows: SubjectRows) -> dict[str, Any]: ...

    def erase_subject(self, rows: SubjectRows, *, re_redact: bool) -> dict[str, Any]: ...

    def places(self, needles: list[str]) -> list[str]: ...

    def rewrite_file(self) -> int: ...


class Layers(Protocol):
    """A data root's settings and layers, as an erasure uses them."""

    @property
    def settings(self) -> Settings: ...

    @property
    def lake(self) -> Lake: ...

    @property
    def vault(self) -> Vault: ...

    def existing_store(self) -> HotStore | None:
        """The store if it is open or its file exists (opening it); never creates one."""
        ...

    def open_store(self) -> HotStore | None:
        """The store if it is open already (opening nothing)."""
        ...

    def redactor(self) -> Redactor:
        """The redaction applied before the lake (its detection finds typed identifiers)."""
        ...
