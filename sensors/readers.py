"""Read recorded biosignal files into :class:`Recording` objects for replay.

One entry point, :func:`read_recording`, reads

* XDF (``.xdf``, ``.xdfz``; LabRecorder) with pyxdf: every stream, clock offsets
  applied and timestamps dejittered by pyxdf, string marker streams as labels;
* EDF, BDF, FIF and BrainVision (``.edf``, ``.bdf``, ``.fif``, ``.fif.gz``, ``.vhdr``)
  with mne, *without loading the samples*: their streams stay on disk and are read in
  blocks as a replay reaches them (:class:`~attune.sensors.recording.RecordedStream`);
  volts converted to uV (EEG) and mV (ECG), trigger channels and annotations as
  markers;
* delimited text (``.csv``, ``.tsv``, ``.txt``): a header row or none, ``#`` comment
  lines (BioSPPy's ``# Sampling Rate (Hz):= 1000.00`` and ``# Labels:= ECG`` are
  read), a time column (:data:`TIME_COLUMNS`) or a given ``fs``; Polar H10 exports
  (``time_ns, ecg_mV, hr_bpm, rr_ms``), muse-lsl (``timestamps, TP9, AF7, AF8, TP10,
  Right AUX[, Marker0]``) and Mind Monitor Muse exports.

Channels are classified (:mod:`attune.sensors.channels`) and grouped into one
:class:`RecordedStream` per kind: ``eeg`` (uV), ``ecg`` (mV), ``ppg`` (au), ``rr``
(ms, one sample per beat, irregular), ``hr`` (a device's own heart rate in bpm, e.g.
Polar ``hr_bpm``, irregular) and ``markers`` (trigger channels, text marker columns,
numeric marker columns such as muse-lsl's ``Marker0``: a marker where the value turns
non-zero). EOG, auxiliary and other channels are left out (with a warning) unless
picked by ``columns``.

Time (:mod:`attune.sensors.timebase`): timestamps read from a text file are put on a
uniform grid at the real rate, estimated robustly (least squares of time on sample
index) unless given: when every sample lies within the jitter tolerance of the grid,
the timestamps are replaced by it (dejittered; steps back are counted in a warning);
otherwise the samples are irregular and are interpolated onto it (Polar H10 ECG). Only a
step back longer than the tolerance is an error. A forward jump longer than
:data:`~attune.sensors.timebase.MAX_GAP_S` becomes a gap of that length, so a replay
does not tick through it. Sampling rates outside 1 Hz to 100 kHz are refused.

Inputs cannot claim more than they hold (:mod:`attune.sensors.claims`): XDF channel
and sample counts and EDF/BDF record counts are checked against the file's size
before anything is allocated; a truncated EDF replays the records that are there.

Every problem is either a one-line :class:`~attune.sensors.types.SensorError` naming the file,
stream or column, the value and what was expected, or a handled condition listed in
:attr:`Recording.warnings`. No NaN reaches a stream: NaN runs shorter than
:data:`NAN_INTERP_S` are linearly interpolated, longer ones are cut out (leaving a gap
in the timestamps, which the engine sees as a stale stream).

mne and pyxdf are imported inside the readers, so importing this module stays light.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import logging
import re
import warnings as _warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

import numpy as np

from attune.sensors.channels import (
    UNITS as _UNITS,
)
from attune.sensors.channels import (
    kind_from_label,
    kind_from_type,
    normalise_unit,
    unit_from_label,
    unit_scale,
)
from attune.sensors.claims import check_edf, check_xdf
from attune.sensors.recording import RecordedStream, Recording
from attune.sensors.timebase import (
    GAP_PERIODS,
    check_rate,
    jitter_tolerance,
    regularise,
    resample_uniform,
    shorten_jumps,
)
from attune.sensors.types import SensorError, StreamInfo

#: Attune's unit for each stream kind (``hr``: a device's own heart rate, in bpm).
UNITS = {**_UNITS, "hr": "bpm"}

__all__ = ["RecordedStream", "Recording", "read_recording", "select_streams"]

#: Stream kinds that carry signals (everything but markers). ``hr`` is a device's own
#: heart rate (Polar ``hr_bpm``), kept so the engine can cross-check its beats.
SIGNAL_KINDS = ("eeg", "ecg", "ppg", "rr", "hr")
#: Kinds sampled at a regular rate (their timestamps are dejittered or resampled).
REGULAR_KINDS = ("eeg", "ecg", "ppg")
#: NaN runs shorter than this (seconds) are linearly interpolated; longer ones are cut.
NAN_INTERP_S = 0.5
#: Samples per block when an on-disk stream's markers are scanned.
SCAN_BLOCK = 1 << 20
#: Text files larger than this (bytes) keep their numeric columns in a temporary file,
#: read in blocks by the replay, instead of in memory.
SPILL_BYTES = 64 << 20
#: Recognised time columns of delimited text files (case-insensitive), with their unit.
TIME_COLUMNS = {
    "timestamps": "s",
    "timestamp": "s",
    "time_stamp": "s",
    "time": "s",
    "time_s": "s",
    "t": "s",
    "seconds": "s",
    "lsl_time": "s",
    "time_ms": "ms",
    "timestamp_ms": "ms",
    "time_us": "us",
    "time_ns": "ns",
    "timestamp_ns": "ns",
}
_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
#: Other spellings of a time column (lower case), with an optional unit suffix.
_TIME_NAME = re.compile(
    r"(lsl[ _]?)?(time[ _]?stamps?|time|seconds|elapsed[ _]?time)"
    r"([ _]?[(\[]?(s|sec|secs|seconds|ms|milliseconds)[)\]]?)?"
)
#: Epoch times above these magnitudes are in ms, us, ns (epoch seconds stay < 1e11).
_EPOCH_UNITS = ((1e17, "ns"), (1e14, "us"), (1e11, "ms"))

#: File name endings and the reader for each.
FORMATS = {
    ".xdf": "xdf",
    ".xdfz": "xdf",
    ".edf": "mne",
    ".bdf": "mne",
    ".fif": "mne",
    ".fif.gz": "mne",
    ".vhdr": "mne",
    ".csv": "text",
    ".tsv": "text",
    ".txt": "text",
}
_XDF_DTYPES = {
    "float32": "float32",
    "double64": "float64",
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
}


# --------------------------------------------------------------------------- blocks
class _MneReader:
    """Channels of an mne Raw opened without preloading, read block by block."""

    def __init__(
        self, raw: object, picks: list[int], scale: np.ndarray, float32: bool, n: int
    ) -> None:
        self.raw = raw
        self.picks = picks
        self.scale = scale  # (n_ch,) factors to Attune's units
        self.float32 = float32
        self.fs = float(raw.info["sfreq"])  # type: ignore[attr-defined]
        self.n_samples = n
        self.t_first = 0.0
        self.t_last = (n - 1) / self.fs if n else 0.0

    def read(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        x = self.raw.get_data(  # type: ignore[attr-defined]
            picks=self.picks, start=k0, stop=k1, verbose="error"
        )
        bad = ~np.isfinite(x)
        if bad.any():  # not in EDF/BDF; a damaged FIF: interpolate within the block
            t = np.arange(x.shape[1], dtype=np.float64)
            for c in np.flatnonzero(bad.any(axis=1)):
                good = ~bad[c]
                x[c, bad[c]] = np.interp(t[bad[c]], t[good], x[c, good]) if good.any() else 0.0
        if np.any(self.scale != 1.0):
            x *= self.scale[:, None]
        if self.float32:
            x = x.astype(np.float32).astype(np.float64)
        return x, np.arange(k0, k1) / self.fs

    def subset(self, idx: Sequence[int]) -> _MneReader:
        return _MneReader(
            self.raw, [self.picks[i] for i in idx], self.scale[list(idx)], self.float32,
            self.n_samples,
        )  # fmt: skip


class _Spill:
    """Numeric columns of a large text file in a temporary file (float64, row-major)."""

    def __init__(self, columns: list[int]) -> None:
        import tempfile

        self.file = tempfile.TemporaryFile(prefix="attune-csv-")  # removed when closed
        self.pos = {j: p for p, j in enumerate(columns)}  # channel -> position in a row
        self.width = len(columns)
        self.n = 0

    def write(self, rows: np.ndarray) -> None:
        self.file.write(np.ascontiguousarray(rows, dtype="<f8").tobytes())
        self.n += rows.shape[0]

    def renumber(self, keep: list[int]) -> _Spill:
        """Renumber the channels as positions in ``keep`` (the block's channel order)."""
        self.pos = {keep.index(j): p for j, p in self.pos.items()}
        return self

    def read(self, k0: int, k1: int, chans: list[int]) -> np.ndarray:
        """Rows ``k0:k1`` of channels ``chans``, shape ``(len(chans), k1 - k0)``."""
        self.file.seek(k0 * self.width * 8)
        buf = self.file.read((k1 - k0) * self.width * 8)
        x = np.frombuffer(buf, dtype="<f8").reshape(k1 - k0, self.width)
        return np.ascontiguousarray(x[:, [self.pos[c] for c in chans]].T)

    def column(self, j: int) -> np.ndarray:
        """One channel, whole."""
        out = np.empty(self.n)
        for a in range(0, self.n, SCAN_BLOCK):
            b = min(self.n, a + SCAN_BLOCK)
            out[a:b] = self.read(a, b, [j])[0]
        return out


class _SpillReader:
    """A regular stream of a large text file, read from its spill in blocks."""

    def __init__(
        self, spill: _Spill, chans: list[int], scale: np.ndarray, times: np.ndarray
    ) -> None:
        self.spill, self.chans, self.scale, self.times = spill, chans, scale, times
        self.n_samples = int(times.size)
        self.t_first = float(times[0]) if times.size else 0.0
        self.t_last = float(times[-1]) if times.size else 0.0

    def read(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        x = self.spill.read(k0, k1, self.chans)
        if np.any(self.scale != 1.0):
            x *= self.scale[:, None]
        return x, self.times[k0:k1]

    def subset(self, idx: Sequence[int]) -> _SpillReader:
        return _SpillReader(
            self.spill, [self.chans[i] for i in idx], self.scale[list(idx)], self.times
        )

    def with_times(self, times: np.ndarray) -> _SpillReader:
        return _SpillReader(self.spill, self.chans, self.scale, times)


@dataclass
class _Block:
    """Channels sharing one time base, in the file's own units (internal)."""

    name: str  # stream name (XDF) or file stem
    sid: str  # stream id for source_id
    fs: float  # nominal Hz; 0 irregular or unknown (estimated for signal kinds)
    times: np.ndarray  # (n,); empty when on disk (``raw``): times are k / fs
    data: np.ndarray  # (n_ch, n) float64; (n_ch, 0) when on disk
    labels: list[str]
    kinds: list[str | None]
    units: list[str | None]
    dtype: str = "float64"
    own_kind: str | None = None  # the stream's declared kind (XDF type)
    sparse: bool = False  # rows where a stream's channels are all NaN are not its samples
    text: dict[int, np.ndarray] = field(default_factory=dict)  # channel -> str labels
    estimate_fs: bool = False  # fs unknown: estimate from the timestamps
    irregular: bool = False  # samples off a uniform grid: resample regular kinds onto one
    extra_markers: tuple[np.ndarray, np.ndarray] | None = None  # (times, labels)
    raw: object | None = None  # mne Raw without preloading (EDF, BDF, FIF, BrainVision)
    n_raw: int = 0  # samples in ``raw``; channels >= its channel count are all zero
    cols: dict[int, np.ndarray] | None = None  # text files: parsed channels only (n,)
    spill: _Spill | None = None  # large text files: numeric channels on disk

    def rows(self, idx: list[int]) -> np.ndarray:
        """Channels ``idx`` of the whole block, in memory (file units)."""
        if self.cols is not None:
            n = self.times.size
            return np.vstack(
                [
                    self.cols[i]
                    if i in self.cols
                    else self.spill.column(i)
                    if self.spill is not None and i in self.spill.pos
                    else np.full(n, np.nan)
                    for i in idx
                ]
            )
        if self.raw is None:
            return self.data[idx]
        n_ch = len(self.raw.ch_names)  # type: ignore[attr-defined]
        out = np.zeros((len(idx), self.n_raw))
        real = [(r, i) for r, i in enumerate(idx) if i < n_ch]
        for a in range(0, self.n_raw if real else 0, SCAN_BLOCK):
            b = min(self.n_raw, a + SCAN_BLOCK)
            x = self.raw.get_data(  # type: ignore[attr-defined]
                picks=[i for _, i in real], start=a, stop=b, verbose="error"
            )
            out[[r for r, _ in real], a:b] = x
        return out

    def time_of(self, k: np.ndarray) -> np.ndarray:
        """Timestamps of samples ``k``."""
        return self.times[k] if self.raw is None else np.asarray(k) / self.fs


class _Warn:
    """Collects warnings for one file."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def __call__(self, msg: str) -> None:
        if msg not in self.items:
            self.items.append(msg)


# --------------------------------------------------------------------------- entry point
def read_recording(
    path: str | Path,
    *,
    fs: float | None = None,
    kind: str | None = None,
    columns: Sequence[str] | None = None,
    time_column: str | None = None,
) -> Recording:
    """Read a recording file into streams in Attune's units.

    Parameters
    ----------
    path : str or Path
        The file; the format is chosen by its ending (:data:`FORMATS`).
    fs : float, optional
        Sampling rate in Hz for files that do not store one (text files without a time
        column, e.g. the NeuroKit2 CSVs), from 1 Hz to 100 kHz. For files that store a
        rate it must agree. With a time column it sets the nominal rate the timestamps
        are dejittered against, instead of estimating it.
    kind : {"eeg", "ecg", "ppg", "rr", "hr", "markers"}, optional
        Keep only streams of this kind; with ``columns``, the kind of those channels
        (e.g. ``columns=["AUX2"], kind="ecg"``); for a file with a single unnamed
        signal column, its kind.
    columns : sequence of str, optional
        Channel or column labels to keep (case-insensitive), in this order, including
        ones left out by default (EOG, AUX, unrecognised names). Every one must exist.
    time_column : str, optional
        Name of the time column of a text file (seconds; ``*_ms``/``*_ns`` names and
        date-time strings are converted), instead of the automatic choice.

    Returns
    -------
    Recording

    Raises
    ------
    SensorError
        One line naming the file (and stream or column) and what was expected: missing
        file, unknown format, unreadable or corrupt file, string samples in a signal
        stream, a missing column, no rate for a file without time, a rate outside 1 Hz
        to 100 kHz, timestamps going backwards by more than jitter, a header claiming
        more channels or samples than the file holds, no usable stream.
    """
    p = Path(path)
    if not p.exists():
        raise SensorError(f"{p}: no such file")
    if not p.is_file():
        raise SensorError(f"{p}: not a file")
    fmt = _format_of(p)
    blocks: list[_Block | RecordedStream]
    if kind is not None and kind not in (*SIGNAL_KINDS, "markers"):
        raise SensorError(f"{p}: kind must be one of eeg, ecg, ppg, rr, hr, markers, got {kind!r}")
    if fs is not None:
        fs = check_rate(fs, f"{p}: fs")
    cols = [c.strip() for c in columns] if columns else []
    warn = _Warn()
    if fmt == "xdf":
        blocks = _read_xdf(p, warn)
    elif fmt == "mne":
        blocks = _read_mne(p, warn)
    else:
        blocks = [_read_text(p, warn, fs=fs, kind=kind, time_column=time_column, cols=cols)]
    if fs is not None and fmt != "text":
        for b in blocks:
            if isinstance(b, _Block) and b.fs > 0 and abs(b.fs - fs) > 1e-6 * fs:
                raise SensorError(
                    f"{p}: stream {b.name!r} stores fs={b.fs:g} Hz but fs={fs:g} Hz was "
                    "given; leave fs out for this file"
                )
    streams: list[RecordedStream] = []
    found: set[str] = set()
    for b in blocks:
        if isinstance(b, RecordedStream):  # XDF marker stream, already built
            if kind in (None, "markers") and not cols:
                streams.append(b)
            continue
        streams.extend(_streams_of(p, b, kind=kind, cols=cols, found=found, warn=warn))
    blocks = [b for b in blocks if isinstance(b, _Block)]
    missing = [c for c in cols if c.lower() not in found]
    if missing:
        have = ", ".join(lab for b in blocks for lab in b.labels)
        raise SensorError(
            f"{p}: no channel {missing[0]!r} (asked for {len(cols)} channels: "
            f"{', '.join(cols)}; the file has: {have})"
        )
    if not any(s.info.kind != "markers" for s in streams) and kind != "markers":
        have = "; ".join(
            ", ".join(f"{lab} ({k or 'unknown'})" for lab, k in zip(b.labels, b.kinds, strict=True))
            for b in blocks
        )
        want = f"{kind} " if kind else "EEG, ECG, PPG or RR "
        raise SensorError(
            f"{p}: no {want}signal found (channels: {have or 'none'}); pick channels with "
            "columns=[...] and kind=... (attune replay --column NAME --kind KIND)"
        )
    if not streams:
        raise SensorError(f"{p}: no {kind} stream found")
    # Time jumps (mne files have none; spilled text streams keep their times in memory).
    eager = [i for i, s in enumerate(streams) if not s.lazy or hasattr(s.reader, "with_times")]
    moved = shorten_jumps([streams[i].timestamps for i in eager], p.name, warn)
    for i, t in zip(eager, moved, strict=True):
        if t is not streams[i].timestamps:
            streams[i] = streams[i].with_times(t)
    return Recording(path=p, streams=tuple(streams), warnings=tuple(warn.items))


def select_streams(
    rec: Recording,
    *,
    names: Sequence[str] = (),
    kinds: Sequence[str] = (),
    channels: Sequence[str] = (),
) -> tuple[RecordedStream, ...]:
    """Choose streams by name or kind and channels by label.

    Parameters
    ----------
    rec : Recording
        The recording.
    names : sequence of str
        Stream names (case-insensitive); a name also matches the streams split from it
        (``"BioSemi"`` matches ``"BioSemi/ecg"``). Empty: all.
    kinds : sequence of str
        Stream kinds (``eeg``, ``ecg``, ``ppg``, ``rr``, ``markers``). Empty: all.
    channels : sequence of str
        Channel labels to keep (case-insensitive), in this order; streams holding none
        of them are dropped. Empty: all channels.

    Returns
    -------
    tuple of RecordedStream
        Streams in recording order; channel subsets are views of the original data
        when the channels are contiguous, copies otherwise.

    Raises
    ------
    SensorError
        If nothing matches, or a requested channel is in no selected stream; the
        message lists what the recording has.
    """
    want_names = {n.lower() for n in names}
    want_kinds = {k.lower() for k in kinds}
    out = []
    for s in rec.streams:
        nm = s.info.name.lower()
        if want_names and nm not in want_names and nm.split("/")[0] not in want_names:
            continue
        if want_kinds and s.info.kind not in want_kinds:
            continue
        out.append(s)
    if not out:
        have = ", ".join(f"{s.info.name!r} ({s.info.kind})" for s in rec.streams)
        raise SensorError(
            f"{rec.path}: no stream matches names={list(names)} kinds={list(kinds)}; "
            f"the recording has: {have}"
        )
    if not channels:
        return tuple(out)
    want = [c.lower() for c in channels]
    picked, seen = [], set()
    for s in out:
        lower = [c.lower() for c in s.info.channels]
        idx = [lower.index(c) for c in want if c in lower]
        if not idx:
            continue
        seen.update(lower[i] for i in idx)
        picked.append(s.with_channels(idx))
    missing = [c for c, w in zip(channels, want, strict=True) if w not in seen]
    if missing:
        have = "; ".join(f"{s.info.name}: {', '.join(s.info.channels)}" for s in out)
        raise SensorError(f"{rec.path}: no channel {missing[0]!r} in the selected streams ({have})")
    return tuple(picked)


def _format_of(p: Path) -> str:
    name = p.name.lower()
    for ext in sorted(FORMATS, key=len, reverse=True):
        if name.endswith(ext):
            return FORMATS[ext]
    exts = ", ".join(FORMATS)
    raise SensorError(f"{p}: unknown format {p.suffix or '(no extension)'!r}; Attune reads {exts}")


# --------------------------------------------------------------------------- streams
def _streams_of(
    path: Path,
    b: _Block,
    *,
    kind: str | None,
    cols: list[str],
    found: set[str],
    warn: _Warn,
) -> list[RecordedStream]:
    """Split one block into streams, one per kind, in Attune's units."""
    lower = [lab.lower() for lab in b.labels]
    chosen: list[tuple[int, str]] = []
    if cols:
        for c in cols:
            if c.lower() not in lower:
                continue
            i = lower.index(c.lower())
            found.add(c.lower())
            k = kind or b.kinds[i]
            if k == "stim" or k == "markers":
                k = "stim"
            elif k not in SIGNAL_KINDS:
                raise SensorError(
                    f"{path}: channel {b.labels[i]!r} of {b.name!r} is of type "
                    f"{b.kinds[i] or 'unknown'}; say what it is with kind= (--kind eeg|ecg|ppg|rr)"
                )
            chosen.append((i, k))
    elif kind is not None:
        want = "stim" if kind == "markers" else kind
        chosen = [(i, want) for i, k in enumerate(b.kinds) if k == want]
        signal = [i for i, k in enumerate(b.kinds) if k != "stim"]
        if not chosen and kind != "markers" and len(signal) == 1 and len(b.labels) <= 2:
            chosen = [(signal[0], kind)]
    else:
        chosen = [(i, k) for i, k in enumerate(b.kinds) if k in SIGNAL_KINDS or k == "stim"]
        left = [
            f"{b.labels[i]} ({k or 'unknown'})"
            for i, k in enumerate(b.kinds)
            if k not in SIGNAL_KINDS and k != "stim"
        ]
        if left:
            warn(
                f"{path.name}: {b.name}: left out {len(left)} channel(s) Attune does not use: "
                f"{_short_list(left)} (pick them with columns= and kind=)"
            )
    if not chosen:
        return []
    kinds_in_order: list[str] = []
    for _, k in chosen:
        if k not in kinds_in_order:
            kinds_in_order.append(k)
    out = []
    for k in kinds_in_order:
        idx = [i for i, kk in chosen if kk == k]
        if k == "stim":
            s = _markers_from_channels(path, b, idx, warn)
        else:
            s = _signal_stream(path, b, idx, k, len(kinds_in_order) > 1, warn)
        if s is not None:
            out.append(s)
    return out


def _short_list(items: list[str], n: int = 8) -> str:
    return ", ".join(items[:n]) + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def _stream_name(b: _Block, k: str, split: bool) -> str:
    if b.own_kind is not None and (b.own_kind == k or (not split and b.own_kind != "markers")):
        return b.name
    return f"{b.name}/{k}"


def _scales(path: Path, b: _Block, idx: list[int], k: str, what: str, warn: _Warn) -> np.ndarray:
    """Per-channel factors from the file's units to Attune's unit for ``k`` (1.0: kept)."""
    out = np.ones(len(idx))
    unknown, misfit = [], []
    for r, i in enumerate(idx):
        unit = b.units[i]
        f = unit_scale(k, unit)
        if f is None:
            if unit is None and k in ("eeg", "ecg"):
                unknown.append(b.labels[i])
            elif unit is not None:
                misfit.append(f"{b.labels[i]} ({unit})")
            continue
        out[r] = f
    if unknown:
        warn(f"{what}: no unit for {_short_list(unknown, 4)}; values taken as {UNITS[k]}")
    if misfit:
        warn(f"{what}: units {_short_list(misfit, 4)} do not fit {k}; values kept as they are")
    return out


def _lazy_stream(
    path: Path, b: _Block, idx: list[int], k: str, split: bool, warn: _Warn
) -> RecordedStream | None:
    """Build a regular stream of an mne file, left on disk and read in blocks."""
    name = _stream_name(b, k, split)
    what = f"{path.name}: stream {name!r}"
    if b.n_raw == 0:
        warn(f"{what}: no samples; skipped")
        return None
    scale = _scales(path, b, idx, k, what, warn)
    scaled = bool(np.any(scale != 1.0))
    float32 = b.dtype == "float32"
    dtype = "float32" if float32 else "float64"
    if not scaled and b.dtype not in ("float32", "float64"):
        dtype = b.dtype
    info = StreamInfo(
        name=name,
        kind=k,  # type: ignore[arg-type]
        fs=float(b.fs),
        channels=tuple(b.labels[i] for i in idx),
        units=UNITS[k],
        source_id=f"{path}#{b.sid}" + ("" if name == b.name else f"/{k}"),
    )
    reader = _MneReader(b.raw, idx, scale, float32, b.n_raw)
    return RecordedStream(info, dtype=dtype, reader=reader)


def _spilled_stream(
    path: Path, b: _Block, idx: list[int], k: str, split: bool, warn: _Warn
) -> RecordedStream | None:
    """Build a regular stream of a large text file, read from its spill in blocks."""
    assert b.spill is not None
    name = _stream_name(b, k, split)
    what = f"{path.name}: stream {name!r}"
    if b.times.size == 0:
        warn(f"{what}: no samples; skipped")
        return None
    fs = check_rate(b.fs, what)
    scale = _scales(path, b, idx, k, what, warn)
    _check_times(b.times, fs, what, warn, nominal_check=not b.estimate_fs)
    info = StreamInfo(
        name=name,
        kind=k,  # type: ignore[arg-type]
        fs=float(fs),
        channels=tuple(b.labels[i] for i in idx),
        units=UNITS[k],
        source_id=f"{path}#{b.sid}" + ("" if name == b.name else f"/{k}"),
    )
    reader = _SpillReader(b.spill, idx, scale, b.times)
    return RecordedStream(info, dtype="float64", reader=reader)


def _signal_stream(
    path: Path, b: _Block, idx: list[int], k: str, split: bool, warn: _Warn
) -> RecordedStream | None:
    if b.raw is not None and k in REGULAR_KINDS:
        return _lazy_stream(path, b, idx, k, split, warn)
    if (
        b.spill is not None
        and k in REGULAR_KINDS
        and not b.irregular
        and b.fs > 0
        and all(i in b.spill.pos for i in idx)
    ):
        return _spilled_stream(path, b, idx, k, split, warn)
    name = _stream_name(b, k, split)
    what = f"{path.name}: stream {name!r}"
    data = b.rows(idx)
    times = b.times if b.raw is None else np.arange(b.n_raw) / b.fs
    if b.text and any(i in b.text for i in idx):
        raise SensorError(f"{what}: column holds text; expected numbers for {k}")
    # Units.
    scale = _scales(path, b, idx, k, what, warn)
    scaled = bool(np.any(scale != 1.0))
    if scaled:
        data = data * scale[:, None]
    if k == "rr" and not scaled and b.units[idx[0]] is None:
        med = np.nanmedian(data[0]) if np.isfinite(data[0]).any() else np.nan
        if np.isfinite(med) and med < 10.0:
            data = data * 1e3
            scaled = True
            warn(f"{what}: RR values look like seconds (median {med:.3g}); converted to ms")
    # Rows that are samples of this stream.
    rows = None
    irregular_kind = k in ("rr", "hr")
    if b.sparse or irregular_kind:
        has = np.isfinite(data).any(axis=0)
        if irregular_kind:
            has &= np.nan_to_num(data[0], nan=-1.0) > 0
        if not has.all():
            rows = np.flatnonzero(has)
            if not irregular_kind:
                warn(f"{what}: {data.shape[1] - rows.size} row(s) without a value skipped")
    if rows is not None:
        data, times = data[:, rows], times[rows]
    if data.shape[1] == 0:
        warn(f"{what}: no samples; skipped")
        return None
    dtype = b.dtype
    resampled = False
    if scaled or rows is not None:
        dtype = "float32" if b.dtype in ("float32", "int8", "int16", "int32") else "float64"
    if irregular_kind:
        fs = 0.0
        bad = ~np.isfinite(data[0])
        if bad.any():
            data, times = data[:, ~bad], times[~bad]
        _check_times(times, 0.0, what, warn, nominal_check=False)
    else:
        fs = b.fs
        if fs <= 0:
            fs = _estimate_fs(times, what)
            warn(f"{what}: no sampling rate stored; {fs:g} Hz estimated from the timestamps")
        fs = check_rate(fs, what)
        if b.irregular:
            order = np.argsort(times, kind="stable")
            data, times = data[:, order], times[order]
        data, times = _fix_nans(data, times, fs, what, warn)
        if data.shape[1] == 0:
            warn(f"{what}: only NaN; skipped")
            return None
        if b.irregular:
            data, times = resample_uniform(data, times, fs)
            resampled = True
        _check_times(times, fs, what, warn, nominal_check=b.fs > 0 and not b.estimate_fs)
    if resampled:
        dtype = "float64"
    elif dtype == "float32":
        data = data.astype(np.float32).astype(np.float64)
    elif data.dtype != np.float64:
        data = data.astype(np.float64)
    info = StreamInfo(
        name=name,
        kind=k,  # type: ignore[arg-type]
        fs=float(fs),
        channels=tuple(b.labels[i] for i in idx),
        units=UNITS[k],
        source_id=f"{path}#{b.sid}" + ("" if name == b.name else f"/{k}"),
    )
    return RecordedStream(info=info, data=data, timestamps=times, dtype=dtype)


def _markers_from_channels(
    path: Path, b: _Block, idx: list[int], warn: _Warn
) -> RecordedStream | None:
    """Markers from trigger channels (a marker where the code changes to non-zero)."""
    times_l, labels_l = [], []
    for i in idx:
        if i in b.text:
            txt = b.text[i]
            keep = np.flatnonzero(np.char.str_len(np.char.strip(txt)) > 0)
            times_l.append(b.times[keep])
            labels_l.append(np.char.strip(txt[keep]))
            continue
        x = np.nan_to_num(b.rows([i])[0], nan=0.0)
        prev = np.concatenate([[0.0], x[:-1]])
        on = np.flatnonzero((x != prev) & (x != 0))
        times_l.append(b.time_of(on))
        labels_l.append(np.array([f"{v:g}" for v in x[on]], dtype=str))  # one per marker
    if not times_l:
        return None
    t = np.concatenate(times_l)
    lab = np.concatenate(labels_l) if labels_l else np.array([], dtype=str)
    if b.extra_markers is not None:
        t = np.concatenate([t, b.extra_markers[0]])
        lab = np.concatenate([lab.astype(object), b.extra_markers[1].astype(object)])
    order = np.argsort(t, kind="stable")
    name = _stream_name(b, "markers", True)
    return _markers_stream(path, b, name, t[order], [str(s) for s in lab[order]], warn)


def _markers_stream(
    path: Path, b: _Block, name: str, t: np.ndarray, labels: list[str], warn: _Warn
) -> RecordedStream | None:
    what = f"{path.name}: stream {name!r}"
    if t.size == 0:
        warn(f"{what}: no markers")
        return None
    if np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t = t[order]
        labels = [labels[i] for i in order]
        warn(f"{what}: marker timestamps out of order; sorted")
    info = StreamInfo(
        name=name,
        kind="markers",
        fs=0.0,
        channels=("marker",),
        units="",
        source_id=f"{path}#{b.sid}" + ("" if name == b.name else "/markers"),
    )
    return RecordedStream(
        info=info,
        data=np.zeros((1, t.size)),
        timestamps=np.ascontiguousarray(t, dtype=np.float64),
        labels=tuple(labels),
        dtype="string",
    )


def _estimate_fs(times: np.ndarray, what: str) -> float:
    """Nominal rate from timestamps: samples per second outside gaps, rounded if near."""
    if times.size < 3:
        raise SensorError(
            f"{what}: {times.size} samples are too few to estimate the sampling rate; pass fs="
        )
    d = np.diff(times)
    med = float(np.median(d))
    if not med > 0:
        pos = d[d > 0]
        if pos.size == 0:
            raise SensorError(f"{what}: all timestamps are equal; expected increasing times")
        med = float(np.median(pos))
    ok = d < GAP_PERIODS * med
    fs = float(ok.sum() / d[ok].sum())
    r = round(fs)
    if r > 0 and abs(fs - r) <= 0.005 * fs:
        fs = float(r)
    return fs


def _run_bounds(bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return starts and ends (exclusive) of the True runs of ``bad``."""
    e = np.diff(np.concatenate([[0], bad.view(np.int8), [0]]))
    return np.flatnonzero(e == 1), np.flatnonzero(e == -1)


def _fix_nans(
    data: np.ndarray, times: np.ndarray, fs: float, what: str, warn: _Warn
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate NaN runs shorter than :data:`NAN_INTERP_S`, cut out the others."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return data, times
    n = data.shape[1]
    data = np.array(data, dtype=np.float64, copy=True)
    drop = np.zeros(n + 1, dtype=np.int64)
    n_short = n_short_s = n_long = n_long_s = 0
    for c in range(data.shape[0]):  # per channel, vectorized over samples
        b = bad[c]
        if not b.any():
            continue
        starts, ends = _run_bounds(b)
        long = ((ends - starts) >= NAN_INTERP_S * fs) | (starts == 0) | (ends == n)
        np.add.at(drop, starts[long], 1)
        np.add.at(drop, ends[long], -1)
        n_long += int(long.sum())
        n_long_s += int((ends - starts)[long].sum())
        n_short += int((~long).sum())
        n_short_s += int((ends - starts)[~long].sum())
        good = ~b
        if good.any():
            data[c, b] = np.interp(times[b], times[good], data[c, good])
    keep = np.cumsum(drop[:-1]) == 0
    parts = []
    if n_short:
        parts.append(
            f"{n_short} NaN run(s) shorter than {NAN_INTERP_S:g} s ({n_short_s} samples) "
            "linearly interpolated"
        )
    if n_long:
        parts.append(
            f"{n_long} longer or edge NaN run(s) ({n_long_s} samples) cut out, leaving time gaps"
        )
    warn(f"{what}: " + "; ".join(parts))
    if keep.all():
        return data, times
    return data[:, keep], times[keep]


def _check_times(
    times: np.ndarray, fs: float, what: str, warn: _Warn, *, nominal_check: bool
) -> None:
    """Raise if timestamps go backwards; warn about gaps and a rate far from nominal."""
    if times.size < 2:
        return
    if not np.isfinite(times).all():
        i = int(np.flatnonzero(~np.isfinite(times))[0])
        raise SensorError(f"{what}: timestamp of sample {i} is {times[i]}; expected finite times")
    d = np.diff(times)
    back = np.flatnonzero(d < 0)
    if back.size:
        i = int(back[0]) + 1
        raise SensorError(
            f"{what}: timestamps go backwards at sample {i} ({times[i]:.6f} s after "
            f"{times[i - 1]:.6f} s); expected non-decreasing time"
        )
    if fs <= 0:
        return
    gaps = np.flatnonzero(d > GAP_PERIODS / fs)
    if gaps.size:
        g = int(gaps[np.argmax(d[gaps])])
        warn(
            f"{what}: {gaps.size} time gap(s) longer than {GAP_PERIODS:g} samples (largest "
            f"{d[g]:.3f} s after t={times[g]:.3f} s); kept: the engine sees a stale stream there"
        )
    if nominal_check:
        ok = d <= GAP_PERIODS / fs
        if ok.sum() > 10:
            eff = float(ok.sum() / d[ok].sum()) if d[ok].sum() > 0 else fs
            if abs(eff - fs) > 0.01 * fs:
                warn(
                    f"{what}: effective rate {eff:.4g} Hz differs from the nominal {fs:g} Hz "
                    "by more than 1%; timestamps kept as recorded"
                )


# --------------------------------------------------------------------------- XDF
@contextlib.contextmanager
def _capture_log(name: str) -> Iterator[list[logging.LogRecord]]:
    """Capture a library's log records (instead of printing them)."""
    records: list[logging.LogRecord] = []

    class _H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(name)
    h = _H(level=logging.INFO)
    old_prop, old_level = logger.propagate, logger.level
    logger.addHandler(h)
    logger.propagate = False
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        yield records
    finally:
        logger.removeHandler(h)
        logger.propagate = old_prop
        logger.setLevel(old_level)


def _first(d: object, key: str, default: str = "") -> str:
    if isinstance(d, dict):
        v = d.get(key)
        if isinstance(v, list) and v and isinstance(v[0], str):
            return v[0]
    return default


def _xdf_channels(info: dict) -> list[dict]:
    desc = info.get("desc")
    desc = desc[0] if isinstance(desc, list) and desc else None
    if not isinstance(desc, dict):
        return []
    chans = desc.get("channels")
    chans = chans[0] if isinstance(chans, list) and chans else None
    if not isinstance(chans, dict):
        return []
    ch = chans.get("channel")
    return [c for c in ch if isinstance(c, dict)] if isinstance(ch, list) else []


def _read_xdf(path: Path, warn: _Warn) -> list[_Block | RecordedStream]:
    import pyxdf

    check_xdf(path)
    with _capture_log("pyxdf") as records:
        try:
            streams, _header = pyxdf.load_xdf(str(path))
        except Exception as e:  # pyxdf raises many types on damaged files
            msg = str(e).splitlines()[0] if str(e) else ""
            raise SensorError(
                f"{path}: not a readable XDF file ({type(e).__name__}: {msg}); "
                "expected an XDF recording (truncated or corrupt?)"
            ) from None
    damaged = False
    for r in records:
        msg = r.getMessage().splitlines()[0]
        if "Segments and clock-segments differ" in msg:
            warn(f"{path.name}: pyxdf: {msg} (clock reset; handled by pyxdf's clock correction)")
        else:
            warn(f"{path.name}: pyxdf: {msg}")
        damaged |= r.levelno >= logging.ERROR or "corruption" in msg
    if damaged:
        warn(f"{path.name}: the file is truncated or corrupt; kept every sample pyxdf could read")
    blocks: list[_Block | RecordedStream] = []
    streams.reverse()
    while streams:  # pyxdf's arrays are let go one stream at a time, once converted
        s = streams.pop()
        info = s["info"]
        name = _first(info, "name", "?")
        stype = _first(info, "type")
        fmt = _first(info, "channel_format", "float32")
        sid = str(info.get("stream_id", "?"))
        nch = int(_first(info, "channel_count", "0") or 0)
        srate = float(_first(info, "nominal_srate", "0") or 0)
        what = f"{path.name}: XDF stream {name!r} (type {stype!r})"
        ts = np.asarray(s["time_stamps"], dtype=np.float64)
        series = s["time_series"]
        declared = kind_from_type(stype)
        if ts.size == 0:
            warn(f"{what}: no samples; skipped")
            continue
        if not s.get("footer"):
            warn(f"{what}: no footer: the recording was cut short; kept {ts.size} samples")
        if fmt == "string":
            if declared in SIGNAL_KINDS:
                raise SensorError(
                    f"{what}: samples are strings; expected numeric samples "
                    f"(float32, double64 or int) for {declared.upper()}"
                )
            labels = [" | ".join(str(v) for v in row) for row in series]  # markers: few
            b = _Block(name, sid, 0.0, ts, np.zeros((1, 0)), [name], ["stim"], [None])
            m = _markers_stream(path, b, name, ts, labels, warn)
            if m is not None:
                blocks.append(m)
            continue
        arr = np.asarray(series)
        del s, series
        if arr.ndim != 2 or arr.shape[0] != ts.size or (nch and arr.shape[1] != nch):
            raise SensorError(
                f"{what}: samples shaped {arr.shape}; expected ({ts.size}, {nch}) from its header"
            )
        if not np.issubdtype(arr.dtype, np.number):
            raise SensorError(f"{what}: samples of type {arr.dtype}; expected numbers")
        if srate > 0:
            check_rate(srate, f"{what}: nominal_srate")
        nch = arr.shape[1]
        chans = _xdf_channels(info)
        if chans and len(chans) != nch:
            warn(f"{what}: {len(chans)} channel descriptions for {nch} channels; ignored")
            chans = []
        labels = [(_first(c, "label") or f"{name}{i + 1}") for i, c in enumerate(chans)] or [
            f"{name}{i + 1}" for i in range(nch)
        ]
        kinds: list[str | None] = []
        for i in range(nch):
            ctype = kind_from_type(_first(chans[i], "type")) if chans else None
            by_name = kind_from_label(labels[i]) if chans else None
            k = ctype or by_name or declared
            if by_name in ("misc", "eog") and ctype in (None, "eeg"):
                k = by_name  # muse-lsl types its "Right AUX" channel as EEG
            kinds.append("stim" if k == "markers" else k)
        units = [normalise_unit(_first(c, "unit")) for c in chans] or [None] * nch
        if declared not in SIGNAL_KINDS and not any(k in SIGNAL_KINDS for k in kinds):
            warn(
                f"{what}: not a kind Attune uses (eeg, ecg, ppg, rr, markers); skipped "
                "(pick its channels with columns= and kind=)"
            )
        blocks.append(
            _Block(
                name=name,
                sid=sid,
                fs=srate,
                times=ts,
                data=arr.T.astype(np.float64),
                labels=labels,
                kinds=kinds,
                units=units,
                dtype=_XDF_DTYPES.get(fmt, "float64"),
                own_kind=declared if declared in SIGNAL_KINDS else None,
            )
        )
    return blocks


# --------------------------------------------------------------------------- mne
def _read_mne(path: Path, warn: _Warn) -> list[_Block]:
    """Open an EDF, BDF, FIF or BrainVision file without loading its samples."""
    import mne

    complete = None
    if path.suffix.lower() in (".edf", ".bdf"):
        complete = check_edf(path, warn)
    gz = path.name.lower().endswith(".gz")
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        try:
            raw = mne.io.read_raw(path, preload=gz, verbose="error")  # gz: not seekable
            if complete is not None:
                n_rec = raw.n_times  # samples of complete records at the highest rate
                keep = min(n_rec, int(round(complete * _record_s(path) * raw.info["sfreq"])))
                if keep < n_rec:
                    raw.crop(tmax=(keep - 1) / raw.info["sfreq"])
            raw.get_data(start=0, stop=min(1, raw.n_times), verbose="error")  # opens data
        except SensorError:
            raise
        except Exception as e:
            msg = str(e).splitlines()[0] if str(e) else ""
            raise SensorError(
                f"{path}: cannot read as {path.suffix.lstrip('.').upper()} "
                f"({type(e).__name__}: {msg}); expected a valid recording"
            ) from None
    for w in caught:
        warn(f"{path.name}: mne: {str(w.message).splitlines()[0]}")
    fs = check_rate(float(raw.info["sfreq"]), f"{path}: sampling rate in the header")
    mtypes = raw.get_channel_types()
    kinds: list[str | None] = []
    units: list[str | None] = []
    v_unit = int(mne.io.constants.FIFF.FIFF_UNIT_V)
    for ch, mt in zip(raw.info["chs"], mtypes, strict=True):
        by_name = kind_from_label(ch["ch_name"])
        declared = kind_from_type(mt)
        if mt == "eeg":  # mne's default type for EDF/BDF: the label says more
            k = by_name or "eeg"
        elif declared in ("misc", None) and by_name in ("ecg", "ppg", "rr"):
            k = by_name
        else:
            k = declared or "misc"
        kinds.append("stim" if k == "markers" else k)
        units.append("V" if int(ch["unit"]) == v_unit else None)
    orig = getattr(raw, "orig_format", "double")
    n = int(raw.n_times)
    b = _Block(
        name=path.name.split(".")[0],
        sid=path.suffix.lstrip(".").lower(),
        fs=fs,
        times=np.empty(0),
        data=np.empty((len(raw.ch_names), 0)),
        labels=list(raw.ch_names),
        kinds=kinds,
        units=units,
        dtype="float64" if orig == "double" else "float32",
        raw=raw,
        n_raw=n,
    )
    ann = raw.annotations
    if len(ann):
        onset = np.asarray(ann.onset, dtype=np.float64)
        if ann.orig_time is not None:
            onset = onset - raw.first_time
        inside = onset < n / fs  # annotations past a truncated file's end are dropped
        b.extra_markers = (
            onset[inside],
            np.array([str(d) for d in ann.description], dtype=object)[inside],
        )
        if "stim" not in kinds:
            b.labels.append("annotations")
            b.kinds.append("stim")
            b.units.append(None)
    return [b]


def _record_s(path: Path) -> float:
    """Duration of one EDF/BDF data record, seconds (from the header)."""
    with open(path, "rb") as f:
        head = f.read(256)
    try:
        return float(head[244:252].decode("ascii").strip())
    except ValueError:
        return 0.0


# --------------------------------------------------------------------------- text
def _read_text(
    path: Path,
    warn: _Warn,
    *,
    fs: float | None,
    kind: str | None,
    time_column: str | None,
    cols: list[str],
) -> _Block:
    lines = _text_lines(path)
    comments: list[str] = []
    body = _body_lines(lines, comments)
    head = list(itertools.islice(body, 50))
    if not head:
        raise SensorError(f"{path}: no data rows; expected delimited text with samples")
    meta = {}
    for ln in comments:
        m = re.match(r"#\s*([^:=]+?)\s*:?=\s*(.*)$", ln.strip())
        if m:
            meta[m.group(1).strip().lower()] = m.group(2).strip()
    first = head[0]
    delim = "," if "," in first else "\t" if "\t" in first else ";" if ";" in first else None
    squeeze = False
    if delim is None and any(len(ln.split()) > 1 for ln in head):
        squeeze = True  # whitespace-separated
        delim = " "
    elif delim is None:  # a single column
        delim = ","
    chunks = _row_chunks(itertools.chain(head, body), delim, squeeze)
    rows = next(chunks)
    header = [h.strip() for h in rows[0]]

    def _is_num(s: str) -> bool:
        try:
            float(s)
        except ValueError:
            return s.strip() == ""
        return True

    has_header = not all(_is_num(h) for h in header)
    if has_header:
        names, rows = header, rows[1:]
    else:
        labels_meta = meta.get("labels", "").replace(",", " ").split()
        width = len(header)
        names = labels_meta if len(labels_meta) == width else [f"ch{i + 1}" for i in range(width)]
    if not rows:
        rows = next(chunks, [])
    if not rows:
        raise SensorError(f"{path}: header but no data rows")
    width = max(len(r) for r in rows)
    if width > len(names):
        names = names + [f"ch{i + 1}" for i in range(len(names), width)]
    lower = [c.lower() for c in names]
    # Time column.
    tcol = None
    if time_column is not None:
        if time_column.lower() not in lower:
            raise SensorError(
                f"{path}: no time column {time_column!r} (columns: {', '.join(names)})"
            )
        tcol = lower.index(time_column.lower())
    else:
        for cand in TIME_COLUMNS:
            if cand in lower:
                tcol = lower.index(cand)
                break
        else:  # "Timestamp (ms)", "LSL Timestamp", "Time [s]", "time_sec" ...
            for j, c in enumerate(lower):
                if _TIME_NAME.fullmatch(c.strip()):
                    tcol = j
                    break
    fs_meta = None
    for key in ("sampling rate (hz)", "sampling rate", "fs", "sampling_rate"):
        if key in meta:
            try:
                fs_meta = float(meta[key])
            except ValueError:
                pass
            break
    if fs is not None and fs_meta is not None and abs(fs - fs_meta) > 1e-6 * fs:
        raise SensorError(
            f"{path}: the header says {fs_meta:g} Hz but fs={fs:g} Hz was given; leave fs out"
        )
    nominal = fs if fs is not None else fs_meta
    if nominal is not None:
        nominal = check_rate(nominal, f"{path}: sampling rate in the header")
    if tcol is None and nominal is None:
        raise SensorError(
            f"{path}: no time column (looked for {', '.join(TIME_COLUMNS)}) and no "
            "sampling rate; give the rate with fs= (attune replay --fs HZ, e.g. --fs 100 "
            "for the NeuroKit2 example CSVs) or name the column with time_column="
        )
    kinds: list[str | None] = []
    units: list[str | None] = []
    wanted = {c.lower() for c in cols}
    numeric: list[int] = []  # columns parsed as numbers
    sparse_cols: list[int] = []  # marker columns: numbers or text, kept where not empty
    for j, name in enumerate(names):
        k = "time" if j == tcol else _label_kind(name)
        kinds.append(k)
        units.append(unit_from_label(name))
        if j == tcol:
            continue
        relevant = (
            name.lower() in wanted
            if cols
            else (k in SIGNAL_KINDS or k == "stim" or (kind is not None and len(names) <= 2))
        )
        if not relevant:
            continue
        if k == "stim" or (cols and kind == "markers"):
            sparse_cols.append(j)
        else:
            numeric.append(j)
    # Rows, a chunk at a time: numbers go straight into float arrays, or, for a large
    # file, into a temporary file that the streams read in blocks.
    spill = _Spill(numeric) if numeric and path.stat().st_size > SPILL_BYTES else None
    nan_rows = dict.fromkeys(numeric, 0)
    num_parts: dict[int, list[np.ndarray]] = {j: [] for j in numeric}
    sp_parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {j: [] for j in sparse_cols}
    t_parts: list[np.ndarray] = []
    first_row = 2 if has_header else 1
    n = 0
    for chunk in itertools.chain([rows], chunks):
        m = len(chunk)
        columns_t = list(zip_longest(*chunk, fillvalue=""))

        def column(j: int, m: int = m, columns_t: list = columns_t) -> np.ndarray:
            if j >= len(columns_t):
                return np.full(m, "", dtype="<U1")
            return np.char.strip(np.asarray(columns_t[j], dtype=str))

        if tcol is not None:
            t_parts.append(_parse_time(path, names[tcol], column(tcol), warn))
        for j in numeric:
            col = column(j)
            vals = _to_float(col)
            if vals is None:
                bad = next(v for v in col if not _is_num(v))
                row = n + int(np.flatnonzero(col == bad)[0]) + first_row
                k = kinds[j]
                raise SensorError(
                    f"{path}: column {names[j]!r} row {row} holds {bad[:40]!r}; expected "
                    "numbers" + (f" for {k.upper()}" if k in SIGNAL_KINDS else "")
                )
            nan_rows[j] += int(np.isnan(vals).sum())
            if spill is None:
                num_parts[j].append(vals)
            else:
                num_parts[j] = [vals]  # this chunk only
        if spill is not None:
            spill.write(np.stack([num_parts[j][0] for j in numeric], axis=1))
        for j in sparse_cols:
            col = column(j)
            at = np.flatnonzero(col != "")
            sp_parts[j].append((at + n, col[at]))
        n += m
    cols_data: dict[int, np.ndarray] = (
        {j: np.concatenate(v) if len(v) > 1 else v[0] for j, v in num_parts.items()}
        if spill is None
        else {}
    )
    text: dict[int, np.ndarray] = {}
    for j, v in sp_parts.items():
        at = np.concatenate([a for a, _ in v])
        vals_s = np.concatenate([b for _, b in v]) if at.size else np.array([], dtype=str)
        nums = _to_float(vals_s) if at.size else np.empty(0)
        if nums is None:
            col = np.full(n, "", dtype=vals_s.dtype)
            col[at] = vals_s
            text[j] = col
        else:
            x = np.full(n, np.nan)
            x[at] = nums
            cols_data[j] = x
    del num_parts, sp_parts
    if tcol is not None:
        times = np.concatenate(t_parts) if len(t_parts) > 1 else t_parts[0]
        good_t = np.isfinite(times)
        estimate = nominal is None
    else:
        assert nominal is not None
        times = np.arange(n) / nominal
        good_t = None
        estimate = False
    if spill is not None and (
        any(nan_rows.values()) or (good_t is not None and not good_t.all())
    ):  # missing values: NaN runs and rows are handled in memory
        cols_data.update({j: spill.column(j) for j in numeric})
        spill = None
    if good_t is not None and not good_t.all():
        warn(f"{path.name}: {int((~good_t).sum())} row(s) without a time skipped")
        times = times[good_t]
        cols_data = {j: v[good_t] for j, v in cols_data.items()}
        text = {j: v[good_t] for j, v in text.items()}
    irregular = False
    block_fs = 0.0 if estimate else float(nominal)  # type: ignore[arg-type]
    if tcol is not None and times.size > 1:

        def regular(j: int) -> bool:
            if cols and names[j].lower() in wanted and kind:
                return kind in REGULAR_KINDS
            k = kinds[j]
            if k is None and kind is not None and not cols and len(names) <= 2:
                k = kind
            return k in REGULAR_KINDS

        prim = [j for j in cols_data if regular(j)]
        on = np.zeros(times.size, bool)
        for j in prim:
            on |= np.isfinite(cols_data[j])
        if spill is not None and any(regular(j) for j in numeric):
            on[:] = True  # spilled columns have no missing values
        if on.sum() >= 2:
            p_rows = None if on.all() else np.flatnonzero(on)
            tb = regularise(
                times if p_rows is None else times[p_rows],
                nominal,
                path.name,
                warn,
                column=names[tcol],
                rows=p_rows,
            )
            block_fs = check_rate(
                tb.fs,
                f"{path}: rate of the time column {names[tcol]!r} (seconds expected; name "
                "a millisecond column time_ms)",
            )
            estimate = False
            irregular = tb.irregular
            if not irregular and p_rows is None:
                times = tb.times
            elif not irregular:  # rows between samples (markers) move with their neighbour
                prev = np.maximum(np.searchsorted(p_rows, np.arange(times.size), "right") - 1, 0)
                times = times + (tb.times - times[p_rows])[prev]
                times[p_rows] = tb.times
        else:
            d = np.diff(times)
            tol = jitter_tolerance(1.0)
            if np.any(d < -tol):
                i = int(np.flatnonzero(d < -tol)[0]) + 1
                raise SensorError(
                    f"{path}: time column {names[tcol]!r} goes backwards at data row {i + 1} "
                    f"({times[i]:.6f} s after {times[i - 1]:.6f} s); expected non-decreasing "
                    "time"
                )
    keep = [j for j in range(len(names)) if j != tcol]
    b = _Block(
        name=path.name.split(".")[0],
        sid="csv" if path.suffix.lower() != ".txt" else "txt",
        fs=block_fs,
        times=times,
        data=np.empty((0, times.size)),
        cols={keep.index(j): v for j, v in cols_data.items()},
        spill=None if spill is None else spill.renumber(keep),
        labels=[names[j] for j in keep],
        kinds=[kinds[j] if kinds[j] != "time" else None for j in keep],
        units=[units[j] for j in keep],
        sparse=tcol is not None,
        text={keep.index(j): v for j, v in text.items()},
        estimate_fs=estimate,
        irregular=irregular,
    )
    return b


#: Rows of a text file parsed at a time.
CHUNK_ROWS = 1 << 15


def _text_lines(path: Path) -> Iterator[str]:
    """Yield the lines of a UTF-8 text file (no line ends); one-line errors otherwise."""
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below, in the generator)
    except OSError as e:
        raise SensorError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
    with f:
        try:
            start = f.read(65536)
        except OSError as e:
            raise SensorError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
        if b"\x00" in start:
            raise SensorError(f"{path}: binary content; expected delimited text (CSV, TSV, TXT)")
        f.seek(0)
        text = io.TextIOWrapper(f, encoding="utf-8-sig", newline=None)
        k = 0
        try:
            for k, line in enumerate(text, 1):  # noqa: B007 (k names the bad line)
                yield line.rstrip("\n")
        except UnicodeDecodeError:
            raise SensorError(
                f"{path}: not UTF-8 text (near line {k + 1}); expected CSV text"
            ) from None
        except OSError as e:
            raise SensorError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None


def _body_lines(lines: Iterator[str], comments: list[str]) -> Iterator[str]:
    """Yield the data lines: no ``#`` comments (the first 200 lines' go to ``comments``).

    Blank lines inside the data are missing values (single-column files); blank lines
    before the first row and after the last are not.
    """
    started = False
    blanks = 0
    for i, ln in enumerate(lines):
        if ln.lstrip().startswith("#"):
            if i < 200:
                comments.append(ln)
            continue
        if not ln.strip():
            blanks += started
            continue
        started = True
        for _ in range(blanks):
            yield ""
        blanks = 0
        yield ln


def _row_chunks(lines: Iterator[str], delim: str, squeeze: bool) -> Iterator[list[list[str]]]:
    """Yield the rows of delimited lines, :data:`CHUNK_ROWS` at a time."""
    while True:
        part = list(itertools.islice(lines, CHUNK_ROWS))
        if not part:
            return
        if squeeze:
            part = [" ".join(ln.split()) for ln in part]
        yield list(csv.reader(part, delimiter=delim))


def _label_kind(label: str) -> str | None:
    """Kind of a text column: muse-lsl ``Marker0``, a device's ``hr_bpm``, or by label."""
    low = label.strip().lower()
    if re.fullmatch(r"markers?[ _]?\d*", low):
        return "stim"
    if re.fullmatch(r"(hr|heart[ _]?rate)([ _(\[]*bpm[)\]]?)?", low):
        return "hr"
    return kind_from_label(label)


def _to_float(col: np.ndarray) -> np.ndarray | None:
    """Parse a column of strings to float64 (empty -> NaN); None if any is not a number."""
    c = col.astype(f"<U{max(3, col.dtype.itemsize // 4)}")  # room for "nan"
    c[c == ""] = "nan"
    try:
        return c.astype(np.float64)
    except ValueError:
        return None


def _parse_time(path: Path, name: str, col: np.ndarray, warn: _Warn) -> np.ndarray:
    """Time column to seconds: numbers (unit from the name) or date-time strings."""
    col = np.char.strip(col.astype(str))
    unit = TIME_COLUMNS.get(name.lower(), "s")
    suffix = unit_from_label(name)
    if name.lower() not in TIME_COLUMNS and suffix in ("ms", "s"):
        unit = suffix
    empty = col == ""
    if unit == "ns" or unit == "us":
        try:
            c = col.copy()
            c[empty] = "0"
            ints = c.astype(np.int64)
            t = ints.astype(np.float64) * _TIME_SCALE[unit]
            t[empty] = np.nan
            return t
        except ValueError:
            pass
    vals = _to_float(col)
    if vals is not None:
        big = np.nanmedian(np.abs(vals)) if np.isfinite(vals).any() else 0.0
        if unit == "s":
            for limit, u in _EPOCH_UNITS:
                if big > limit:
                    warn(
                        f"{path.name}: time column {name!r} holds epoch times in {u} "
                        f"(values ~{big:.3g}); converted to seconds"
                    )
                    unit = u
                    break
        return vals * _TIME_SCALE[unit]
    try:
        c = col.copy()
        c[empty] = "NaT"
        dt = c.astype("datetime64[ns]")
    except ValueError:
        bad = next(v for v in col if v)
        raise SensorError(
            f"{path}: time column {name!r} holds {bad[:40]!r}; expected seconds or date-times"
        ) from None
    t = dt.astype(np.int64).astype(np.float64) * 1e-9
    t[np.isnat(dt)] = np.nan
    return t
