"""Replay a recorded stream on the virtual clock: :class:`FileSource`.

A :class:`FileSource` is a :class:`~attune.sensors.types.Source` over one
:class:`~attune.sensors.recording.RecordedStream`: ``pull(t)`` hands over every sample
whose session-clock timestamp is <= ``t`` and that was not handed over before.

Streams held in memory are handed over as views into the recording (no copies,
O(new samples) per pull). Streams left on disk (EDF, BDF, FIF, BrainVision) are read
block by block (:data:`BLOCK_S` seconds) as the session clock reaches them, so a
replay holds one block at a time however long the recording is; the samples and
timestamps handed over are identical to reading the whole stream first.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from attune.sensors.recording import RecordedStream
from attune.sensors.types import Chunk, SensorError, StreamInfo, empty_chunk

#: Seconds of an on-disk stream read at a time.
BLOCK_S = 10.0


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
        common start (:attr:`~attune.sensors.recording.Recording.start`, or use
        :func:`file_sources`) to keep several streams of one file aligned.
    block_s : float or None
        Seconds read at a time from an on-disk stream (:data:`BLOCK_S`); None reads
        the whole stream at the first pull. In-memory streams are never copied.

    Attributes
    ----------
    info : StreamInfo
        The stream's metadata.

    Notes
    -----
    Session timestamps are ``timestamps - origin + t0``, computed once per block (one
    float64 per sample). The chunks' ``data`` and ``timestamps`` are read-only views
    into the current block (into the recording for in-memory streams), or copies when
    a pull spans two blocks; consumers must copy what they want to modify. Not
    thread-safe: one consumer (the engine tick).
    """

    def __init__(
        self,
        stream: RecordedStream,
        *,
        t0: float = 0.0,
        origin: float | None = None,
        block_s: float | None = BLOCK_S,
    ):
        self.stream = stream
        self.info: StreamInfo = stream.info
        if origin is None:
            origin = stream.t_first
        if not (np.isfinite(t0) and np.isfinite(origin)):
            raise SensorError(
                f"stream {stream.info.name!r}: t0 and origin must be finite, got {t0!r}, {origin!r}"
            )
        if block_s is not None and not (np.isfinite(block_s) and block_s > 0):
            raise SensorError(f"stream {stream.info.name!r}: block_s must be > 0, got {block_s!r}")
        self.t0 = float(t0)
        self.origin = float(origin)
        self._n = stream.n_samples
        fs = stream.info.fs
        if stream.lazy and block_s is not None and fs > 0:
            self._block = max(1, int(round(block_s * fs)))
        else:
            self._block = max(1, self._n)
        self._labels = stream.labels
        self._next = 0
        self._b0 = 0  # index of the first sample of the block in memory
        self._bt = np.empty(0)  # its session timestamps
        self._bx = np.empty((stream.info.n_channels, 0))

    def _load(self, k0: int) -> None:
        data, ts = self.stream.read(k0, min(self._n, k0 + self._block))
        t = ts - self.origin + self.t0
        t.flags.writeable = False
        x = data.view()
        x.flags.writeable = False
        self._b0, self._bt, self._bx = k0, t, x

    @property
    def done(self) -> bool:
        """True once every sample has been handed over."""
        return self._next >= self._n

    @property
    def duration_s(self) -> float:
        """Length of the stream (first to last sample, plus one period if regular), s."""
        return self.stream.duration_s

    @property
    def end_t(self) -> float:
        """Session time at which the last sample becomes available, seconds."""
        return self.stream.t_last - self.origin + self.t0 if self._n else self.t0

    @property
    def next_t(self) -> float:
        """Session time of the next sample not handed over yet (inf when done), seconds.

        A replay may jump its clock to the earliest ``next_t`` of its sources when
        nothing is due before it (a gap), instead of ticking through the gap.
        """
        if self.done:
            return float("inf")
        if self._next >= self._b0 + self._bt.size:
            self._load(self._next)
        return float(self._bt[self._next - self._b0])

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
            Read-only samples; empty if nothing is due.
        """
        k_start = self._next
        xs, ts = [], []
        while self._next < self._n:
            if self._next >= self._b0 + self._bt.size:
                self._load(self._next)
            i0 = self._next - self._b0
            i1 = int(self._bt.searchsorted(t, side="right"))  # method: no dispatch layer
            if i1 <= i0:
                break
            xs.append(self._bx[:, i0:i1])
            ts.append(self._bt[i0:i1])
            self._next = self._b0 + i1
            if i1 < self._bt.size:
                break
        if not ts:
            return empty_chunk(self.info)
        labels = self._labels[k_start : self._next] if self._labels else ()
        if len(ts) == 1:
            return Chunk(self.info, xs[0], ts[0], labels)
        return Chunk(self.info, np.hstack(xs), np.concatenate(ts), labels)


def file_sources(
    streams: Sequence[RecordedStream], *, t0: float = 0.0, block_s: float | None = BLOCK_S
) -> list[FileSource]:
    """One :class:`FileSource` per stream, all sharing one origin (kept aligned).

    Parameters
    ----------
    streams : sequence of RecordedStream
        Streams of one recording (e.g. from :func:`~attune.sensors.readers.select_streams`).
    t0 : float
        Session time, in seconds, of the earliest sample over all the streams.
    block_s : float or None
        Seconds read at a time from on-disk streams (see :class:`FileSource`).

    Returns
    -------
    list of FileSource
    """
    firsts = [s.t_first for s in streams if s.n_samples]
    origin = min(firsts) if firsts else 0.0
    return [FileSource(s, t0=t0, origin=origin, block_s=block_s) for s in streams]
