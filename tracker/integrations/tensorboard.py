"""``sync_tensorboard=True`` and ``tracker.tensorboard.patch()``: TensorBoard events also land in the run.

The event-file writer layer is patched (tensorboardX's, and the ``tensorboard`` package's that PyTorch's
``SummaryWriter`` uses), so every writer built on it is covered. Scalars become history keys named by their
tag, TensorBoard's step is kept as ``global_step``, histograms and images become Histogram and Image; the
event files are saved with the run. With several log directories, each tag is prefixed by its directory
relative to ``root_logdir`` (by default, relative to what the directories seen so far have in common).
"""

from __future__ import annotations

import glob
import importlib
import importlib.util
import io
import os
import struct
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

from tracker import _process, console

if TYPE_CHECKING:
    from tracker._run import Run

# modules whose EventFileWriter.add_event every SummaryWriter goes through
_WRITER_MODULES = (
    ("tensorboardX", "tensorboardX.event_file_writer"),
    ("tensorboard", "tensorboard.summary.writer.event_file_writer"),
)
_EVENT_FILES = "*tfevents*"
_lock = threading.Lock()
_patched: dict[Any, tuple[Any, Any]] = {}  # EventFileWriter class (untyped library) -> its own __init__, add_event
_sink: _Sink | None = None


def patch(
    root_logdir: str | os.PathLike[str] | None = None,
    pytorch: bool | None = None,
    tensorboard_x: bool | None = None,
    save: bool = True,
    run: Run | None = None,
) -> None:
    """Send what TensorBoard writers write to ``run`` (default: the current run at the time of each event).

    ``pytorch``/``tensorboard_x`` (wandb's names) choose the writer layers; by default each installed one.
    ``save=False`` leaves the event files out of the run's files.
    """
    global _sink
    wanted = {"tensorboardX": tensorboard_x, "tensorboard": pytorch}
    found = False
    with _lock:
        for package, module_name in _WRITER_MODULES:
            if wanted[package] is False or importlib.util.find_spec(package) is None:
                continue
            writer = importlib.import_module(module_name).EventFileWriter
            if writer not in _patched:
                _patched[writer] = (writer.__init__, writer.add_event)
                writer.__init__, writer.add_event = _init, _add_event
            found = True
        if not found:
            from tracker._errors import UsageError

            raise UsageError(
                "sync_tensorboard: neither tensorboardX nor tensorboard (PyTorch's SummaryWriter) is installed; "
                "pip install 'tracker[tensorboard]'"
            )
        _sink = _Sink(None if root_logdir is None else os.path.abspath(os.fspath(root_logdir)), save, run)


def unpatch(run: Run | None = None) -> None:
    """Give the writers their own __init__ and add_event back (with ``run``: only if they still feed it)."""
    global _sink
    with _lock:
        if run is not None and (_sink is None or _sink.run is not run):
            return
        for writer, (init, add_event) in _patched.items():
            writer.__init__, writer.add_event = init, add_event
        _patched.clear()
        _sink = None


def _init(self: Any, *args: Any, **kwargs: Any) -> None:
    """The writer's own __init__; its directory is known from now on (the tags' prefixes depend on all of them)."""
    _patched[type(self)][0](self, *args, **kwargs)
    sink = _sink
    if sink is not None:
        sink.register(os.path.abspath(self.get_logdir()))


def _add_event(self: Any, event: Any) -> None:
    _patched[type(self)][1](self, event)
    sink = _sink
    if sink is not None:
        try:
            sink.handle(os.path.abspath(self.get_logdir()), event)
        except Exception as error:  # the training loop must not fail because the copy into the run did
            console.warn(f"sync_tensorboard: an event could not be logged ({type(error).__name__}: {error})")


