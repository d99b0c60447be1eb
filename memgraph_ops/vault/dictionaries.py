"""Reading the vault's trained zstd dictionaries (`dicts/<id>.dict`), checked.

A dictionary file is a standard zstd dictionary: magic number, the dictionary id (which must be
the file's name), entropy tables, then content. Loading checks the first three: a missing file,
another id or tables zstd cannot parse raise VaultCorruptError naming the dictionary, not the
pack of the frame being read. Damage in the content part cannot be seen in the file alone (zstd
dictionaries carry no checksum): frames that use it then fail zstd's content checksum although
their own bytes match the index, which is how `memgraph-ops verify` tells the two apart.
"""

from __future__ import annotations

from pathlib import Path

import zstandard

from memgraph_ops.errors import VaultCorruptError

MAGIC = 0xEC30A437
"""ZSTD_MAGIC_DICTIONARY, little-endian at the start of every trained dictionary."""


def load_dictionary(path: Path, dictionary_id: int) -> zstandard.ZstdCompressionDict:
    """The dictionary in `path`, checked to be a zstd dictionary with id `dictionary_id`;
    VaultCorruptError naming the file otherwise."""
    dictionary, problem = inspect_dictionary(path, dictionary_id)
    if dictionary is None:
        raise VaultCorruptError(
            f"dictionary {path} {problem}: restore {path.name} from a backup (frames compressed "
            f"with dictionary {dictionary_id} cannot be read without it; `memgraph-ops verify` "
            "lists the sessions that need it)"
        )
    return dictionary


def dictionaries_under(root: Path) -> dict[int, zstandard.ZstdCompressionDict]:
    """Every zstd dictionary in any file under `root`, by dictionary id, recognised by its
    magic number whatever the file is called (to decode frames found anywhere, as the byte
    verification of an erasure does)."""
    found: dict[int, zstandard.ZstdCompressionDict] = {}
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_size >= 8:
            with open(path, "rb") as handle:
                if int.from_bytes(handle.read(4), "little") != MAGIC:
                    continue
            dictionary = zstandard.ZstdCompressionDict(path.read_bytes())
            found[dictionary.dict_id()] = dictionary
    return found


def inspect_dictionary(
    path: Path, dictionary_id: int
) -> tuple[zstandard.ZstdCompressionDict | None, str]:
    """(the dictionary, "") if `path` holds a loadable zstd dictionary with that id, else
    (None, what is wrong)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, "is missing"
    except OSError as exc:
        return None, f"cannot be read ({exc})"
    if len(data) < 8 or int.from_bytes(data[:4], "little") != MAGIC:
        return None, "is damaged: it does not start like a zstd dictionary"
    found = int.from_bytes(data[4:8], "little")
    if found != dictionary_id:
        return None, f"is damaged: its header says dictionary {found}, not {dictionary_id}"
    dictionary = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)
    try:
        zstandard.ZstdDecompressor(dict_data=dictionary)  # parses the entropy tables
    except zstandard.ZstdError as exc:
        return None, f"is damaged: zstd cannot load its tables ({exc})"
    return dictionary, ""
