"""The session vault: compressed, independently readable archives of sessions (issue 4, begun)."""

from memgraph_ops.vault.packs import FrameRef, VaultCorruptError, read_frame, write_pack

__all__ = ["FrameRef", "VaultCorruptError", "read_frame", "write_pack"]
