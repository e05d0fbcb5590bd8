"""Live LSL streams that misbehave (issue 14): refused or flagged, never a crash.

Publishers are real outlets in this process; the session time ``t`` the source is
pulled at is driven by the test, and waits for liblsl's background work are bounded
polls, not timing.
"""

from __future__ import annotations

import time
import uuid

import numpy as np
import pylsl
import pytest

from attune.sensors.lsl_source import LslSource


def _outlet(sid: str, n_ch: int, fs: float = 250.0) -> pylsl.StreamOutlet:
    return pylsl.StreamOutlet(pylsl.StreamInfo("shape-test", "EEG", n_ch, fs, "float32", sid))


def _pull_until(src: LslSource, t: float, done, *, wall_s: float = 20.0, push=None):
    """Pull at t, t + 0.25, ... until ``done(events, chunk)``; return (t, events)."""
    events: list[str] = []
    end = time.monotonic() + wall_s
    while time.monotonic() < end:
        if push is not None:
            push()
        chunk = src.pull(t)
        events += src.drain_events()
        if done(events, chunk):
            return t, events
        t += 0.25
        time.sleep(0.05)  # let liblsl's threads deliver (a bounded poll)
    raise AssertionError(f"timed out; events: {events}")


def test_stream_back_with_another_shape_is_refused_not_a_crash():
    sid = f"attune-shape-{uuid.uuid4().hex[:8]}"
    four = _outlet(sid, 4)
    src = LslSource(source_id=sid, stale_after_s=0.5, resolve_timeout_s=2.0)
    try:
        block = np.ones((25, 4), dtype=np.float32).tolist()
        t, _ = _pull_until(
            src, 0.0, lambda ev, ch: ch.n_samples > 0, push=lambda: four.push_chunk(block)
        )
        del four  # the publisher goes away ...
        eight = _outlet(sid, 8)  # ... and another with 8 channels takes its source_id
        wide = np.ones((25, 8), dtype=np.float32).tolist()
        t, events = _pull_until(
            src,
            t,
            lambda ev, ch: any("different stream" in e for e in ev),
            push=lambda: eight.push_chunk(wide),
        )
        refused = [e for e in events if "different stream" in e]
        assert len(refused) == 1 and "8 float32 channels" in refused[0] and "was 4" in refused[0]
        # the different stream is never read: the source holds (no samples, no crash)
        for _ in range(8):
            eight.push_chunk(wide)
            assert src.pull(t).n_samples == 0
            t += 0.25
        later = src.drain_events()
        assert not any("different stream" in e for e in later)  # said once
        assert any("stale" in e for e in events + later)
        # the original shape back: read again
        four = _outlet(sid, 4)
        t, events = _pull_until(
            src, t, lambda ev, ch: ch.n_samples > 0, push=lambda: four.push_chunk(block)
        )
        assert any("reconnected" in e for e in events)
    finally:
        src.close()


class _Publisher:
    """A 250 Hz single-channel ECG outlet stamped by the test (its 'device clock')."""

    def __init__(self, sid: str, fs: float = 250.0) -> None:
        self.fs = fs
        self.outlet = pylsl.StreamOutlet(
            pylsl.StreamInfo("clock-test", "ECG", 1, fs, "float32", sid)
        )
        self.offset = 0.0  # what the publisher's clock is off by
        self.next_t = pylsl.local_clock()
        self.speed = 1.0  # samples delivered per declared sample

    def push(self) -> None:
        now = pylsl.local_clock()
        n = int((now - self.next_t) * self.fs * self.speed)
        if n <= 0:
            return
        stamps = self.next_t + np.arange(1, n + 1) / (self.fs * self.speed)
        self.next_t = float(stamps[-1])
        x = np.sin(np.arange(n, dtype=np.float32))[:, None].tolist()
        self.outlet.push_chunk(x, timestamp=(stamps + self.offset).tolist())


def _times_until(src, pub, t, wall_s, events):
    out = []
    end = time.monotonic() + wall_s
    while time.monotonic() < end:
        pub.push()
        ch = src.pull(t)
        events += src.drain_events()
        out.append(ch.timestamps.copy())
        t += 0.25
        time.sleep(0.05)
    return t, np.concatenate(out) if out else np.empty(0)


def test_publisher_clock_jumps_are_events_and_rebased_not_smeared():
    """+10 s and then -10 s jumps of the publisher's clock: two events, times re-based.

    Before: LSL's dejitter smeared the jump over minutes (heart rate read 25-38 bpm)
    and its monotonizer stamped 100+ samples with one time (RR = 0)."""
    sid = f"attune-clock-{uuid.uuid4().hex[:8]}"
    pub = _Publisher(sid)
    src = LslSource(source_id=sid, stale_after_s=2.0, resolve_timeout_s=2.0, hold_s=1.0)
    events: list[str] = []
    try:
        t, before = _times_until(src, pub, 0.0, 1.5, events)
        assert before.size > 100 and not events
        pub.offset = 10.0
        t, ahead = _times_until(src, pub, t, 2.0, events)
        pub.offset = 0.0
        t, back = _times_until(src, pub, t, 2.0, events)
    finally:
        src.close()
    jumps = [e for e in events if "clock jumped" in e]
    assert len(jumps) == 2, events
    assert "+10.0" in jumps[0] and "-10.0" in jumps[1]
    times = np.concatenate([before, ahead, back])
    d = np.diff(times)
    assert (d > 0).all()  # never two samples on one time (RR = 0)
    assert d.max() < 2.5  # no 10 s step: re-based (the holds are the only gaps)
    # the samples used run at the declared rate: nothing smeared
    assert np.median(d) == pytest.approx(1 / 250.0, rel=0.01)
    assert times[-1] <= pylsl.local_clock() + 0.5


def test_a_stream_at_twice_its_declared_rate_is_an_event_and_held():
    sid = f"attune-rate-{uuid.uuid4().hex[:8]}"
    pub = _Publisher(sid)
    pub.speed = 2.0
    src = LslSource(source_id=sid, stale_after_s=5.0, resolve_timeout_s=2.0, rate_window_s=1.0)
    events: list[str] = []
    try:
        _, times = _times_until(src, pub, 0.0, 3.0, events)
        held = []
        for _ in range(4):
            pub.push()
            time.sleep(0.05)
            held.append(src.pull(100.0).n_samples)
    finally:
        src.close()
    rate = [e for e in events if "implausible sampling rate" in e]
    assert len(rate) == 1 and "declares 250 Hz" in rate[0], events
    assert held == [0, 0, 0, 0]  # not silently used
