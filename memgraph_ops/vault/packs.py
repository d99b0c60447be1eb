"""Vault pack files: independent zstd frames, each readable alone by (pack, offset, length).

A pack is the concatenation of zstd frames, one per archived session, each written with a content
checksum, optionally compressed with a trained dictionary. The index (kept elsewhere, e.g. a Delta
table) stores for each frame: pack name, byte offset, byte length, sha256 of the frame bytes and
the dictionary id. A frame is read back by seeking to its offset and decompressing exactly its
bytes: `zstandard.decompress()` of concatenated frames silently returns only the first one, so the
reader never hands it more than one frame.

Packs are written whole to a temporary file and renamed into place (atomic on POSIX): a crash
leaves either no pack or a complete one, never half a pack that an index entry points into.

Format, decodable without this code: each frame is a standard zstd frame (RFC 8878) with the
content-checksum flag set; `zstd -d` (with `-D dict` if the index names a dictionary) decodes a
frame cut out with `dd if=PACK bs=1 skip=OFFSET count=LENGTH`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import zstandard

from memgraph_ops.errors import MemgraphError

LEVEL = 19
"""Archives are written once and read rarely: spend CPU on size."""


class VaultCorruptError(MemgraphError):
    """A frame does not match its checksum or cannot be decompressed."""


@dataclass(frozen=True)
class FrameRef:
    """Where one frame lives: enough to read and verify it without reading anything else."""

    pack: str
    offset: int
    length: int
    sha256: str
    dictionary_id: int


def train_dictionary(
    samples: Sequence[bytes], *, size: int = 112_640
) -> zstandard.ZstdCompressionDict:
    """A zstd dictionary trained on sample frames' contents (repeated system prompts, tool
    schemas): small sessions then compress like a corpus while staying independent."""
    return zstandard.train_dictionary(size, list(samples))


def write_pack(
    path: Path,
    payloads: Sequence[bytes],
    *,
    dictionary: zstandard.ZstdCompressionDict | None = None,
    level: int = LEVEL,
) -> list[FrameRef]:
    """Write `payloads` as one frame each into a new pack at `path`, atomically.

    Returns one `FrameRef` per payload, in order. Refuses to overwrite an existing pack: a pack
    is immutable once an index may point into it.
    """
    if path.exists():
        raise FileExistsError(f"pack {path} exists; packs are immutable")
    compressor = zstandard.ZstdCompressor(
        level=level, write_checksum=True, write_content_size=True, dict_data=dictionary
    )
    dictionary_id = dictionary.dict_id() if dictionary is not None else 0
    refs: list[FrameRef] = []
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    offset = 0
    with open(tmp, "wb") as handle:
        for payload in payloads:
            frame = compressor.compress(payload)
            handle.write(frame)
            refs.append(
                FrameRef(
                    path.name, offset, len(frame), hashlib.sha256(frame).hexdigest(), dictionary_id
                )
            )
            offset += len(frame)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return refs


def read_frame(
    directory: Path,
    ref: FrameRef,
    *,
    dictionary: zstandard.ZstdCompressionDict | None = None,
) -> bytes:
    """Read, verify (sha256 of the frame, then zstd's content checksum) and decompress one frame.

    Raises VaultCorruptError naming the pack and offset if either check fails.
    """
    where = f"pack {ref.pack} at offset {ref.offset} (length {ref.length})"
    with open(directory / ref.pack, "rb") as handle:
        handle.seek(ref.offset)
        frame = handle.read(ref.length)
    if len(frame) != ref.length or hashlib.sha256(frame).hexdigest() != ref.sha256:
        raise VaultCorruptError(f"{where}: the frame's bytes do not match its checksum")
    if ref.dictionary_id and (dictionary is None or dictionary.dict_id() != ref.dictionary_id):
        raise VaultCorruptError(f"{where}: needs dictionary {ref.dictionary_id}")
    decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)
    try:
        return decompressor.decompress(frame)
    except zstandard.ZstdError as exc:
        raise VaultCorruptError(f"{where}: cannot decompress: {exc}") from exc
