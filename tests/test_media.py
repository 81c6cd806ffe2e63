"""Rich data: each media type logged from real data through init() and read back through Api."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import pytest

import tracker
from tracker import _media

np = pytest.importorskip("numpy")
PIL_Image = pytest.importorskip("PIL.Image")


def view_of(store, run):
    return tracker.Api(store).run(f"{run.project}/{run.id}")


def logged(store, value, key="m"):
    """Log one value in a fresh run, finish it, and return (view, the stored row value)."""
    run = tracker.init(project="p", dir=store)
    run.log({key: value})
    run.finish()
    view = view_of(store, run)
    return view, view.history()[0][key]


def read(view, reference) -> bytes:
    with view.file(reference) as file:
        return file.read()


def test_image_from_float_hwc_array_round_trips_as_png(store):
    pixels = np.random.default_rng(0).random((12, 7, 3))
    view, ref = logged(store, tracker.Image(pixels, caption="noise"))
    assert ref["_type"] == "image" and ref["format"] == "png" and ref["caption"] == "noise"
    assert (ref["width"], ref["height"]) == (7, 12)
    assert ref["path"] == f"media/{ref['sha256'][:32]}.png"
    data = read(view, ref)
    assert len(data) == ref["size"]
    decoded = np.asarray(PIL_Image.open(io.BytesIO(data)))
    assert np.array_equal(decoded, (pixels * 255).round().astype(np.uint8))


@pytest.mark.parametrize(
    ("shape", "decoded_shape"), [((3, 5, 6), (5, 6, 3)), ((5, 4), (5, 4)), ((1, 5, 6), (5, 6)), ((5, 4, 4), (5, 4, 4))]
)
def test_image_layouts(store, shape, decoded_shape):
    pixels = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    view, ref = logged(store, tracker.Image(pixels))
    decoded = np.asarray(PIL_Image.open(io.BytesIO(read(view, ref))))
    assert decoded.shape == decoded_shape
    expected = pixels.transpose(1, 2, 0) if shape[0] == 3 else pixels.reshape(decoded_shape)
    assert np.array_equal(decoded, expected)


def test_image_from_pil_and_from_files_keeps_their_format(store, tmp_path):
    picture = PIL_Image.fromarray(np.full((6, 9, 3), 200, dtype=np.uint8))
    png, jpeg = tmp_path / "a.png", tmp_path / "b.jpg"
    picture.save(png)
    picture.save(jpeg)
    run = tracker.init(project="p", dir=store)
    run.log({"pil": tracker.Image(picture), "png": tracker.Image(str(png)), "jpeg": tracker.Image(jpeg, caption="j")})
    run.finish()
    view = view_of(store, run)
    row = view.history()[0]
    assert read(view, row["png"]) == png.read_bytes()
    assert read(view, row["jpeg"]) == jpeg.read_bytes()
    assert row["jpeg"]["path"].endswith(".jpg") and row["jpeg"]["caption"] == "j"
    assert (row["pil"]["width"], row["pil"]["height"]) == (9, 6)
    assert np.asarray(PIL_Image.open(io.BytesIO(read(view, row["pil"])))).shape == (6, 9, 3)


def test_same_bytes_are_stored_once_and_lists_hold_references(store):
    pixels = np.zeros((4, 4), dtype=np.uint8)
    run = tracker.init(project="p", dir=store)
    run.log({"images": [tracker.Image(pixels), tracker.Image(pixels, caption="again")]})
    run.log({"images": [tracker.Image(pixels)]})
    run.finish()
    view = view_of(store, run)
    assert len(os.listdir(os.path.join(view.directory, "media"))) == 1
    references = view.media("images")
    assert [(ref["_step"], ref.get("caption")) for ref in references] == [(0, None), (0, "again"), (1, None)]
    assert len({ref["path"] for ref in references}) == 1


def test_audio_from_array_and_from_a_wav_file(store, tmp_path):
    tone = np.sin(np.linspace(0, 2 * np.pi * 440, 8000)).astype(np.float32)
    path = tmp_path / "real.wav"
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes((tone * 1000).astype("<i2").tobytes())
    run = tracker.init(project="p", dir=store)
    run.log({"tone": tracker.Audio(tone, sample_rate=8000, caption="A4"), "file": tracker.Audio(path)})
    run.finish()
    view = view_of(store, run)
    row = view.history()[0]
    assert row["tone"]["sample_rate"] == 8000 and row["tone"]["duration"] == 1.0 and row["tone"]["caption"] == "A4"
    with wave.open(io.BytesIO(read(view, row["tone"]))) as reader:
        assert (reader.getframerate(), reader.getnframes(), reader.getnchannels()) == (8000, 8000, 1)
        samples = np.frombuffer(reader.readframes(8000), dtype="<i2")
    assert np.array_equal(samples, (tone * 32767).round().astype("<i2"))
    assert read(view, row["file"]) == path.read_bytes()
    assert row["file"]["sample_rate"] == 16000 and row["file"]["duration"] == 0.5


def test_video_gif_mp4_and_batches(store):
    imageio = pytest.importorskip("imageio.v3")
    frames = np.random.default_rng(1).integers(0, 255, (5, 3, 8, 10), dtype=np.uint8)
    batch = np.stack([frames] * 3)
    run = tracker.init(project="p", dir=store)
    run.log({"gif": tracker.Video(frames, fps=10), "batch": tracker.Video(batch, caption="3 clips")})
    run.log({"mp4": tracker.Video(frames, format="mp4")})
    run.finish()
    view = view_of(store, run)
    gif, batch_ref = view.history()[0]["gif"], view.history()[0]["batch"]
    assert (gif["format"], gif["frames"], gif["fps"], gif["width"], gif["height"]) == ("gif", 5, 10, 10, 8)
    assert imageio.imread(read(view, gif), index=None, extension=".gif").shape[:3] == (5, 8, 10)
    assert (batch_ref["width"], batch_ref["height"]) == (20, 16)  # 3 clips tiled on a 2x2 grid
    mp4 = view.history()[1]["mp4"]
    assert mp4["path"].endswith(".mp4") and read(view, mp4)[4:8] == b"ftyp"


def test_histogram_from_sequence_and_from_np_histogram(store):
    values = np.random.default_rng(2).normal(size=1000)
    counts, edges = np.histogram(values, bins=10)
    run = tracker.init(project="p", dir=store)
    run.log({"seq": tracker.Histogram(values), "np": tracker.Histogram(np_histogram=(counts, edges))})
    run.finish()
    row = view_of(store, run).history()[0]
    assert row["seq"]["_type"] == "histogram" and len(row["seq"]["values"]) == 64 and sum(row["seq"]["values"]) == 1000
    assert row["np"] == {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
    assert not os.path.exists(os.path.join(view_of(store, run).path, "media"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sequence": [1, 2], "num_bins": 513}, "num_bins=513"),
        ({"np_histogram": ([1, 2], [0, 1])}, "2 counts need 3 edges"),
        ({}, "needs a sequence"),
    ],
)
def test_histogram_rejects(kwargs, message):
    with pytest.raises(tracker.UsageError, match=message):
        tracker.Histogram(**kwargs)


def test_table_with_media_cells_is_one_json_file(store):
    table = tracker.Table(columns=["id", "image", "score"], data=[[0, tracker.Image(np.zeros((2, 2))), 0.5]])
    table.add_data(1, tracker.Image(np.ones((2, 2))), np.float32(0.25))
    with pytest.raises(tracker.UsageError, match="2 values for 3 columns"):
        table.add_data(2, 3)
    view, ref = logged(store, table, key="predictions")
    assert (ref["_type"], ref["ncols"], ref["nrows"]) == ("table", 3, 2)
    content = json.loads(read(view, ref))
    assert content["columns"] == ["id", "image", "score"]
    assert [row[0] for row in content["data"]] == [0, 1] and content["data"][1][2] == 0.25
    cell = content["data"][1][1]
    assert cell["_type"] == "image"
    assert np.asarray(PIL_Image.open(io.BytesIO(read(view, cell)))).max() == 255


def test_html(store):
    view, ref = logged(store, tracker.Html("<h1>report</h1>"))
    assert ref["_type"] == "html" and read(view, ref) == b"<h1>report</h1>"


def test_large_arrays_become_histograms_with_one_warning(store, capsys, monkeypatch):
    monkeypatch.setattr(_media, "_raw_array_warning_shown", False)
    run = tracker.init(project="p", dir=store)
    run.log({"weights": np.arange(10_000, dtype=np.float32), "list": [0.5] * 40, "small": np.arange(32)})
    run.log({"weights": np.ones((100, 100)), "words": ["w"] * 40})
    run.finish()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "stored as a Histogram" in line]
    assert len(warnings) == 1 and "keep_raw_arrays" in warnings[0]
    view = view_of(store, run)
    first, second = view.history()
    assert first["weights"]["_type"] == "histogram" and sum(first["weights"]["values"]) == 10_000
    assert first["list"]["_type"] == "histogram" and first["small"] == list(range(32))
    assert second["words"] == ["w"] * 40
    assert view.summary["weights"]["_type"] == "histogram"
    assert os.path.getsize(os.path.join(view.directory, "history.jsonl")) < 10_000


def test_keep_raw_arrays_setting_stores_them_as_lists(store, monkeypatch):
    monkeypatch.setenv("TRACKER_KEEP_RAW_ARRAYS", "true")
    _, value = logged(store, np.arange(40))
    assert value == list(range(40))


def test_a_rejected_log_with_media_changes_nothing(store):
    run = tracker.init(project="p", dir=store)
    run.log({"a": 1})
    with pytest.raises(tracker.UsageError):
        run.log({"image": tracker.Image(np.zeros((2, 2))), "bad": object()})
    assert run.step == 1 and run.summary["a"] == 1 and "image" not in run.summary
    run.finish()
    assert [sorted(row) for row in view_of(store, run).history()] == [["_runtime", "_step", "_timestamp", "a"]]


def test_media_errors_name_the_argument():
    with pytest.raises(tracker.UsageError, match=r"shape \(2, 2, 2, 2\)"):
        tracker.Image(np.zeros((2, 2, 2, 2)))
    with pytest.raises(tracker.UsageError, match="sample_rate"):
        tracker.Audio(np.zeros(10))
    with pytest.raises(tracker.UsageError, match="format='webm'"):
        tracker.Video(np.zeros((2, 3, 4, 4)), format="webm")
    with pytest.raises(tracker.UsageError, match="cannot read"):
        tracker.Image("/nonexistent/picture.png")


def test_a_missing_encoder_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    with pytest.raises(tracker.UsageError, match=r"pip install 'tracker\[media\]'.*Pillow"):
        tracker.Image(np.zeros((2, 2)))


def test_file_refuses_paths_outside_the_run(store, tmp_path):
    view, _ = logged(store, tracker.Image(np.zeros((2, 2))))
    (tmp_path / "secret").write_text("x")
    os.symlink(tmp_path / "secret", os.path.join(view.directory, "media", "link"))
    for bad in ("../../secret", str(tmp_path / "secret"), "media/link", "", "."):
        with pytest.raises(tracker.UsageError, match="file"):
            view.file(bad)
    with view.file("run.json") as file:
        assert json.load(file)["id"] == view.id


def test_history_samples_and_scan_history(store):
    run = tracker.init(project="p", dir=store)
    for i in range(10):
        run.log({"loss": float(i), **({"acc": i} if i % 2 else {})})
    run.finish()
    view = view_of(store, run)
    assert [row["_step"] for row in view.history(samples=4)] == [0, 3, 6, 9]
    assert len(view.history(samples=100)) == 10
    assert [row["acc"] for row in view.scan_history(keys=["acc"])] == [1, 3, 5, 7, 9]
    assert sorted(next(iter(view.scan_history("acc")))) == ["_runtime", "_step", "_timestamp", "acc"]
    with pytest.raises(tracker.UsageError, match="samples=0"):
        view.history(samples=0)


def test_a_returned_log_with_media_survives_sigkill(store, tmp_path):
    pixels = np.random.default_rng(3).integers(0, 255, (9, 9, 3), dtype=np.uint8)
    np.save(tmp_path / "pixels.npy", pixels)
    code = f"""
        import sys, numpy as np, tracker
        run = tracker.init(project="p", dir={str(store)!r}, id="killed")
        run.log({{"image": tracker.Image(np.load({str(tmp_path / "pixels.npy")!r}), caption="last")}})
        print("logged", flush=True)
        sys.stdin.read()
    """
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline() == "logged\n"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    view = tracker.Api(store).run("p/killed")
    ref = view.history()[0]["image"]
    assert ref["caption"] == "last"
    assert np.array_equal(np.asarray(PIL_Image.open(io.BytesIO(read(view, ref)))), pixels)


def test_porting_scripts_run_with_tracker_as_wandb(store):
    scripts = sorted(Path(__file__).parent.glob("porting/wandb_*.py"))
    assert scripts
    for script in scripts:
        result = subprocess.run(
            [sys.executable, str(script)],
            env={**os.environ, "TRACKER_DIR": str(store)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{script.name}:\n{result.stderr}"
    runs = {run.name: run for run in tracker.Api(store).runs("porting")}
    assert {ref["_type"] for ref in runs["images"].media()} == {"image"}
    assert runs["tables"].history()[0]["predictions"]["nrows"] == 3
    assert runs["histograms"].summary["gradients"]["_type"] == "histogram"


def test_show_counts_media_and_prints_references_compactly(store):
    run = tracker.init(project="p", dir=store, id="shown")
    run.log({"image": tracker.Image(np.zeros((3, 3))), "weights": tracker.Histogram(np.arange(100), num_bins=8)})
    run.log({"clip": tracker.Audio(np.zeros(100), sample_rate=100), "image": tracker.Image(np.ones((3, 3)))})
    run.finish()
    command = [str(Path(sys.executable).with_name("tracker")), "--dir", str(store), "show", "p/shown"]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"}, check=False)
    assert result.returncode == 0, result.stderr
    assert "histogram (8 bins)" in result.stdout and "image media/" in result.stdout
    assert "sha256" not in result.stdout
    shown = json.loads(subprocess.run([*command, "--json"], capture_output=True, text=True, check=True).stdout)
    assert shown["media"] == {"png": 2, "wav": 1}
    assert shown["summary"]["image"]["_type"] == "image"


def test_console_output_and_the_traceback_of_a_failing_run_are_in_output_log(store):
    script = f"""
        import sys, tracker
        run = tracker.init(project="p", dir={str(store)!r}, id="failing")
        print("epoch 1 done")
        print("a warning line", file=sys.stderr)
        raise ValueError("boom")
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1 and "epoch 1 done" in result.stdout and "ValueError: boom" in result.stderr
    view = tracker.Api(store).run("p/failing")
    assert view.state == "failed"
    with view.file("output.log") as file:
        output = file.read().decode()
    assert "epoch 1 done\n" in output and "a warning line\n" in output
    assert "Traceback (most recent call last)" in output and "ValueError: boom" in output
    command = [str(Path(sys.executable).with_name("tracker")), "--dir", str(store), "show", "p/failing"]
    shown = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    assert "last lines of output.log" in shown and "ValueError: boom" in shown


