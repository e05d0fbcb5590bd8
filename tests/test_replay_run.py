"""Replay of every real recording in tests/data: in-process to the end, and over LSL."""

import threading
import uuid
from pathlib import Path

import numpy as np
import pytest

from attune.sensors.lsl_player import publish_streams
from attune.sensors.readers import read_recording
from attune.sessions.cli import main
from attune.sessions.replay_run import choose_streams
from attune.sessions.store import load_session

DATA = Path(__file__).parent / "data"
#: Every file holding EEG or cardiac signals, with the options a user passes for it.
FILES = {
    "biosppy/ecg.txt": [],
    "biosppy/ppg.txt": [],
    "biosppy/eeg_ec.txt": [],
    "biosppy/eeg_eo.txt": [],
    "eeg_mne/sample-ant-aux-raw.fif": ["--column", "AUX2", "--kind", "ecg"],
    "eeg_mne/sample-eeg-ant-raw.fif": [],
    "eeg_mne/test.bdf": [],
    "eeg_mne/test_bdf_stim_channel.bdf": [],
    "eeg_mne/test_edf_stim_channel.edf": [],
    "neurokit2/bio_eventrelated_100hz.csv": ["--fs", "100"],
    "neurokit2/bio_resting_5min_100hz.csv": ["--fs", "100"],
    "neurokit2/bio_resting_8min_100hz.csv": ["--fs", "100"],
    "neurokit2/ecg_1000hz.csv": ["--fs", "1000"],
    "polar/polar_h10_converted.csv": [],
    "xdf/clock_resets.xdf": [],
    "xdf/minimal.xdf": [],
}


def reader_kwargs(opts):
    kw = {}
    it = iter(opts)
    for flag in it:
        value = next(it)
        if flag == "--fs":
            kw["fs"] = float(value)
        elif flag == "--kind":
            kw["kind"] = value
        elif flag == "--column":
            kw["columns"] = [value]
    return kw


@pytest.mark.parametrize("name", sorted(FILES))
def test_replays_to_the_end(name, tmp_path, capsys):
    path = DATA / name
    rc = main(["replay", str(path), "--out", str(tmp_path), "--no-report", *FILES[name]])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.startswith(f"Replayed {path}")
    folder = Path(out.strip().splitlines()[-1].split(": ", 1)[1])
    data = load_session(folder)
    rec = read_recording(path, **reader_kwargs(FILES[name]))
    replayed = choose_streams(rec)
    longest = max(s.duration_s for s in replayed if s.info.kind != "markers")
    assert data.ticks["t_s"][-1] >= longest - 0.25  # the last tick saw the end of the recording
    assert data.events[-1][1] == "session end" and data.meta["status"] == "ended"


#: Round trips run by default (float32 XDF with markers, int16 XDF, an irregular CSV);
#: the rest are slow tests (``make test-slow``).
QUICK_ROUNDTRIPS = {"xdf/clock_resets.xdf", "xdf/minimal.xdf", "eeg_mne/test_edf_stim_channel.edf"}


@pytest.mark.parametrize(
    "name",
    [
        n if n in QUICK_ROUNDTRIPS else pytest.param(n, marks=pytest.mark.slow)
        for n in sorted(FILES)
    ],
)
def test_lsl_roundtrip_is_exact(name):
    import pylsl

    rec = read_recording(DATA / name, **reader_kwargs(FILES[name]))
    tag = uuid.uuid4().hex[:8]
    streams = [
        s.__class__(
            s.info.__class__(
                s.info.name, s.info.kind, s.info.fs, s.info.channels, s.info.units, f"{tag}-{i}"
            ),
            s.data,
            s.timestamps,
            s.labels,
            s.dtype,
        )
        for i, s in enumerate(rec.streams)
    ]
    duration = max(s.duration_s for s in streams)
    speed = max(1.0, duration / 2.0)  # each file takes about 2 s
    ready, go = threading.Event(), threading.Event()
    result = {}

    def outlets_exist():
        ready.set()
        go.wait(10)  # LSL queues only what is pushed after an inlet's open_stream returns

    def publish():
        try:
            result["n"] = publish_streams(streams, speed=speed, ready=outlets_exist)
        except Exception as e:  # re-raised by the test below
            result["error"] = e

    th = threading.Thread(target=publish, daemon=True)
    th.start()
    assert ready.wait(10)
    inlets = []
    for i in range(len(streams)):
        info = pylsl.resolve_byprop("source_id", f"{tag}-{i}", timeout=5)[0]
        inlet = pylsl.StreamInlet(info, max_buflen=360, processing_flags=pylsl.proc_none)
        inlet.open_stream(timeout=5)
        inlets.append(inlet)
    go.set()
    got = [([], []) for _ in streams]
    deadline = pylsl.local_clock() + duration / speed + 20
    while pylsl.local_clock() < deadline:
        for inlet, (vals, times), s in zip(inlets, got, streams, strict=True):
            numeric = s.info.kind != "markers"
            x, ts = inlet.pull_chunk(timeout=0.05, max_samples=100_000, as_numpy=numeric)
            if len(ts):
                vals.append(x if numeric else np.asarray(x, dtype=object))
                times.append(np.asarray(ts))
        counts = [sum(len(t) for t in times) for _, times in got]
        if all(c >= s.n_samples for c, s in zip(counts, streams, strict=True)):
            break
    th.join(10)
    assert "error" not in result, result.get("error")
    for (vals, times), s in zip(got, streams, strict=True):
        ts = np.concatenate(times)
        assert ts.size == s.n_samples, s.info.name
        if s.info.kind == "markers":
            assert [str(v[0]) for v in np.concatenate(vals)] == list(s.labels)
            continue
        x = np.concatenate(vals).T
        assert x.dtype == np.dtype(s.dtype), s.info.name
        np.testing.assert_array_equal(x, s.data.astype(s.dtype))  # bit-exact
        if s.n_samples > 10:
            sent = np.diff(s.timestamps) / speed
            spacing = np.median(np.diff(ts))
            expected = 1.0 / (s.info.fs * speed) if s.info.fs > 0 else np.median(sent)
            if s.info.fs > 0 and abs(np.median(sent) - expected) > 0.01 * expected:
                expected = np.median(sent)  # a file whose clock disagrees with its rate
            assert abs(spacing - expected) <= 0.01 * expected, s.info.name


