"""Real LSL streams on loopback: a publisher in a separate process, the engine reading it.

These run in real time (the publisher paces itself); the engine's clock is LiveClock.
"""

import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from attune.engine.clocks import LiveClock
from attune.sensors.lsl_source import (
    LslSource,
    find_streams,
    format_streams_table,
    local_clock,
)
from attune.sensors.types import SensorError
from attune.sessions.config import SessionConfig
from attune.sessions.runner import run_session
from attune.sessions.state_outlets import StateOutlets
from attune.sessions.store import load_session

PUBLISHER = Path(__file__).with_name("publish_counter.py")


def start_publisher(source_id, *, n_ch, fs, dur_s, first=0):
    p = subprocess.Popen(
        [sys.executable, str(PUBLISHER), source_id, str(n_ch), str(fs), str(dur_s), str(first)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline().split()
    assert line and line[0] == "started", line
    return p, float(line[1])


class Spy:
    """Pass-through source that keeps the counter channel of what the engine received."""

    def __init__(self, src):
        self.src, self.info, self.counts, self.events = src, src.info, [], []

    @property
    def session_t0(self):
        return self.src.session_t0

    @session_t0.setter
    def session_t0(self, value):
        self.src.session_t0 = value

    def pull(self, t):
        chunk = self.src.pull(t)
        self.counts.append(chunk.data[0].copy())
        if chunk.n_samples and not hasattr(self, "first"):
            self.first = (t, float(chunk.timestamps[0]))
        return chunk

    def drain_events(self):
        out = self.src.drain_events()
        self.events += out
        return out

    def close(self):
        self.src.close()


def live_cfg(tmp_path, seconds):
    cfg = SessionConfig(output_dir=tmp_path, render_audio=False, name="live")
    phases = cfg.phases.model_copy(
        update={"baseline_s": 5.0, "match_s": seconds, "transition_s": 0.0, "maintain_s": 0.0}
    )
    return cfg.model_copy(update={"phases": phases})


@pytest.mark.slow  # real time: tens of seconds on the wall clock
def test_every_sample_exactly_once_64ch_1000hz(tmp_path):
    sid = f"attune-test-{uuid.uuid4().hex[:8]}"
    pub, _ = start_publisher(sid, n_ch=64, fs=1000.0, dur_s=32.0)
    try:
        src = Spy(LslSource(source_id=sid, stale_after_s=2.0))
        clock = LiveClock(tick_s=0.25, now=local_clock)
        assert src.info.n_channels == 64 and src.info.channels[0] == "counter"
        out = run_session(
            live_cfg(tmp_path, 30.0),
            mode="live",
            sources=[src],
            clock=clock,
            n_ticks=int(30.0 / 0.25),
        )
    finally:
        pub.wait(timeout=20)
    counts = np.concatenate(src.counts)
    assert counts.size >= 29_500  # 30 s at 1000 Hz
    # the publisher ran ~1 s before the inlet opened: that backlog is not handed over
    t_first_tick, t_first_sample = src.first
    assert t_first_tick - t_first_sample < 0.5
    assert counts[0] > 100
    d = np.diff(counts)
    assert np.all(d == 1), f"gaps or duplicates at {np.flatnonzero(d != 1)[:5]}"
    assert out.n_ticks == 120
    # live pacing: one tick per period, no drift beyond one tick over 30 s
    assert np.all(np.abs(np.diff(out.t) - 0.25) < 0.2)
    assert abs(out.t[-1] - 29.75) < 0.25


@pytest.mark.slow  # real time: tens of seconds on the wall clock
def test_stale_then_reconnected_with_same_source_id(tmp_path):
    sid = f"attune-test-{uuid.uuid4().hex[:8]}"
    stale_after = 1.0
    pub, _ = start_publisher(sid, n_ch=4, fs=250.0, dur_s=6.0)
    lsl = LslSource(source_id=sid, stale_after_s=stale_after)
    clock = LiveClock(tick_s=0.25, now=local_clock)
    src = Spy(lsl)
    restart = {}

    def listener(t, params):
        # the outage is driven from the session's own timeline
        if "stop" not in restart and pub.poll() is not None:
            restart["stop"] = float(pub.stdout.readline().split()[1]) - clock.start
        if "stop" in restart and "p2" not in restart and t >= restart["stop"] + 5.0:
            p2, t_start = start_publisher(sid, n_ch=4, fs=250.0, dur_s=30.0, first=10**6)
            restart["p2"], restart["start"] = p2, t_start - clock.start

    out = run_session(
        live_cfg(tmp_path, 18.0),
        mode="live",
        sources=[src],
        clock=clock,
        n_ticks=int(20.0 / 0.25),
        listeners=[listener],
    )
    restart["p2"].terminate()
    restart["p2"].wait(timeout=20)
    events = load_session(out.folder).events
    stale = [t for t, e in events if "stale" in e]
    back = [t for t, e in events if "reconnected" in e]
    assert len(stale) == 1 and len(back) == 1, events
    t_stale, t_back = stale[0], back[0]
    assert restart["stop"] + stale_after <= t_stale + 0.3  # not before the timeout
    assert t_stale <= restart["stop"] + stale_after + 1.0  # within 1 s after it
    assert t_back <= restart["start"] + 2.0  # reconnected within 2 s of the restart
    counts = np.concatenate(src.counts)
    assert counts.max() >= 10**6  # data from the restarted publisher arrived
    # a tick for every period, outage included
    assert out.n_ticks == 80 and np.all(np.diff(out.t) < 0.45)


def test_outlets_publish_state_music_and_markers(tmp_path):
    import pylsl

    sid = f"attune-out-{uuid.uuid4().hex[:8]}"
    outlets = StateOutlets(prefix="t", tick_s=0.25, source_id=sid)
    rows = find_streams(source_id=f"{sid}-music", wait_s=1.0)
    assert rows and rows[0].n_channels == 8
    info = pylsl.resolve_byprop("source_id", f"{sid}-state", timeout=2)[0]
    inlet = pylsl.StreamInlet(info)
    assert inlet.info().get_channel_labels()[:2] == ["arousal", "valence"]
    assert "AttuneState" in format_streams_table(find_streams(source_id=f"{sid}-state"))
    del outlets


def test_string_typed_eeg_is_rejected_with_the_stream_name():
    import pylsl

    sid = f"attune-bad-{uuid.uuid4().hex[:8]}"
    outlet = pylsl.StreamOutlet(pylsl.StreamInfo("textEEG", "EEG", 1, 10, "string", sid))
    with pytest.raises(SensorError, match="textEEG.*string"):
        LslSource(source_id=sid, session_t0=0.0, resolve_timeout_s=2.0)
    del outlet


def test_missing_stream_is_a_clear_error():
    with pytest.raises(SensorError, match="no stream with source_id='nope"):
        LslSource(source_id="nope-" + uuid.uuid4().hex, session_t0=0.0, resolve_timeout_s=0.5)


@pytest.mark.slow  # real time: tens of seconds on the wall clock
def test_live_session_publishes_its_state_tick_by_tick(tmp_path):
    import threading

    import pylsl

    from attune.sessions.config import validate_config
    from attune.sessions.live_run import run_live

    sid = f"attune-test-{uuid.uuid4().hex[:8]}"
    name = f"live-{uuid.uuid4().hex[:6]}"
    pub, _ = start_publisher(sid, n_ch=4, fs=256.0, dur_s=20.0)
    cfg = validate_config(
        {
            "name": name,
            "output_dir": str(tmp_path),
            "render_audio": False,
            "lsl_outlets": True,  # opt-in (off by default)
            "phases": {"baseline_s": 2.0, "match_s": 8.0, "transition_s": 0, "maintain_s": 0},
            "streams": [{"kind": "eeg", "source_id": sid}],
        }
    )
    result = {}
    th = threading.Thread(target=lambda: result.update(out=run_live(cfg)), daemon=True)
    th.start()
    info = pylsl.resolve_byprop("source_id", f"attune-{name}-state", timeout=10)[0]
    inlet = pylsl.StreamInlet(info)
    inlet.open_stream(timeout=5)
    rows, stamps = [], []
    while th.is_alive() or inlet.samples_available():
        x, ts = inlet.pull_chunk(timeout=0.2)
        rows += x
        stamps += ts
    pub.terminate()
    out = result["out"]
    assert out.n_ticks == 40 and not out.interrupted
    ticks = load_session(out.folder).ticks
    assert len(rows) >= 30  # every tick once the inlet was connected
    np.testing.assert_allclose(np.diff(stamps), 0.25, atol=0.05)
    n = len(rows)
    np.testing.assert_allclose([r[0] for r in rows], ticks["arousal"][-n:], atol=1e-6)
    np.testing.assert_allclose([r[2] for r in rows], ticks["confidence"][-n:], atol=1e-6)


def test_rr_and_marker_streams_arrive_with_units_and_labels():
    import pylsl

    sid = uuid.uuid4().hex[:8]
    rr_info = pylsl.StreamInfo("H10", "RR", 1, 0.0, "float32", f"rr-{sid}")
    rr_info.set_channel_labels(["RR"])
    rr_info.set_channel_units(["s"])  # seconds on the wire: Attune reads ms
    rr_out = pylsl.StreamOutlet(rr_info)
    mk_out = pylsl.StreamOutlet(pylsl.StreamInfo("Cues", "Markers", 1, 0.0, "string", f"mk-{sid}"))
    rr = LslSource(source_id=f"rr-{sid}", resolve_timeout_s=3.0)
    mk = LslSource(source_id=f"mk-{sid}", resolve_timeout_s=3.0)
    assert (rr.info.kind, rr.info.fs, rr.info.units) == ("rr", 0.0, "ms")
    assert mk.info.kind == "markers"
    now = local_clock()
    for k, v in enumerate((0.80, 0.82, 0.79)):
        rr_out.push_sample([v], now + k * 0.8)
    mk_out.push_sample(["eyes closed"], now)
    mk_out.push_sample(["eyes open"], now + 1.0)
    got_rr, got_mk = [], []
    deadline = local_clock() + 5
    while (len(got_rr) < 3 or len(got_mk) < 2) and local_clock() < deadline:
        got_rr += list(rr.pull(0.0).data[0])
        got_mk += list(mk.pull(0.0).labels)
    np.testing.assert_allclose(got_rr, [800.0, 820.0, 790.0], rtol=1e-6)
    assert got_mk == ["eyes closed", "eyes open"]
    rr.close()
    mk.close()
