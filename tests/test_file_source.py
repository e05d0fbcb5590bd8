"""FileSource on the virtual clock: every sample once, in order, as views; benchmark data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attune.benchmarks.recordings import make_recording
from attune.sensors.file_source import FileSource, file_sources
from attune.sensors.readers import read_recording, select_streams

DATA = Path(__file__).parent / "data"


def _drain(src: FileSource, ticks: np.ndarray):
    data, times, labels = [], [], []
    for t in ticks:
        c = src.pull(float(t))
        assert c.timestamps.size == 0 or c.timestamps[-1] <= t
        data.append(c.data)
        times.append(c.timestamps)
        labels.extend(c.labels)
    return np.hstack(data), np.concatenate(times), tuple(labels)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_tick_patterns_yield_every_sample_once(seed):
    rec = read_recording(DATA / "polar/polar_h10_converted.csv")
    rng = np.random.default_rng(seed)
    for s in rec.streams:
        src = FileSource(s, t0=5.0)
        end = src.end_t
        ticks = np.sort(rng.uniform(0.0, end + 1.0, size=int(rng.integers(50, 400))))
        ticks = np.concatenate([ticks, ticks[::7], [end]])  # repeated and final ticks
        ticks.sort()
        data, times, _ = _drain(src, ticks)
        assert src.done and src.n_delivered == s.n_samples
        np.testing.assert_array_equal(data, s.data)
        np.testing.assert_allclose(times, s.timestamps - s.timestamps[0] + 5.0, atol=1e-9)
        assert src.pull(end + 100.0).n_samples == 0


def test_chunks_are_views_and_markers_carry_labels():
    rec = read_recording(DATA / "xdf/minimal.xdf")
    eeg, mk = file_sources(rec.streams)
    c = eeg.pull(0.25)
    assert np.shares_memory(c.data, eeg.stream.data) and not c.data.flags.writeable
    assert c.n_samples == 3  # 0, 0.1, 0.2 after the shared origin 5.0
    m = mk.pull(0.25)
    assert m.labels[1:] == ("Hello",) and m.n_samples == 2  # 5.1, 5.2 -> 0.1, 0.2
    _, _, rest = _drain(mk, np.array([0.5, 10.0]))
    assert m.labels + rest == mk.stream.labels


def test_file_sources_keep_streams_aligned():
    rec = read_recording(DATA / "eeg_mne/test_bdf_stim_channel.bdf")
    srcs = file_sources(rec.streams, t0=100.0)
    assert {s.origin for s in srcs} == {0.0}
    eeg = srcs[0]
    assert eeg.pull(100.0).n_samples == 1 and eeg.pull(101.0).n_samples == 500
    assert np.isclose(eeg.duration_s, 10.0)


def test_make_recording_for_benchmark():
    rec = make_recording(hours=20 / 3600, eeg_channels=32, seed=3)
    eeg, ecg = select_streams(rec, kinds=["eeg"])[0], select_streams(rec, kinds=["ecg"])[0]
    assert eeg.data.shape == (32, 5120) and ecg.data.shape == (1, 5000)
    assert eeg.info.channels[:3] == ("Fp1", "Fp2", "AF7") and eeg.info.fs == 256.0
    np.testing.assert_allclose(np.diff(eeg.timestamps), 1 / 256.0)
    again = make_recording(hours=20 / 3600, eeg_channels=32, seed=3)
    np.testing.assert_array_equal(again.streams[0].data, eeg.data)
    assert make_recording(hours=2 / 3600, eeg_channels=40).streams[0].info.channels[-1] == "E40"


# ------------------------------------------------- streaming in blocks (issue 20)
def test_on_disk_stream_in_blocks_equals_whole():
    import mne

    path = DATA / "eeg_mne/sample-ant-aux-raw.fif"  # 150 s of real ECG at 1024 Hz
    (eeg,) = read_recording(path, columns=["AUX2"], kind="ecg").streams
    assert eeg.lazy and eeg.n_samples == 153603
    raw = mne.io.read_raw(path, preload=True, verbose="error")
    first = eeg.read(1000, 1010)[0]
    want = raw.get_data(picks=["AUX2"], start=1000, stop=1010) * 1e3
    np.testing.assert_array_equal(first, want.astype(np.float32).astype(np.float64))
    rng = np.random.default_rng(5)
    ticks = np.sort(rng.uniform(-1.0, eeg.duration_s + 1.0, size=700))
    ticks = np.concatenate([ticks, [eeg.duration_s + 2.0]])
    whole = FileSource(eeg, block_s=None)
    block = FileSource(eeg, block_s=1.0)
    for t in ticks:
        a, b = whole.pull(float(t)), block.pull(float(t))
        np.testing.assert_array_equal(a.data, b.data)
        np.testing.assert_array_equal(a.timestamps, b.timestamps)
    assert whole.done and block.done and block.n_delivered == eeg.n_samples
    # Only one block (1 s) is held at a time, not the 150 s recording.
    assert block._bx.shape[1] <= 1024


def test_replay_in_blocks_gives_the_same_ticks_as_in_memory(tmp_path):
    from attune.sessions.config import SessionConfig
    from attune.sessions.replay_run import replay_recording
    from attune.sessions.store import load_session

    path = DATA / "eeg_mne/sample-ant-aux-raw.fif"
    lazy = read_recording(path, columns=["AUX2"], kind="ecg")
    whole = read_recording(path, columns=["AUX2"], kind="ecg")
    for s in whole.streams:
        _ = s.data  # read into memory: replayed from the arrays (the path before streaming)
    assert all(s.lazy for s in lazy.streams if s.info.kind != "markers")
    assert not any(s.lazy for s in whole.streams)
    ticks = []
    for rec in (lazy, whole):
        cfg = SessionConfig(output_dir=str(tmp_path), render_audio=False)
        cfg = cfg.model_copy(update={"name": f"r{len(ticks)}"})
        folder = replay_recording(rec, cfg).folder
        ticks.append(load_session(folder).ticks)
    a, b = ticks
    assert a.keys() == b.keys() and a["t_s"].size > 500
    assert np.isfinite(a["hr_bpm"]).sum() > 300  # beats were detected: a real comparison
    for k in a:
        if k in ("compute_ms", "latency_ms", "wall_ms"):  # wall-clock timings
            continue
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_muse_csv_replays_with_its_markers_in_the_record(tmp_path):
    from muse_csv import muse_lsl_csv

    from attune.sessions.cli import main
    from attune.sessions.store import load_session

    p = tmp_path / "muse.csv"
    _, _, rows, codes, _ = muse_lsl_csv(p, seconds=40.0)
    out = tmp_path / "out"
    assert main(["replay", str(p), "--out", str(out), "--no-report"]) == 0
    (folder,) = [f for f in out.iterdir() if f.is_dir()]
    data = load_session(folder)
    marks = [(t, text) for t, text in data.events if text.startswith("marker: ")]
    assert [text for _, text in marks] == [f"marker: {c}" for c in codes]
    np.testing.assert_allclose([t for t, _ in marks], rows / 256.0, atol=0.3)  # to a tick


def test_time_jump_replay_ends_promptly(tmp_path):
    from attune.sessions.cli import main
    from attune.sessions.store import load_session

    t = np.arange(12000) / 100.0
    t[6000:] += 1e7
    p = tmp_path / "jump.csv"
    p.write_text("time_s,ECG\n" + "".join(f"{a:.3f},{np.sin(a):.4f}\n" for a in t))
    out = tmp_path / "out"
    assert main(["replay", str(p), "--out", str(out), "--no-report"]) == 0
    (folder,) = [f for f in out.iterdir() if f.is_dir()]
    ticks = load_session(folder).ticks
    assert ticks["t_s"][-1] < 120 + 60 + 2  # not 1e7 s of invented ticks


def test_file_source_next_t_skips_gaps():
    rec = read_recording(DATA / "eeg_mne/test_edf_stim_channel.edf")
    src = FileSource(select_streams(rec, kinds=["eeg"])[0], t0=3.0, block_s=1.0)
    assert src.next_t == 3.0
    src.pull(4.0)
    assert np.isclose(src.next_t, 3.0 + 129 / 128)
    src.pull(1e9)
    assert src.next_t == float("inf") and src.done


def test_recorded_streams_stay_dataclasses():
    """dataclasses.replace keeps working (the LSL benchmark publisher renames streams)."""
    import dataclasses

    rec = read_recording(DATA / "eeg_mne/test_edf_stim_channel.edf")
    eeg = select_streams(rec, kinds=["eeg"])[0]
    assert eeg.lazy
    renamed = dataclasses.replace(eeg, info=dataclasses.replace(eeg.info, name="x"))
    assert renamed.info.name == "x" and not renamed.lazy
    np.testing.assert_array_equal(renamed.data, eeg.data)
    np.testing.assert_array_equal(renamed.timestamps, np.arange(1228) / 128.0)
