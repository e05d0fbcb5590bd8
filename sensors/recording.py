"""What the readers return: :class:`RecordedStream` and :class:`Recording`.

A :class:`RecordedStream` holds its samples either in memory (``data`` and ``timestamps``
arrays) or on disk behind a :class:`BlockReader` (EDF, BDF, FIF and BrainVision files
read through mne without preloading). Both kinds answer :meth:`RecordedStream.read` for a
range of samples, which is what :class:`~attune.sensors.file_source.FileSource` uses, so
a replay holds one block of a long recording at a time; the ``data`` and ``timestamps``
attributes of an on-disk stream read the whole stream (once, then kept) for callers that
want it all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from attune.sensors.types import SensorError, StreamInfo, check_block


class BlockReader(Protocol):
    """Reads consecutive samples of one stream from disk, in Attune's units.

    Attributes
    ----------
    n_samples : int
        Number of samples in the stream.
    t_first, t_last : float
        Timestamps of the first and last samples, seconds (recording clock).
    """

    n_samples: int
    t_first: float
    t_last: float

    def read(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(data, timestamps)`` of samples ``k0`` to ``k1`` (exclusive).

        ``data`` is shaped ``(n_channels, k1 - k0)``, float64 and finite; ``timestamps``
        ``(k1 - k0,)``, float64, equal to what reading the whole stream gives there.
        """
        ...

    def subset(self, idx: Sequence[int]) -> BlockReader:
        """Return the same reader restricted to channels ``idx`` (positions in it)."""
        ...