def test_replay_is_deterministic(tmp_path):
    from attune.sessions.config import SessionConfig
    from attune.sessions.record import MEASURED_COLUMNS
    from attune.sessions.replay_run import run_replay

    path = DATA / "neurokit2/bio_eventrelated_100hz.csv"
    runs = []
    for k in range(2):
        cfg = SessionConfig(output_dir=tmp_path / str(k), render_audio=False)
        s = run_replay(path, cfg, fs=100.0)
        ticks = load_session(s.folder).ticks
        runs.append({c: v for c, v in ticks.items() if c not in MEASURED_COLUMNS})
    assert runs[0]["t_s"].size > 500 and list(runs[0]) == list(runs[1])
    for c in runs[0]:
        np.testing.assert_array_equal(runs[0][c], runs[1][c], err_msg=c)


@pytest.mark.slow
def test_cli_replay_lsl_loop_publishes_the_file(tmp_path):
    import subprocess
    import sys

    import pylsl

    path = tmp_path / "minimal.xdf"
    path.write_bytes((DATA / "xdf/minimal.xdf").read_bytes())
    proc = subprocess.Popen(
        [sys.executable, "-m", "attune.sessions.cli", "replay", str(path), "--lsl", "--loop"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "publishing 'SendDataC'" in proc.stdout.readline()
        info = pylsl.resolve_bypred(f"name='SendDataC' and starts-with(source_id,'{path}')", 1, 10)
        inlet = pylsl.StreamInlet(info[0])
        inlet.open_stream(timeout=5)
        got = []
        while len(got) < 20:
            x, _ = inlet.pull_chunk(timeout=5.0)
            assert x, "no samples from the replaying process"
            got += x
    finally:
        proc.terminate()
        proc.wait(10)
    expected = read_recording(path).streams[0]
    rows = [tuple(r) for r in expected.data.T.astype(int)]
    # looping: what arrives is a contiguous window of the file repeated end to end
    got = [tuple(int(v) for v in s) for s in got]
    n = len(rows)
    assert any(all(g == rows[(k + i) % n] for i, g in enumerate(got)) for k in range(n))


def test_cli_streams_lists_what_is_on_the_network(capsys):
    import pylsl

    sid = f"attune-list-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo("ChestStrap", "RR", 1, 0.0, "float32", sid)
    outlet = pylsl.StreamOutlet(info)
    assert main(["streams", "--kind", "rr", "--wait", "1.5"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if sid in ln)
    assert "ChestStrap" in line and " rr " in line and "irregular" in line
    del outlet


def test_replay_cli_shows_progress_summary_and_writes_a_report(tmp_path, capsys):
    """The README's command for the NeuroKit2 resting recording, as a user runs it."""
    path = DATA / "neurokit2/bio_resting_5min_100hz.csv"
    assert main(["replay", str(path), "--fs", "100", "--out", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert "replaying: 50%" in err and "replaying: 100%" in err  # not a terminal: 10% lines
    lines = out.strip().splitlines()
    assert lines[0] == f"Replayed {path}"
    assert any(line.strip().startswith("beats ") and "mean HR" in line for line in lines)
    report = Path(lines[-1].removeprefix("Report: "))
    folder = Path(lines[-2].removeprefix("Session folder: "))
    assert report == folder / "report.html" and report.stat().st_size > 50_000
    data = load_session(folder)
    assert data.meta["mode"] == "replay" and data.ticks["t_s"][-1] >= 300.0 - 0.25
    assert 350 < data.beats["time_s"].size < 500  # ~87 bpm over 5 min
