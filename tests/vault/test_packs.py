from __future__ import annotations

import json
from pathlib import Path

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from memgraph_ops.errors import VaultCorruptError
from memgraph_ops.vault.packs import FrameRef, compress, iter_frames, read_frame, train_dictionary
from memgraph_ops.vault.packs import write_pack as write_frames


def write_pack(
    path: Path, payloads: list[bytes], *, dictionary: zstandard.ZstdCompressionDict | None = None
) -> list[FrameRef]:
    frames = [compress(p, dictionary) for p in payloads]
    dictionary_id = dictionary.dict_id() if dictionary is not None else 0
    return write_frames(path, frames, dictionary_ids=[dictionary_id] * len(frames))


SYSTEM = "You are a careful support agent. Follow the refund policy. " * 40


def _session(i: int) -> bytes:
    turns = [{"role": "system", "content": SYSTEM}] + [
        {"role": "user", "content": f"order {i}-{t}: where is it?"} for t in range(5)
    ]
    return json.dumps({"session": f"s{i}", "turns": turns}).encode()


@settings(max_examples=25, deadline=None)
@given(payloads=st.lists(st.binary(max_size=3000), min_size=1, max_size=12))
def test_every_frame_reads_back_exactly_and_alone(tmp_path_factory: pytest.TempPathFactory,
                                                  payloads: list[bytes]) -> None:  # fmt: skip
    directory = tmp_path_factory.mktemp("vault")
    refs = write_pack(directory / "p1.zst", payloads)
    # read in reverse: no frame depends on another
    for payload, ref in reversed(list(zip(payloads, refs, strict=True))):
        assert read_frame(directory, ref) == payload


def test_a_pack_is_standard_concatenated_zstd(tmp_path: Path) -> None:
    payloads = [_session(i) for i in range(3)]
    refs = write_pack(tmp_path / "p.zst", payloads)
    data = (tmp_path / "p.zst").read_bytes()
    assert sum(r.length for r in refs) == len(data)
    # the trap the reader avoids: decompress() on concatenated frames returns only the first
    assert zstandard.ZstdDecompressor().decompress(data) == payloads[0]
    reader = zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True)
    assert reader.read() == b"".join(payloads)


def test_iter_frames_walks_a_pack_without_its_index(tmp_path: Path) -> None:
    payloads = [_session(i) for i in range(60)]
    dictionary = train_dictionary(payloads, size=16_384)
    refs = write_pack(tmp_path / "p.zst", payloads, dictionary=dictionary)
    data = (tmp_path / "p.zst").read_bytes()
    walked = list(iter_frames(data, {dictionary.dict_id(): dictionary}))
    assert walked == [(r.offset, p) for r, p in zip(refs, payloads, strict=True)]
    # without its dictionary a frame cannot be decoded: the walk stops there, and says so by
    # yielding less than the frame held
    (offset, partial), *_ = iter_frames(data, {})
    assert offset == 0 and partial != payloads[0]
    assert list(iter_frames(data + b"trailing bytes", {dictionary.dict_id(): dictionary})) == walked


def test_dictionary_shrinks_small_sessions_and_is_required(tmp_path: Path) -> None:
    payloads = [_session(i) for i in range(200)]
    dictionary = train_dictionary(payloads[:100], size=16_384)
    plain = write_pack(tmp_path / "plain.zst", payloads[100:])
    with_dict = write_pack(tmp_path / "dict.zst", payloads[100:], dictionary=dictionary)
    assert sum(r.length for r in with_dict) < sum(r.length for r in plain) / 2
    assert read_frame(tmp_path, with_dict[5], dictionary=dictionary) == payloads[105]
    with pytest.raises(VaultCorruptError, match="needs dictionary"):
        read_frame(tmp_path, with_dict[5])


def test_a_flipped_byte_is_detected_with_pack_and_offset(tmp_path: Path) -> None:
    refs = write_pack(tmp_path / "p.zst", [_session(i) for i in range(4)])
    target = refs[2]
    data = bytearray((tmp_path / "p.zst").read_bytes())
    data[target.offset + target.length // 2] ^= 0x01
    (tmp_path / "p.zst").write_bytes(bytes(data))
    with pytest.raises(VaultCorruptError, match=rf"pack p.zst at offset {target.offset}"):
        read_frame(tmp_path, target)
    assert read_frame(tmp_path, refs[1]) == _session(1)  # its neighbours are unharmed


def test_packs_are_immutable_and_written_atomically(tmp_path: Path) -> None:
    write_pack(tmp_path / "p.zst", [b"a"])
    with pytest.raises(FileExistsError):
        write_pack(tmp_path / "p.zst", [b"b"])
    assert [p.name for p in tmp_path.iterdir()] == ["p.zst"]  # no temp files left behind
