"""Publish recorded streams as LSL outlets in real time (``attune replay --lsl``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
import pylsl  # liblsl reads LSLAPICFG, set by attune.sensors, when it loads

from attune.sensors.lsl_source import CHANNEL_FORMAT
from attune.sensors.readers import RecordedStream
from attune.sensors.types import SensorError


def _outlet_for(stream: RecordedStream, *, speed: float) -> pylsl.StreamOutlet:
    """Create an outlet matching a recorded stream's name, kind, channels and format."""
    info = stream.info
    fmt = "string" if info.kind == "markers" else stream.dtype
    if fmt not in CHANNEL_FORMAT:
        fmt = "float64"
    lsl_info = pylsl.StreamInfo(
        info.name,
        "Markers" if info.kind == "markers" else info.kind.upper(),
        info.n_channels,
        info.fs * speed,
        CHANNEL_FORMAT[fmt],
        info.source_id or info.name,
    )
    if info.kind != "markers":
        lsl_info.set_channel_labels(list(info.channels))
        lsl_info.set_channel_units([info.units] * info.n_channels)
    return pylsl.StreamOutlet(lsl_info, chunk_size=0, max_buffered=60)


def publish_streams(
    streams: Sequence[RecordedStream],
    *,
    speed: float = 1.0,
    loop: bool = False,
    stop: Callable[[], bool] | None = None,
    poll_s: float = 0.005,
    ready: Callable[[], None] | None = None,
    wait_for_consumers_s: float = 0.0,
    linger_s: float = 1.0,
) -> int:
    """Publish recorded streams as LSL outlets in real time (or ``speed`` x faster).

    Each stream keeps its name, kind (as the LSL type), channel labels, units and
    original sample format, so float32 data arrive bit-exact. Timestamps are the
    recording's, re-based to the moment publishing starts and divided by ``speed``;
    the nominal rate is ``fs * speed``.

    Parameters
    ----------
    streams : sequence of RecordedStream
        What to publish.
    speed : float
        Replay speed factor (> 0).
    loop : bool
        Start over at the end (each pass continues the timeline).
    stop : callable, optional
        Polled between pushes; publishing ends when it returns True.
    poll_s : float
        Pause between pushes, seconds (sets the chunk size: ``fs * speed * poll_s``).
    ready : callable, optional
        Called once the outlets exist, before the first sample.
    wait_for_consumers_s : float
        Wait up to this long for every outlet to have a consumer before the first
        sample (LSL delivers only what is pushed after an inlet connects); 0: start at
        once.
    linger_s : float
        Keep the outlets open this long after the last sample, so liblsl delivers
        what is still in its send buffers before the outlets are destroyed.

    Returns
    -------
    int
        Number of samples pushed, over all streams.
    """
    if speed <= 0:
        raise SensorError(f"replay speed must be > 0, got {speed!r}")
    outlets = [_outlet_for(s, speed=speed) for s in streams]
    starts = [float(s.timestamps[0]) for s in streams if s.timestamps.size]
    if not starts:
        raise SensorError("nothing to publish: every selected stream is empty")
    rec_t0 = min(starts)
    rec_end = max(float(s.timestamps[-1]) for s in streams if s.timestamps.size)
    last_step = max((1.0 / s.info.fs for s in streams if s.info.fs > 0), default=0.0)
    period = rec_end - rec_t0 + last_step
    native = [
        None if s.info.kind == "markers" else np.ascontiguousarray(s.data.T.astype(s.dtype))
        for s in streams
    ]
    if ready is not None:
        ready()
    for out in outlets:
        if wait_for_consumers_s > 0 and not out.wait_for_consumers(wait_for_consumers_s):
            raise SensorError(f"no consumer connected within {wait_for_consumers_s} s")
    wall0 = pylsl.local_clock()
    cursors = [0] * len(streams)
    offset = 0.0  # recording seconds added by earlier loop passes
    pushed = 0
    while stop is None or not stop():
        pos = rec_t0 + (pylsl.local_clock() - wall0) * speed - offset
        for i, (s, out) in enumerate(zip(streams, outlets, strict=True)):
            hi = int(np.searchsorted(s.timestamps, pos, side="right"))
            lo = cursors[i]
            if hi <= lo:
                continue
            stamps = wall0 + (s.timestamps[lo:hi] - rec_t0 + offset) / speed
            block = native[i]
            out.push_chunk(
                list(s.labels[lo:hi]) if block is None else block[lo:hi], stamps.tolist()
            )
            pushed += hi - lo
            cursors[i] = hi
        if all(c >= s.timestamps.size for c, s in zip(cursors, streams, strict=True)):
            if not loop:
                break
            cursors = [0] * len(streams)
            offset += period
        time.sleep(poll_s)
    if stop is None or not stop():
        time.sleep(linger_s)
    return pushed
