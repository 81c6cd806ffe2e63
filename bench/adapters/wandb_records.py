"""Reader for wandb's offline `.wandb` files: LevelDB-log framing around wandb.proto `Record` messages."""

# wandb's Go core writes these files and wandb 0.31 ships no Python reader any more
# (`wandb.sdk.internal.datastore` is gone), so the framing (the LevelDB log format: 32 KiB blocks of
# crc32-checked FULL/FIRST/MIDDLE/LAST chunks after a 7-byte ":W&B" header) is decoded here and each
# record is parsed with wandb's own protobuf class, `wandb.proto.wandb_internal_pb2.Record`.
# A file cut short by a crash ends at the last complete, checksummed record.

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FILE_HEADER = struct.Struct("<4sHB")  # ident, magic, version
FILE_IDENT = b":W&B"
FILE_MAGIC = 0xBEE1
CHUNK_HEADER = struct.Struct("<IHB")  # crc32 (seeded with the type byte), length, type
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_TYPE_CRC = {t: zlib.crc32(bytes([t])) for t in (FULL, FIRST, MIDDLE, LAST)}


def iter_payloads(path: Path) -> Iterator[bytes]:
    """Every complete record payload in the file, stopping quietly at a torn or corrupt tail."""
    data = path.read_bytes()
    if len(data) < FILE_HEADER.size:
        return
    ident, magic, _version = FILE_HEADER.unpack_from(data)
    if ident != FILE_IDENT or magic != FILE_MAGIC:
        raise ValueError(f"{path} is not a wandb transaction log")
    pos = FILE_HEADER.size
    pending: list[bytes] = []
    while pos + CHUNK_HEADER.size <= len(data):
        left = BLOCK - pos % BLOCK
        if left < CHUNK_HEADER.size:  # block trailer: zero padding
            pos += left
            continue
        crc, length, kind = CHUNK_HEADER.unpack_from(data, pos)
        start = pos + CHUNK_HEADER.size
        chunk = data[start : start + length]
        if kind not in _TYPE_CRC or len(chunk) < length:
            return
        if zlib.crc32(chunk, _TYPE_CRC[kind]) & 0xFFFFFFFF != crc:
            return
        pos = start + length
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            pending = [chunk]
        elif kind == MIDDLE:
            pending.append(chunk)
        else:
            pending.append(chunk)
            yield b"".join(pending)
            pending = []


def iter_records(path: Path) -> Iterator[Any]:
    from wandb.proto import wandb_internal_pb2

    for payload in iter_payloads(path):
        record = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
        record.ParseFromString(payload)
        yield record


def _item_key(item: Any) -> str:
    return item.key or "/".join(item.nested_key)


def history_rows(path: Path) -> list[dict[str, Any]]:
    """The run's history, one dict per logged step, with `_step`."""
    rows: list[dict[str, Any]] = []
    for record in iter_records(path):
        if record.WhichOneof("record_type") != "history":
            continue
        row = {_item_key(item): json.loads(item.value_json) for item in record.history.item}
        row.setdefault("_step", record.history.step.num)
        rows.append(row)
    return rows


def run_record(path: Path) -> dict[str, Any] | None:
    """Id, project and config of the run the file belongs to (its `run` record)."""
    for record in iter_records(path):
        if record.WhichOneof("record_type") == "run":
            run = record.run
            config = {_item_key(item): json.loads(item.value_json) for item in run.config.update}
            return {"id": run.run_id, "project": run.project, "config": config}
    return None
