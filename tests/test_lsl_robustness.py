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
