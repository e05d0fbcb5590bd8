"""The data every source hands over: :class:`StreamInfo` and :class:`Chunk`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np

StreamKind = Literal["eeg", "ecg", "ppg", "rr", "hr", "markers"]
STREAM_KINDS: tuple[str, ...] = ("eeg", "ecg", "ppg", "rr", "hr", "markers")


class SensorError(Exception):
    """A source or its data is not what Attune expects (the message names which and why)."""


class StreamLostError(SensorError):
    """A stream stopped delivering samples."""


@dataclass(frozen=True)
class StreamInfo:
    """Metadata of one stream.

    Parameters
    ----------
    name : str
        Stream name (as on LSL, or derived from the file).
    kind : {"eeg", "ecg", "ppg", "rr", "hr", "markers"}
        What the samples are (``hr``: a device's own heart rate, e.g. a chest strap's).
    fs : float
        Nominal sampling rate in Hz; 0 for irregular streams (RR intervals, markers).
    channels : tuple of str
        Channel labels, one per row of :attr:`Chunk.data`.
    units : str
        Physical unit of the samples: ``"uV"`` for EEG, ``"mV"`` for ECG, ``"ms"`` for RR
        intervals, ``"bpm"`` for a device's heart rate, ``"au"`` for PPG.
    source_id : str
        A stable identifier of the device or file, used to reconnect.
    """

    name: str
    kind: StreamKind
    fs: float
    channels: tuple[str, ...]
    units: str
    source_id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in STREAM_KINDS:
            raise SensorError(
                f"stream {self.name!r}: kind {self.kind!r} is not one of {STREAM_KINDS}"
            )
        if not np.isfinite(self.fs) or self.fs < 0:
            raise SensorError(f"stream {self.name!r}: fs must be >= 0 Hz, got {self.fs!r}")
        if len(self.channels) == 0:
            raise SensorError(f"stream {self.name!r}: needs at least one channel")

    @property
    def n_channels(self) -> int:
        """Number of channels."""
        return len(self.channels)


@dataclass(frozen=True)
class Chunk:
    """A block of consecutive samples of one stream.

    Attributes
    ----------
    info : StreamInfo
        The stream the samples belong to.
    data : ndarray, shape (n_channels, n_samples), float64
        Samples, time last, in ``info.units``.
    timestamps : ndarray, shape (n_samples,), float64
        Sample times in seconds on the session clock (LSL seconds live, virtual seconds in
        replay and simulation), non-decreasing.
    labels : tuple of str
        For ``kind == "markers"`` streams: one string per sample (``data`` is then
        shaped ``(1, n_samples)`` and holds zeros). Empty for numeric streams.
    """

    info: StreamInfo
    data: np.ndarray
    timestamps: np.ndarray = field(repr=False)
    labels: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        check_block(self.info, self.data, self.timestamps, self.labels)

    @property
    def n_samples(self) -> int:
        """Number of samples in the chunk."""
        return int(self.data.shape[1])


def check_block(
    info: StreamInfo, data: np.ndarray, timestamps: np.ndarray, labels: tuple[str, ...] = ()
) -> None:
    """Check that samples fit their stream: data ``(n_channels, n)``, ``n`` timestamps/labels.

    Raises
    ------
    SensorError
        Naming the stream and the shapes found.
    """
    if data.ndim != 2 or data.shape[0] != info.n_channels:
        raise SensorError(
            f"stream {info.name!r}: data must be shaped ({info.n_channels}, n_samples), "
            f"got {data.shape}"
        )
    if timestamps.shape != (data.shape[1],):
        raise SensorError(
            f"stream {info.name!r}: {data.shape[1]} samples but {timestamps.shape} timestamps"
        )
    if (labels or info.kind == "markers") and len(labels) != data.shape[1]:
        raise SensorError(
            f"stream {info.name!r}: {data.shape[1]} samples but {len(labels)} marker labels"
        )


def empty_chunk(info: StreamInfo) -> Chunk:
    """Return a chunk with no samples for ``info``."""
    return Chunk(info, np.empty((info.n_channels, 0)), np.empty(0))


class Source(Protocol):
    """Anything that hands over samples up to a time: LSL inlet, file replay, simulator."""

    info: StreamInfo

    def pull(self, t: float) -> Chunk:
        """Return every sample with timestamp <= ``t`` not handed over before."""
        ...


@runtime_checkable
class LiveSource(Source, Protocol):
    """A source on an external clock that reports what happened to its stream (LSL inlet).

    The session runner sets :attr:`session_t0` once the clock has started, records what
    :meth:`drain_events` returns each tick, and closes the source at the end. Test with
    ``isinstance(src, LiveSource)`` rather than ``hasattr``.

    Attributes
    ----------
    session_t0 : float
        External clock reading of session time 0, seconds; chunk timestamps are external
        time minus this.
    """

    session_t0: float

    def drain_events(self) -> list[str]:
        """Return and forget the events since the last call (stream lost, recovered...)."""
        ...

    def close(self) -> None:
        """Release the stream."""
        ...
