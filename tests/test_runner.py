"""The session run: typed source seams (session start, source events), steps, outcome."""

import uuid
from pathlib import Path

import numpy as np
import pylsl
import pytest

from attune.engine.clocks import LiveClock, VirtualClock
from attune.sensors.file_source import file_sources
from attune.sensors.lsl_source import LslSource, local_clock
from attune.sensors.readers import read_recording
from attune.sensors.simulated_listener import SimulatedListener
from attune.sensors.types import LiveSource
from attune.sessions.config import SessionConfig
from attune.sessions.runner import RunSpec, SessionRun, run_session
from attune.sessions.store import load_session

DATA = Path(__file__).parent / "data"


def quiet_cfg(tmp_path, **kw):
    cfg = SessionConfig(output_dir=tmp_path, render_audio=False, lsl_outlets=False, **kw)
    return cfg.model_copy(
        update={"control": cfg.control.model_copy(update={"command_channel": False})}
    )


def test_file_and_simulated_sources_need_no_session_start():
    rec = read_recording(DATA / "polar" / "polar_h10_converted.csv")
    for src in [*file_sources(rec.streams), *SimulatedListener(seed=0).sources()]:
        assert not isinstance(src, LiveSource)


def test_live_inlet_is_told_the_start_and_its_events_are_recorded(tmp_path):
    """A real LSL inlet: the runner sets its session start and records its stale event."""
    ecg = read_recording(DATA / "biosppy" / "ecg.txt").streams[0]
    sid = f"attune-runner-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo("ecg-test", "ECG", 1, ecg.info.fs, "float32", sid)
    outlet = pylsl.StreamOutlet(info)
    src = LslSource(source_id=sid, stale_after_s=0.5, resolve_timeout_s=1.0)
    assert isinstance(src, LiveSource)
    clock = LiveClock(tick_s=0.25, now=local_clock)
    sent = [0]
    per_tick = int(ecg.info.fs * 0.25)

    def push(t, params):  # samples for the first second only, then the stream goes quiet
        if t < 1.0:
            x = ecg.data[0, sent[0] : sent[0] + per_tick].astype(np.float32)
            outlet.push_chunk(x[:, None].tolist())
            sent[0] += per_tick

    try:
        out = run_session(
            quiet_cfg(tmp_path),
            mode="live",
            sources=[src],
            clock=clock,
            n_ticks=10,
            listeners=[push],
        )
    finally:
        src.close()
    assert src.session_t0 == clock.start
    assert src.n_received > 0
    events = [e for _, e in load_session(out.folder).events]
    stale = "ALARM medium stale-sensor: stream 'ecg-test' stale: no samples for 0.5 s"
    assert stale in events, events  # an alarm for the console and the report


def test_session_run_steps_match_run_session(tmp_path):
    """The object and the shorthand give the same ticks (and stop the same way)."""
    cfg = quiet_cfg(tmp_path, seed=3)
    cfg = cfg.model_copy(
        update={"phases": cfg.phases.model_copy(update={"baseline_s": 10.0, "match_s": 20.0})}
    )
    n = int(cfg.phases.total_s / cfg.tick_s) // 10
    outs = []
    for use_object in (True, False):
        sources = SimulatedListener(seed=3).sources()
        kw = dict(
            mode="simulate", sources=sources, clock=VirtualClock(tick_s=cfg.tick_s), n_ticks=n
        )
        outs.append(SessionRun(cfg, RunSpec(**kw)).run() if use_object else run_session(cfg, **kw))
    a, b = (load_session(o.folder).ticks for o in outs)
    for col in a:
        if col not in ("latency_ms", "compute_ms"):
            assert (
                np.array_equal(a[col], b[col])
                if a[col].dtype.kind != "f"
                else np.array_equal(a[col], b[col], equal_nan=True)
            ), col
    assert outs[0].n_ticks == n and not outs[0].interrupted
    assert outs[0].t == pytest.approx(np.arange(n) * cfg.tick_s)


def test_stop_fades_out_then_closes(tmp_path):
    cfg = quiet_cfg(tmp_path)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 200  # after 50 s of session time

    out = run_session(
        cfg,
        mode="simulate",
        sources=SimulatedListener(seed=0).sources(),
        clock=VirtualClock(tick_s=cfg.tick_s),
        n_ticks=int(cfg.phases.total_s / cfg.tick_s),
        stop=stop,
    )
    data = load_session(out.folder)
    assert out.interrupted and 200 < out.n_ticks < 200 + 8 * 4 + 10  # fade (5 s) + ramp (1 s)
    assert data.ticks["fade"][-1] == 0.0
    assert data.meta["status"] == "interrupted"
    assert data.events[-1][1] == "session interrupted"


def test_an_error_mid_session_is_recorded_as_failed(tmp_path):
    """A crash in a tick keeps every tick before it, closes the store as failed, and raises."""
    cfg = quiet_cfg(tmp_path)

    def listener(t, params):
        if t >= 5.0:
            raise RuntimeError("listener broke")

    with pytest.raises(RuntimeError, match="listener broke"):
        run_session(
            cfg,
            mode="simulate",
            sources=SimulatedListener(seed=0).sources(),
            clock=VirtualClock(tick_s=cfg.tick_s),
            n_ticks=100,
            listeners=[listener],
        )
    (folder,) = tmp_path.iterdir()
    data = load_session(folder)
    assert data.meta["status"] == "failed"
    assert data.events[-1][1] == "session failed: RuntimeError: listener broke"
    # tick 20 (t = 5 s) raised inside the engine step, before it was written
    assert data.ticks["t_s"].size == 20
