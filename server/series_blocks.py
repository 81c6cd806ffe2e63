"""Per-chunk block summaries of a series, written at ingest, so a chart of a long run reads kilobytes, not its
every point.

Each chunk of a series is cut into blocks of ``BLOCK`` consecutive points; a block keeps its last step, its
min and max (NaN ignored, as in the raw downsampling) and its last value (NaN kept). A chart over many more
points than it has buckets is then bucketed block by block: each block falls in the bucket of its last
step, so a bucket's min, max and last are exactly those of the points it holds; only its edges move, by
less than a block, to the nearest block boundary. Nothing is sampled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BLOCK = 16  # points per block: 32 bytes of summary stand for 16 points (128 bytes of values, 384 with the axis)
MIN_BLOCKS_PER_BUCKET = 4  # fewer (a zoomed-in or short series): the raw points are bucketed instead
_FIELDS = 4  # last step, min, max, last value


def summarise(steps: Any, values: Any) -> list[bytes]:
    """The blocks of series chunks that share one axis: ``steps`` (n int64) and ``values`` (k x n float64), one
    packed blob of four arrays per row of ``values``; a whole batch of keys costs a few numpy calls."""
    starts = np.arange(0, values.shape[1], BLOCK)
    ends = np.minimum(starts + BLOCK, values.shape[1]) - 1
    with np.errstate(invalid="ignore"):
        lows = np.fmin.reduceat(values, starts, axis=1).astype("<f8", copy=False)
        highs = np.fmax.reduceat(values, starts, axis=1).astype("<f8", copy=False)
    last_steps = steps[ends].astype("<i8", copy=False).tobytes()
    lasts = values[:, ends].astype("<f8", copy=False)
    return [
        b"".join((last_steps, low.tobytes(), high.tobytes(), last.tobytes()))
        for low, high, last in zip(lows, highs, lasts, strict=True)
    ]


def usable(count: int, buckets: int) -> bool:
    """Whether a series of ``count`` points has enough blocks per bucket to be drawn from its blocks."""
    return count >= buckets * BLOCK * MIN_BLOCKS_PER_BUCKET


def downsample(first_step: int, packed: list[bytes], buckets: int) -> tuple[Any, Any, Any, Any]:
    """(x, min, max, last) per non-empty bucket over [first_step, last step], from the chunks' blocks in order."""
    parts = [_unpacked(blob) for blob in packed]
    steps, lows, highs, lasts = (np.concatenate([part[field] for part in parts]) for field in range(_FIELDS))
    return bucketed(steps.astype("f8"), lows, highs, lasts, float(first_step), buckets)


def bucketed(axis: Any, lows: Any, highs: Any, lasts: Any, start: float, buckets: int) -> tuple[Any, Any, Any, Any]:
    """(x, min, max, last) per non-empty bucket of ``buckets`` equal ones over [start, the last x]: each
    bucket's x and last value are those of its last point (x ascending)."""
    edges = np.linspace(start, axis[-1], buckets + 1)
    index = np.clip(np.searchsorted(edges, axis, side="right") - 1, 0, buckets - 1)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    ends = np.r_[starts[1:], len(axis)] - 1
    with np.errstate(invalid="ignore"):
        return axis[ends], np.fmin.reduceat(lows, starts), np.fmax.reduceat(highs, starts), lasts[ends]


def _unpacked(blob: bytes) -> tuple[Any, ...]:
    size = len(blob) // (8 * _FIELDS)
    kinds = ("<i8", "<f8", "<f8", "<f8")
    return tuple(np.frombuffer(blob, kind, size, field * size * 8) for field, kind in enumerate(kinds))