class _Samples:
    """Descriptor of ``data``/``timestamps``: the arrays given, or read from the reader.

    An on-disk stream reads its samples whole on first access (then keeps them); a
    reader that holds its timestamps in memory (``reader.times``) gives them without
    reading any sample.
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.slot = f"_s_{name}"

    def __get__(self, obj: object, objtype: type | None = None) -> np.ndarray | None:
        if obj is None:
            return None  # the dataclass default
        d = obj.__dict__
        value = d.get(self.slot)
        reader = d.get("reader")
        if value is None and reader is not None:
            held = getattr(reader, "times", None)
            if self.name == "timestamps" and isinstance(held, np.ndarray):
                return held
            obj._load()  # type: ignore[attr-defined]
            value = d.get(self.slot)
        return value

    def __set__(self, obj: object, value: np.ndarray | None) -> None:
        obj.__dict__[self.slot] = value


@dataclass(eq=False, repr=False)
class RecordedStream:
    """One stream of a recording, in Attune's units, in memory or read in blocks.

    Parameters
    ----------
    info : StreamInfo
        Kind (``eeg|ecg|ppg|rr|hr|markers``), nominal ``fs`` in Hz (0 for irregular
        streams), channel labels, units (``"uV"`` EEG, ``"mV"`` ECG, ``"ms"`` RR,
        ``"bpm"`` device heart rate, ``"au"`` PPG, ``""`` markers) and a stable
        ``source_id`` (file path and stream).
    data : ndarray, shape (n_channels, n), float64, optional
        Samples in ``info.units``, finite; markers: zeros shaped ``(1, n)``. Leave out
        (with ``timestamps``) when ``reader`` is given.
    timestamps : ndarray, shape (n,), float64, optional
        Sample times in seconds on the recording's clock, non-decreasing.
    labels : tuple of str
        Marker strings (``kind == "markers"``), one per sample; empty otherwise.
    dtype : str
        LSL channel format that holds ``data`` exactly, for bit-exact republishing:
        the file's own format when the values are unchanged (XDF ``"float32"``,
        ``"int16"``, ...), ``"float32"`` for values converted to Attune's units from a
        32-bit-or-narrower file (rounded to float32), ``"float64"`` otherwise;
        ``"string"`` for markers.
    reader : BlockReader, optional
        Where the samples are when they are not in memory.

    Raises
    ------
    SensorError
        If the arrays do not fit ``info``, hold NaN or inf, or the timestamps go back.
    """

    info: StreamInfo
    data: np.ndarray = _Samples()  # type: ignore[assignment]
    timestamps: np.ndarray = _Samples()  # type: ignore[assignment]
    labels: tuple[str, ...] = ()
    dtype: str = "float64"
    reader: BlockReader | None = None

    def __post_init__(self) -> None:
        self.labels = tuple(self.labels)
        name = self.info.name
        data, timestamps = self._data, self._timestamps
        if data is None and timestamps is None and self.reader is not None:
            if self.labels:
                raise SensorError(f"stream {name!r}: marker streams are held in memory")
            return
        if data is None or timestamps is None:
            raise SensorError(f"stream {name!r}: needs data and timestamps (or a reader)")
        self.reader = None  # arrays given (e.g. by dataclasses.replace): they are the stream
        check_block(self.info, data, timestamps, self.labels)
        if data.size and not np.isfinite(data).all():
            raise SensorError(f"stream {name!r}: data must be finite (found NaN or inf)")
        if timestamps.size > 1 and np.any(np.diff(timestamps) < 0):
            raise SensorError(f"stream {name!r}: timestamps must be non-decreasing")

    @property
    def _data(self) -> np.ndarray | None:
        return self.__dict__.get("_s_data")

    @property
    def _timestamps(self) -> np.ndarray | None:
        return self.__dict__.get("_s_timestamps")

    def __repr__(self) -> str:
        where = "on disk" if self.lazy else "in memory"
        return f"RecordedStream({self.info!r}, n_samples={self.n_samples}, {where})"

    # ------------------------------------------------------------------ access
    @property
    def lazy(self) -> bool:
        """True when the samples stay on disk until read."""
        return self.reader is not None and self._data is None

    def _load(self) -> None:
        assert self.reader is not None
        data, ts = self.reader.read(0, self.reader.n_samples)
        self.__dict__["_s_data"], self.__dict__["_s_timestamps"] = data, ts

    def read(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """Return samples ``k0`` to ``k1`` (exclusive) as ``(data, timestamps)``.

        Views of the arrays for an in-memory stream; a fresh block read from the file
        for an on-disk one. Identical values either way.
        """
        if self.reader is not None and self._data is None:
            k1 = min(k1, self.reader.n_samples)
            return self.reader.read(k0, max(k0, k1))
        return self.data[:, k0:k1], self.timestamps[k0:k1]

    @property
    def n_samples(self) -> int:
        """Number of samples."""
        if self._timestamps is not None:
            return int(self._timestamps.size)
        assert self.reader is not None
        return int(self.reader.n_samples)

    @property
    def t_first(self) -> float:
        """Timestamp of the first sample, seconds (0.0 if empty)."""
        if self._timestamps is not None:
            return float(self._timestamps[0]) if self._timestamps.size else 0.0
        assert self.reader is not None
        return float(self.reader.t_first)

    @property
    def t_last(self) -> float:
        """Timestamp of the last sample, seconds (0.0 if empty)."""
        if self._timestamps is not None:
            return float(self._timestamps[-1]) if self._timestamps.size else 0.0
        assert self.reader is not None
        return float(self.reader.t_last)

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample (plus one period if regular), seconds."""
        if self.n_samples == 0:
            return 0.0
        span = self.t_last - self.t_first
        return span + (1.0 / self.info.fs if self.info.fs > 0 else 0.0)

    def with_channels(self, idx: Sequence[int]) -> RecordedStream:
        """Return the stream restricted to channels ``idx`` (in this order).

        Channel subsets of in-memory streams are views when the channels are
        contiguous, copies otherwise; on-disk streams stay on disk.
        """
        idx = list(idx)
        if idx == list(range(self.info.n_channels)):
            return self
        info = replace(self.info, channels=tuple(self.info.channels[i] for i in idx))
        if self.lazy:
            assert self.reader is not None
            return RecordedStream(info, dtype=self.dtype, reader=self.reader.subset(idx))
        if idx == list(range(idx[0], idx[0] + len(idx))):
            data = self.data[idx[0] : idx[0] + len(idx)]  # a view
        else:
            data = self.data[idx]
        return RecordedStream(info, data, self.timestamps, self.labels, self.dtype)

    def with_times(self, timestamps: np.ndarray) -> RecordedStream:
        """Return the same samples at other times (on disk if the reader can move them)."""
        if self.lazy and hasattr(self.reader, "with_times"):
            reader = self.reader.with_times(timestamps)  # type: ignore[union-attr]
            return RecordedStream(self.info, dtype=self.dtype, reader=reader)
        return RecordedStream(self.info, self.data, timestamps, self.labels, self.dtype)


@dataclass(frozen=True)
class Recording:
    """Everything read from one file.

    Attributes
    ----------
    path : Path
        The file.
    streams : tuple of RecordedStream
        Its streams (at least one).
    warnings : tuple of str
        Handled conditions, one line each: NaN runs filled or cut, time gaps and
        jumps, timestamps dejittered or resampled, clock resets, empty streams skipped,
        channels left out, truncated files.
    """

    path: Path
    streams: tuple[RecordedStream, ...]
    warnings: tuple[str, ...] = ()

    @property
    def start(self) -> float:
        """Earliest timestamp over all streams, seconds (recording clock)."""
        firsts = [s.t_first for s in self.streams if s.n_samples]
        return float(min(firsts)) if firsts else 0.0
