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

Modules: :mod:`~attune.sensors.read_xdf`, :mod:`~attune.sensors.read_mne` and
:mod:`~attune.sensors.read_text` read each format into blocks of channels
(:mod:`~attune.sensors.read_common`); :mod:`~attune.sensors.read_streams` splits the
blocks into streams; this module chooses the reader and checks what was asked for.
mne and pyxdf are imported inside the readers, so importing this module stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from attune.sensors.read_common import (
    NAN_INTERP_S,
    SIGNAL_KINDS,
    UNITS,
    Block,
    Warn,
)
from attune.sensors.read_mne import read_mne
from attune.sensors.read_streams import streams_of
from attune.sensors.read_text import TIME_COLUMNS, read_text
from attune.sensors.read_xdf import read_xdf
from attune.sensors.recording import RecordedStream, Recording
from attune.sensors.timebase import (
    check_rate,
    shorten_jumps,
)
from attune.sensors.types import SensorError

__all__ = [
    "NAN_INTERP_S",
    "SIGNAL_KINDS",
    "TIME_COLUMNS",
    "UNITS",
    "RecordedStream",
    "Recording",
    "read_recording",
    "select_streams",
]

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
    blocks: list[Block | RecordedStream]
    if kind is not None and kind not in (*SIGNAL_KINDS, "markers"):
        raise SensorError(f"{p}: kind must be one of eeg, ecg, ppg, rr, hr, markers, got {kind!r}")
    if fs is not None:
        fs = check_rate(fs, f"{p}: fs")
    cols = [c.strip() for c in columns] if columns else []
    warn = Warn()
    if fmt == "xdf":
        blocks = read_xdf(p, warn)
    elif fmt == "mne":
        blocks = list(read_mne(p, warn))
    else:
        blocks = [read_text(p, warn, fs=fs, kind=kind, time_column=time_column, cols=cols)]
    if fs is not None and fmt != "text":
        for b in blocks:
            if isinstance(b, Block) and b.fs > 0 and abs(b.fs - fs) > 1e-6 * fs:
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
        streams.extend(streams_of(p, b, kind=kind, cols=cols, found=found, warn=warn))
    plain = [b for b in blocks if isinstance(b, Block)]
    missing = [c for c in cols if c.lower() not in found]
    if missing:
        have = ", ".join(lab for b in plain for lab in b.labels)
        raise SensorError(
            f"{p}: no channel {missing[0]!r} (asked for {len(cols)} channels: "
            f"{', '.join(cols)}; the file has: {have})"
        )
    if not any(s.info.kind != "markers" for s in streams) and kind != "markers":
        have = "; ".join(
            ", ".join(f"{lab} ({k or 'unknown'})" for lab, k in zip(b.labels, b.kinds, strict=True))
            for b in plain
        )
        want = f"{kind} " if kind else "EEG, ECG, PPG or RR "
        raise SensorError(
            f"{p}: no {want}signal found (channels: {have or 'none'}); pick channels with "
            "--column NAME --kind KIND"
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
    picked: list[RecordedStream] = []
    seen: set[str] = set()
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
