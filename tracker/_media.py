"""Rich data under the wandb names (Image, Video, Audio, Histogram, Table, Html) and how log() stores them.

A media value becomes a small JSON reference in the history row; its bytes go to a content-addressed file
``media/<sha256 prefix>.<ext>`` in the run directory, written atomically before the row (see FORMAT.md).
Encoders (numpy, Pillow, imageio) are imported only when a media object is made, never at ``import tracker``.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import math
import os
import tempfile
import wave
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tracker import console
from tracker._errors import UsageError
from tracker._journal import encode_json
from tracker._layout import MEDIA_DIR
from tracker.atomic import write_atomic

RAW_ARRAY_LIMIT = 32  # wandb's threshold: longer arrays are stored as histograms unless kept raw
MAX_BINS = 512
_HASH_PREFIX = 32
_PLAIN = frozenset({int, float, str, bool, type(None)})
_NUMBERS = (int, float)

Store = Callable[[bytes, str], dict[str, Any]]
"""Writes one file's bytes under an extension and returns its reference fields (path, sha256, size)."""


def _require(module: str, package: str) -> Any:
    """Import an optional encoder, or say which ``pip install`` provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(
            f"this media type needs the {package!r} package: pip install 'tracker[media]' (or pip install {package})"
        ) from None


def _numpy() -> Any:
    return _require("numpy", "numpy")


def _read_path(argument: str, path: str | os.PathLike[str]) -> tuple[bytes, str]:
    """A file's bytes and its extension (lower case, no dot)."""
    name = os.fspath(path)
    extension = os.path.splitext(name)[1].lstrip(".").lower()
    if not extension.isalnum():
        raise UsageError(f"{argument}={name!r}: the file name needs an extension such as .png")
    try:
        with open(name, "rb") as file:
            return file.read(), extension
    except OSError as error:
        raise UsageError(f"{argument}={name!r}: cannot read the file ({error.strerror})") from None


class Media:
    """A value that log() turns into a reference; subclasses say how they are encoded."""

    _type = "media"

    def to_json(self, store: Store) -> dict[str, Any]:
        raise NotImplementedError


class _FileMedia(Media):
    """Media whose bytes are fixed when the object is made (errors surface at construction, not in log())."""

    def __init__(self, data: bytes, extension: str, caption: str | None, **fields: Any) -> None:
        if caption is not None and not isinstance(caption, str):
            raise UsageError(f"caption={caption!r} must be a str")
        self._data, self._extension = data, extension
        self._fields = {key: value for key, value in fields.items() if value is not None}
        if caption is not None:
            self._fields["caption"] = caption

    def to_json(self, store: Store) -> dict[str, Any]:
        return {"_type": self._type, **store(self._data, self._extension), **self._fields}


def _to_uint8(array: Any, argument: str) -> Any:
    """Floats are read as [0, 1] and scaled; integers are clipped to [0, 255]."""
    np = _numpy()
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "f":
        return (np.clip(np.nan_to_num(array), 0.0, 1.0) * 255).round().astype(np.uint8)
    if array.dtype.kind in "iub":
        return np.clip(array, 0, 255).astype(np.uint8)
    raise UsageError(f"{argument}: arrays of dtype {array.dtype} cannot be shown; use uint8 or float in [0, 1]")


