"""The session vault: zstd archives of sessions with per-session random access."""

from memgraph_ops.errors import NotArchivedError, RestoreRefusedError, VaultCorruptError
from memgraph_ops.vault.payload import SessionRows
from memgraph_ops.vault.vault import ArchiveReport, CompactReport, RestoreResult, Vault

__all__ = [
    "ArchiveReport",
    "CompactReport",
    "NotArchivedError",
    "RestoreRefusedError",
    "RestoreResult",
    "SessionRows",
    "Vault",
    "VaultCorruptError",
]
