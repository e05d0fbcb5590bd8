"""Replay a recorded stream on the virtual clock: :class:`FileSource`.

A :class:`FileSource` is a :class:`~attune.sensors.types.Source` over one
:class:`~attune.sensors.readers.RecordedStream`: ``pull(t)`` hands over every sample whose
session-clock timestamp is <= ``t`` and that was not handed over before, as views into
the recording (no copies of the recording, O(new samples) per pull).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attune.sensors.readers import RecordedStream
from attune.sensors.types import Chunk, SensorError, StreamInfo, empty_chunk


class FileSource:
    """Hand over a recorded stream's samples as session time passes.

    Parameters
    ----------
    stream : RecordedStream
        The stream to replay.
    t0 : float
        Session time, in seconds, at which the recording's ``origin`` falls.
    origin : float, optional
        Recording-clock time, in seconds, mapped to ``t0``. Defaults to the stream's
        first timestamp (its first sample is then at ``t0``). Give the recording's
        common start (:attr:`~attune.sensors.readers.Recording.start`, or use
        :func:`file_sources`) to keep several streams of one file aligned.

    Attributes
    ----------
    info : StreamInfo
        The stream's metadata.

    Notes
    -----
    Session timestamps are ``timestamps - origin + t0``, computed once (one float64 per
    sample). The chunks' ``data`` and ``timestamps`` are read-only views into the
    recording; consumers must copy what they want to modify. Not thread-safe: one
    consumer (the engine tick).
    """

    def __init__(self, stream: RecordedStream, *, t0: float = 0.0, origin: float | None = None):
        self.stream = stream
        self.info: StreamInfo = stream.info
        ts = stream.timestamps
        if origin is None:
            origin = float(ts[0]) if ts.size else 0.0
        if not (np.isfinite(t0) and np.isfinite(origin)):
            raise SensorError(
                f"stream {stream.info.name!r}: t0 and origin must be finite, got {t0!r}, {origin!r}"
            )
        self.t0 = float(t0)
        self.origin = float(origin)
        self._t = ts - self.origin + self.t0
        self._t.flags.writeable = False
        self._data = stream.data.view()
        self._data.flags.writeable = False
        self._labels = stream.labels
        self._next = 0

    @property
    def done(self) -> bool:
        """True once every sample has been handed over."""
        return self._next >= self._t.size

    @property
    def duration_s(self) -> float:
        """Length of the stream (first to last sample, plus one period if regular), s."""
        return self.stream.duration_s

    @property
    def end_t(self) -> float:
        """Session time at which the last sample becomes available, seconds."""
        return float(self._t[-1]) if self._t.size else self.t0

    @property
    def n_delivered(self) -> int:
        """Number of samples handed over so far."""
        return self._next

    def pull(self, t: float) -> Chunk:
        """Return every sample with session timestamp <= ``t`` not handed over before.

        Parameters
        ----------
        t : float
            Session time, seconds.

        Returns
        -------
        Chunk
            Views into the recording (read-only); empty if nothing is due.
        """
        k0 = self._next
        k1 = int(self._t.searchsorted(t, side="right"))  # method: no dispatch layer
        if k1 <= k0:
            return empty_chunk(self.info)
        self._next = k1
        labels = self._labels[k0:k1] if self._labels else ()
        return Chunk(self.info, self._data[:, k0:k1], self._t[k0:k1], labels)


def file_sources(streams: Sequence[RecordedStream], *, t0: float = 0.0) -> list[FileSource]:
    """One :class:`FileSource` per stream, all sharing one origin (kept aligned).

    Parameters
    ----------
    streams : sequence of RecordedStream
        Streams of one recording (e.g. from :func:`~attune.sensors.readers.select_streams`).
    t0 : float
        Session time, in seconds, of the earliest sample over all the streams.

    Returns
    -------
    list of FileSource
    """
    firsts = [float(s.timestamps[0]) for s in streams if s.timestamps.size]
    origin = min(firsts) if firsts else 0.0
    return [FileSource(s, t0=t0, origin=origin) for s in streams]