class _Sink:
    """Turns events into log() rows of one run: one row per TensorBoard step, whatever writer sent it."""

    def __init__(self, root: str | None, save: bool, run: Run | None) -> None:
        self.root, self.save, self.run = root, save, run
        self.logdirs: list[str] = []
        self.saved: set[tuple[int, str]] = set()
        self.last: tuple[int, int, int] | None = None  # (id of run, TensorBoard step, run step) of the last row

    def register(self, logdir: str) -> None:
        if logdir not in self.logdirs:
            self.logdirs.append(logdir)

    def handle(self, logdir: str, event: Any) -> None:
        self.register(logdir)
        run = self.run or cast("Run | None", _process.current())
        if run is None or run._finished or run.disabled or not event.HasField("summary"):
            return
        if self.save and (id(run), logdir) not in self.saved:
            self.saved.add((id(run), logdir))  # copied now and again at finish(), under the directory's name
            base = self.root or os.path.dirname(logdir)
            run.save(os.path.join(glob.escape(logdir), _EVENT_FILES), base_path=base, policy="live")
        row = event_values(event, self.prefix(logdir))
        if row:
            self.log(run, int(event.step), row)

    def prefix(self, logdir: str) -> str:
        if self.root is not None:
            relative = os.path.relpath(logdir, self.root)
        elif len(self.logdirs) > 1:
            relative = os.path.relpath(logdir, os.path.commonpath(self.logdirs))
        else:
            return ""
        return "" if relative == "." else relative.replace(os.sep, "/") + "/"

    def log(self, run: Run, tb_step: int, row: dict[str, Any]) -> None:
        """Same TensorBoard step as the last row: the same run step; another one: the next run step."""
        step = run.step
        if self.last is not None and self.last[0] == id(run):
            step = max(step, self.last[2] if self.last[1] == tb_step else self.last[2] + 1)
        run.log({**row, "global_step": tb_step}, step=step)
        self.last = (id(run), tb_step, step)


def event_values(event: Any, prefix: str) -> dict[str, Any]:
    """The loggable values of one event's summary: floats, Histogram and Image; other kinds are skipped."""
    row: dict[str, Any] = {}
    for value in event.summary.value:
        key = prefix + value.tag
        if value.HasField("simple_value"):
            row[key] = float(value.simple_value)
        elif value.HasField("histo"):
            row[key] = _histogram(value.histo)
        elif value.HasField("image"):
            row[key] = _image(value.image.encoded_image_string)
        elif value.HasField("tensor") and value.tensor.float_val and not value.tensor.tensor_shape.dim:
            row[key] = float(value.tensor.float_val[0])
    return row


def _histogram(histo: Any) -> Any:
    from tracker._media import MAX_BINS, Histogram

    low, high = float(histo.min), float(histo.max)
    edges = [low, *(min(max(float(limit), low), high) for limit in histo.bucket_limit)]
    counts = [float(count) for count in histo.bucket]
    if len(counts) > MAX_BINS:  # merge neighbours so that it fits
        group = -(-len(counts) // MAX_BINS)
        counts = [sum(counts[i : i + group]) for i in range(0, len(counts), group)]
        edges = edges[::group] + ([edges[-1]] if (len(edges) - 1) % group else [])
    return Histogram(np_histogram=(counts, edges))


def _image(encoded: bytes) -> Any:
    from PIL import Image as PILImage

    from tracker._media import Image

    with PILImage.open(io.BytesIO(encoded)) as opened:
        opened.load()
        return Image(opened)


# ---------------------------------------------------------------- reading event files (tracker sync --tensorboard)


def read_events(path: str) -> Iterator[Any]:
    """The events of one event file (TFRecord framing: length, its CRC, data, its CRC); a torn tail ends it."""
    from tensorboardX.proto.event_pb2 import Event

    with open(path, "rb") as handle:
        while True:
            header = handle.read(12)
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            data = handle.read(length)
            if len(data) < length or len(handle.read(4)) < 4:
                return
            yield Event.FromString(data)


def log_directories(root: str) -> list[str]:
    """Every directory under ``root`` that holds event files, sorted."""
    found = glob.glob(os.path.join(glob.escape(root), "**", _EVENT_FILES), recursive=True)
    return sorted({os.path.dirname(path) for path in found})


def import_logdir(logdir: str, run: Run) -> int:
    """Log every event under ``logdir`` into ``run``, in step order (subdirectories' tags prefixed); events read."""
    sink = _Sink(os.path.abspath(logdir), True, run)
    events = [
        (os.path.abspath(directory), event)
        for directory in log_directories(logdir)
        for path in sorted(glob.glob(os.path.join(glob.escape(directory), _EVENT_FILES)))
        for event in read_events(path)
    ]
    events.sort(key=lambda item: (item[1].step, item[1].wall_time))
    for directory, event in events:
        sink.handle(directory, event)
    return len(events)


def import_into_store(logdir: str, root_dir: str | None, project: str | None) -> tuple[Run, int]:
    """A new finished run holding everything under the TensorBoard ``logdir``, and the number of events read."""
    import tracker

    name = os.path.basename(os.path.abspath(logdir))
    run = tracker.init(dir=root_dir, project=project or "tensorboard", name=name, reinit="create_new", mode="offline")
    with run:
        count = import_logdir(logdir, run)
    return run, count
