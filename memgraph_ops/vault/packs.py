"""Vault pack files: independent zstd frames, each readable alone by (pack, offset, length).

A pack is the concatenation of zstd frames (each holding one or more archived sessions and shared
blocks; the index says which bytes of the decompressed frame are whose), each written with a
content checksum, optionally compressed with a trained dictionary. The index (kept elsewhere,
e.g. a Delta table) stores for each frame: pack name, byte offset, byte length, sha256 of the
frame bytes and the dictionary id. A frame is read back by seeking to its offset and
decompressing exactly its bytes: `zstandard.decompress()` of concatenated frames silently
returns only the first one, so the reader never hands it more than one frame.

Packs are written whole to a temporary file and renamed into place (atomic on POSIX): a crash
leaves either no pack or a complete one, never half a pack that an index entry points into.

Format, decodable without this code: each frame is a standard zstd frame (RFC 8878) with the
content-checksum flag set; `zstd -d` (with `-D dict` if the index names a dictionary) decodes a
frame cut out with `dd if=PACK bs=1 skip=OFFSET count=LENGTH`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import zstandard

from memgraph_ops._files import atomic_write
from memgraph_ops.errors import VaultCorruptError

LEVEL = 19
"""Archives are written once and read rarely: spend CPU on size."""
FRAME_MAGIC = b"\x28\xb5\x2f\xfd"
"""The first four bytes of every zstd frame."""
Dictionaries = Mapping[int, zstandard.ZstdCompressionDict]
"""Trained dictionaries by dictionary id (the id a frame's header names)."""


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


def compress(payload: bytes, dictionary: zstandard.ZstdCompressionDict | None = None) -> bytes:
    """One independent zstd frame with content size and content checksum."""
    compressor = zstandard.ZstdCompressor(
        level=LEVEL, write_checksum=True, write_content_size=True, dict_data=dictionary
    )
    return compressor.compress(payload)


def write_pack(
    path: Path, frames: Sequence[bytes], *, dictionary_ids: Sequence[int]
) -> list[FrameRef]:
    """Write already-compressed `frames` into a new pack at `path`, atomically (temp file,
    fsync, rename). Returns one `FrameRef` per frame, in order. Refuses to overwrite a pack: a
    pack is immutable once an index may point into it."""
    if path.exists():
        raise FileExistsError(f"pack {path} exists; packs are immutable")
    refs: list[FrameRef] = []
    offset = 0
    for frame, dictionary_id in zip(frames, dictionary_ids, strict=True):
        digest = hashlib.sha256(frame).hexdigest()
        refs.append(FrameRef(path.name, offset, len(frame), digest, dictionary_id))
        offset += len(frame)
    atomic_write(path, b"".join(frames))
    return refs


def read_bytes(directory: Path, ref: FrameRef) -> bytes:
    """A frame's bytes, checked against its sha256 (raises VaultCorruptError naming the pack
    and offset)."""
    with open(directory / ref.pack, "rb") as handle:
        handle.seek(ref.offset)
        frame = handle.read(ref.length)
    if len(frame) != ref.length or hashlib.sha256(frame).hexdigest() != ref.sha256:
        raise VaultCorruptError(f"{_where(ref)}: the frame's bytes do not match its checksum")
    return frame


def _where(ref: FrameRef) -> str:
    return f"pack {ref.pack} at offset {ref.offset} (length {ref.length})"


def read_frame(
    directory: Path,
    ref: FrameRef,
    *,
    dictionary: zstandard.ZstdCompressionDict | None = None,
) -> bytes:
    """Read, verify (sha256 of the frame, then zstd's content checksum) and decompress one frame.

    Raises VaultCorruptError naming the pack and offset if either check fails.
    """
    frame = read_bytes(directory, ref)
    if ref.dictionary_id and (dictionary is None or dictionary.dict_id() != ref.dictionary_id):
        raise VaultCorruptError(f"{_where(ref)}: needs dictionary {ref.dictionary_id}")
    decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)
    try:
        return decompressor.decompress(frame)
    except zstandard.ZstdError as exc:
        raise VaultCorruptError(f"{_where(ref)}: cannot decompress: {exc}") from exc


def iter_frames(data: bytes, dictionaries: Dictionaries) -> Iterator[tuple[int, bytes]]:
    """`(offset, content)` of each zstd frame in `data` (concatenated frames, as in a pack),
    decompressed alone with the dictionary its header names, without an index: what is on
    disk, dead frames included. Stops at bytes that are not a frame; a frame that cannot be
    decoded (its dictionary missing, its bytes damaged) yields what zstd produced before
    failing and ends the walk."""
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        if data[offset : offset + 4] != FRAME_MAGIC:
            return
        params = zstandard.get_frame_parameters(bytes(view[offset : offset + 18]))
        dictionary = dictionaries.get(params.dict_id) if params.dict_id else None
        reader = zstandard.ZstdDecompressor(dict_data=dictionary).decompressobj()
        out = []
        consumed = offset
        step = 1 << 16
        try:
            while not reader.eof and consumed < len(data):
                chunk = bytes(view[consumed : consumed + step])
                out.append(reader.decompress(chunk))
                consumed += len(chunk)
        except zstandard.ZstdError:
            yield offset, b"".join(out)
            return
        consumed -= len(reader.unused_data)
        yield offset, b"".join(out)
        offset = consumed
