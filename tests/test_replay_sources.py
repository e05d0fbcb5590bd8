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