def test_console_off_writes_no_output_log_and_streams_are_restored(store):
    stdout, stderr = sys.stdout, sys.stderr
    run = tracker.init(project="p", dir=store)
    assert sys.stdout is not stdout
    print("captured")
    run.finish()
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
    with view_of(store, run).file("output.log") as file:
        assert file.read() == b"captured\n"
    quiet = tracker.init(project="p", dir=store, settings={"console": "off"})
    assert sys.stdout is stdout
    print("not captured")
    quiet.finish()
    assert not os.path.exists(os.path.join(view_of(store, quiet).path, "output.log"))


def test_sigterm_while_printing_finishes_the_run_and_ends_the_process(store):
    """The preemption handler stops the capture from inside a print() of the same thread: no deadlock."""
    script = f"""
        import tracker
        run = tracker.init(project="p", dir={str(store)!r}, id="printing")
        while True:
            print("step", flush=True)
    """
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "step\n"
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == -signal.SIGTERM
    finally:
        child.kill()
    assert tracker.Api(store).run("p/printing").state == "preempted"


def test_system_metrics_are_sampled_apart_from_the_history(store):
    pytest.importorskip("psutil")
    from tests.conftest import wait_for

    run = tracker.init(project="p", dir=store, settings={"system_metrics_interval": 0.05})
    run.log({"loss": 1.0})
    view = view_of(store, run)
    wait_for(lambda: len(view.system_metrics()) >= 3, "three system samples")
    run.finish()
    samples = view.system_metrics()
    assert all(sample["_runtime"] >= 0 for sample in samples)
    for key in ("system/cpu_percent", "system/proc.memory.rss_mb", "system/memory_percent", "system/disk_percent"):
        assert all(isinstance(sample[key], int | float) for sample in samples), key
    assert samples[0]["system/proc.memory.rss_mb"] > 1
    assert all(not key.startswith("system/") for row in view.history() for key in row)
    assert not any(key.startswith("system/") for key in view.summary)


def test_system_metrics_off_and_gpu_only_where_present(store):
    run = tracker.init(project="p", dir=store, settings={"system_metrics": False})
    run.finish()
    assert view_of(store, run).system_metrics() == []
    pynvml = pytest.importorskip("pynvml")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        pytest.skip("no NVIDIA driver or GPU")
    from tests.conftest import wait_for

    run = tracker.init(project="p", dir=store, settings={"system_metrics_interval": 0.05})
    wait_for(lambda: view_of(store, run).system_metrics(), "a system sample")  # finish() does not wait for one
    run.finish()
    assert any(key.startswith("system/gpu.0.") for key in view_of(store, run).system_metrics()[0])


def test_system_metrics_interval_is_validated():
    with pytest.raises(tracker.UsageError, match="system_metrics_interval"):
        tracker.init(project="p", settings={"system_metrics_interval": 0})