def _as_array(value: Any) -> Any:
    """A numpy array from numpy, torch (on any device) or nested sequences."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return _numpy().asarray(value)


def _channels_last(array: Any) -> Any:
    """HW, HWC or CHW (1, 3 or 4 channels) as HW or HWC."""
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        array = array.transpose(1, 2, 0)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return array


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class Image(_FileMedia):
    """An image from a numpy array (HW, HWC, CHW), a PIL image or a file path; arrays are stored as PNG."""

    _type = "image"

    def __init__(self, data_or_path: Any, mode: str | None = None, caption: str | None = None) -> None:
        pil = _require("PIL.Image", "Pillow")
        if isinstance(data_or_path, str | os.PathLike):
            data, extension = _read_path("Image(data_or_path)", data_or_path)
            try:
                with pil.open(io.BytesIO(data)) as opened:
                    width, height = opened.size
            except OSError:
                raise UsageError(f"Image({os.fspath(data_or_path)!r}): not an image Pillow can read") from None
        else:
            if isinstance(data_or_path, pil.Image):
                image = data_or_path
            else:
                array = _channels_last(_as_array(data_or_path))
                if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
                    raise UsageError(
                        f"Image(): an array of shape {tuple(array.shape)} is not an image; "
                        "allowed: HW, HWC or CHW with 1, 3 or 4 channels"
                    )
                image = pil.fromarray(_to_uint8(array, "Image()"))
            if mode is not None:
                image = image.convert(mode)
            data, extension = _png(image), "png"
            width, height = image.size
        super().__init__(data, extension, caption, format=extension, width=int(width), height=int(height))


class Audio(_FileMedia):
    """Sound from a numpy array (samples, or samples x channels; float in [-1, 1] or int16) or a file path."""

    _type = "audio"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        if isinstance(data_or_path, str | os.PathLike):
            data, extension = _read_path("Audio(data_or_path)", data_or_path)
            duration = None
            if extension == "wav":
                with wave.open(io.BytesIO(data)) as reader:
                    sample_rate = reader.getframerate()
                    duration = reader.getnframes() / sample_rate
            super().__init__(data, extension, caption, sample_rate=sample_rate, duration=duration)
            return
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise UsageError(f"Audio(sample_rate={sample_rate!r}): an array needs a positive int sample_rate")
        np = _numpy()
        array = _as_array(data_or_path)
        if array.ndim not in (1, 2) or array.size == 0:
            raise UsageError(f"Audio(): shape {tuple(array.shape)}; allowed: (samples,) or (samples, channels)")
        if array.dtype.kind == "f":
            array = (np.clip(np.nan_to_num(array), -1.0, 1.0) * 32767).round()
        samples = array.astype("<i2").reshape(array.shape[0], -1)
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as writer:
            writer.setnchannels(samples.shape[1])
            writer.setsampwidth(2)
            writer.setframerate(sample_rate)
            writer.writeframes(samples.tobytes())
        duration = samples.shape[0] / sample_rate
        super().__init__(buffer.getvalue(), "wav", caption, sample_rate=sample_rate, duration=duration)


VIDEO_FORMATS = ("gif", "mp4")


def _tile(batch: Any) -> Any:
    """(N, T, C, H, W) as one (T, C, H', W') grid of the N videos, as wandb shows a batch."""
    np = _numpy()
    count, frames, channels, height, width = batch.shape
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    padded = np.zeros((rows * columns, frames, channels, height, width), dtype=batch.dtype)
    padded[:count] = batch
    grid = padded.reshape(rows, columns, frames, channels, height, width)
    return grid.transpose(2, 3, 0, 4, 1, 5).reshape(frames, channels, rows * height, columns * width)


def _encode_video(frames: Any, fps: float, format: str) -> bytes:
    """(T, H, W, C) uint8 frames as GIF or MP4 bytes (imageio; MP4 through imageio-ffmpeg)."""
    imageio = _require("imageio.v2", "imageio")
    if format == "gif":
        buffer = io.BytesIO()
        imageio.mimwrite(buffer, list(frames), format="GIF", duration=1000 / fps, loop=0)
        return buffer.getvalue()
    _require("imageio_ffmpeg", "imageio-ffmpeg")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "video.mp4")
        imageio.mimwrite(path, list(frames), format="FFMPEG", fps=fps, macro_block_size=1)
        with open(path, "rb") as file:
            return file.read()


class Video(_FileMedia):
    """A video from numpy (T, C, H, W) or a batch (N, T, C, H, W) tiled into a grid, or a file path."""

    _type = "video"

    def __init__(
        self, data_or_path: Any, caption: str | None = None, fps: float = 4, format: str | None = None
    ) -> None:
        if isinstance(data_or_path, str | os.PathLike):
            data, extension = _read_path("Video(data_or_path)", data_or_path)
            super().__init__(data, extension, caption, format=extension)
            return
        format = format or "gif"
        if format not in VIDEO_FORMATS:
            raise UsageError(f"Video(format={format!r}) is not supported; allowed: {', '.join(VIDEO_FORMATS)}")
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < fps < math.inf:
            raise UsageError(f"Video(fps={fps!r}) must be a positive number")
        array = _as_array(data_or_path)
        if array.ndim == 5:
            array = _tile(array)
        if array.ndim != 4 or array.shape[1] not in (1, 3, 4):
            raise UsageError(
                f"Video(): shape {tuple(array.shape)}; allowed: (T, C, H, W) or (N, T, C, H, W) with C in 1, 3, 4"
            )
        frames = _to_uint8(array, "Video()").transpose(0, 2, 3, 1)
        if frames.shape[-1] == 1:
            frames = frames.repeat(3, axis=-1)
        data = _encode_video(frames, float(fps), format)
        time_steps, height, width = frames.shape[:3]
        super().__init__(data, format, caption, format=format, fps=fps, frames=time_steps, width=width, height=height)


class Html(_FileMedia):
    """An HTML fragment or page, from a str, a file path or an open text file."""

    _type = "html"

    def __init__(self, data: Any, inject: bool = True) -> None:
        if isinstance(data, os.PathLike) or (isinstance(data, str) and data.endswith((".html", ".htm"))):
            content = _read_path("Html(data)", data)[0].decode("utf-8")
        elif hasattr(data, "read"):
            content = data.read()
        else:
            content = data
        if not isinstance(content, str):
            raise UsageError(f"Html(data=...) takes a str, a path or a text file, not {type(content).__name__}")
        super().__init__(content.encode("utf-8"), "html", None)


class Histogram(Media):
    """A distribution as bin counts and edges; small enough to live in the row itself (no file)."""

    _type = "histogram"

    def __init__(
        self,
        sequence: Any = None,
        np_histogram: tuple[Sequence[float], Sequence[float]] | None = None,
        num_bins: int = 64,
    ) -> None:
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) or not 1 <= num_bins <= MAX_BINS:
            raise UsageError(f"Histogram(num_bins={num_bins!r}) must be an int from 1 to {MAX_BINS}")
        np = _numpy()
        if np_histogram is not None:
            counts, edges = (np.asarray(part, dtype=float).ravel() for part in np_histogram)
            if len(edges) != len(counts) + 1 or len(counts) > MAX_BINS:
                raise UsageError(
                    f"Histogram(np_histogram=...): {len(counts)} counts need {len(counts) + 1} edges "
                    f"(got {len(edges)}), at most {MAX_BINS} bins"
                )
        elif sequence is not None:
            values = _as_array(sequence).astype(float).ravel()
            values = values[np.isfinite(values)]
            counts, edges = np.histogram(values, bins=num_bins)
        else:
            raise UsageError("Histogram() needs a sequence or np_histogram=(counts, edges)")
        self.histogram: list[float] = counts.tolist()
        self.bins: list[float] = edges.tolist()

    def to_json(self, store: Store) -> dict[str, Any]:
        return {"_type": self._type, "values": self.histogram, "bins": self.bins}


class Table(Media):
    """Rows of cells (numbers, text, media) under named columns; stored as one JSON file."""

    _type = "table"

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        data: Sequence[Sequence[Any]] | None = None,
        rows: Sequence[Sequence[Any]] | None = None,
        dataframe: Any = None,
    ) -> None:
        if dataframe is not None:
            columns = [str(column) for column in dataframe.columns]
            data = dataframe.itertuples(index=False, name=None)
        data = data if data is not None else rows
        self.columns: list[str] = list(columns) if columns is not None else ["Input", "Output", "Expected"]
        if not all(isinstance(column, str) for column in self.columns):
            raise UsageError(f"Table(columns={self.columns!r}): column names must be str")
        self.data: list[list[Any]] = []
        for row in data if data is not None else ():
            self.add_data(*row)

    def add_data(self, *data: Any) -> None:
        """Append one row, one value per column."""
        if len(data) != len(self.columns):
            raise UsageError(f"Table.add_data(): {len(data)} values for {len(self.columns)} columns {self.columns}")
        self.data.append(list(data))

    def add_column(self, name: str, data: Sequence[Any]) -> None:
        if len(data) != len(self.data):
            raise UsageError(f"Table.add_column({name!r}): {len(data)} values for {len(self.data)} rows")
        self.columns.append(name)
        for row, value in zip(self.data, data, strict=True):
            row.append(value)

    def get_column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.data]

    def to_json(self, store: Store) -> dict[str, Any]:
        cells = [[_convert(cell, store) for cell in row] for row in self.data]
        content = encode_json("Table", {"columns": self.columns, "data": cells}, pretty=False)
        return {"_type": self._type, **store(content, "table.json"), "ncols": len(self.columns), "nrows": len(cells)}


class MediaStore:
    """The content-addressed ``media/`` directory of one run: the same bytes are written once."""

    def __init__(self, run_directory: str) -> None:
        self._directory = os.path.join(run_directory, MEDIA_DIR)

    def store(self, data: bytes, extension: str) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        name = f"{digest[:_HASH_PREFIX]}.{extension}"
        path = os.path.join(self._directory, name)
        if not os.path.exists(path):
            os.makedirs(self._directory, exist_ok=True)
            write_atomic(path, data)
        return {"path": f"{MEDIA_DIR}/{name}", "sha256": digest, "size": len(data)}


_raw_array_warning_shown = False


def _warn_raw_array(count: int) -> None:
    global _raw_array_warning_shown
    if not _raw_array_warning_shown:
        _raw_array_warning_shown = True
        console.warn(
            f"log(): an array of {count} values (more than {RAW_ARRAY_LIMIT}) is stored as a Histogram; "
            "to keep arrays raw, init(settings={'keep_raw_arrays': True}) or TRACKER_KEEP_RAW_ARRAYS=true"
        )


def _large_array_size(value: Any) -> int:
    """The element count of an array or a flat numeric list above the limit, else 0."""
    if isinstance(value, list | tuple):
        if len(value) > RAW_ARRAY_LIMIT and all(item.__class__ in _NUMBERS for item in value):
            return len(value)
        return 0
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape and hasattr(value, "dtype"):
        count = math.prod(shape)
        return count if count > RAW_ARRAY_LIMIT else 0
    return 0


def _convert(value: Any, store: Store, keep_raw_arrays: bool = True) -> Any:
    """``value`` with media replaced by references (files stored now) and, unless kept, large arrays by histograms."""
    if value.__class__ in _PLAIN:
        return value
    if isinstance(value, Media):
        return value.to_json(store)
    if not keep_raw_arrays and (count := _large_array_size(value)):
        _warn_raw_array(count)
        return Histogram(value).to_json(store)
    if isinstance(value, list | tuple):
        return [_convert(item, store, keep_raw_arrays) for item in value]
    if isinstance(value, Mapping):
        return {key: _convert(item, store, keep_raw_arrays) for key, item in value.items()}
    return value


def convert_row(data: Mapping[str, Any], store: MediaStore, keep_raw_arrays: bool) -> dict[str, Any]:
    """A row for the journal: media files written, references and histograms in their place."""
    return {key: _convert(value, store.store, keep_raw_arrays) for key, value in data.items()}
