"""The dataset table of a batch: one row per recording, written as CSV and Parquet.

A row summarises one replayed session (:func:`session_row`) or records why the
recording failed (:func:`failed_row`). Every value is derived from the recording and
the configuration only (no wall times, no dates), so the same inputs give the same
table whatever the number of workers. Columns, in order, are :data:`COLUMNS`;
:data:`COLUMN_HELP` says what each holds and in which unit.

Per-tick features are summarised by their median over the ticks where they were
available (each is missing until its window is full). QC flags (:func:`qc_flags`) mark
recordings worth a look: too short, few beats, low signal quality, long holds (reader
warnings, mostly channels left out, are counted in ``n_warnings``, not flagged).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from attune.sessions.store import SessionData

#: (column, type, help) of the dataset table, in order. Types: str, int, float.
SCHEMA: tuple[tuple[str, str, str], ...] = (
    ("recording", "str", "recording id (the session folder's name)"),
    ("participant", "str", "participant pseudonym (BIDS: sub-<label>)"),
    ("bids_session", "str", "BIDS session label, if any"),
    ("task", "str", "BIDS task label, if any"),
    ("run", "str", "BIDS run, if any"),
    ("file", "str", "the recording file"),
    ("status", "str", "ok or failed"),
    ("error", "str", "why it failed (one line)"),
    ("streams", "str", "kinds replayed, e.g. ecg+eeg+markers"),
    ("duration_s", "float", "session time replayed, s"),
    ("n_ticks", "int", "control ticks"),
    ("n_beats", "int", "heartbeats detected"),
    ("beats_corrected_pct", "float", "beats corrected (ectopic/missed), %"),
    ("mean_hr_bpm", "float", "mean of the per-tick heart rate, bpm"),
    ("ln_rmssd", "float", "median ln RMSSD, ln ms"),
    ("sdnn_ms", "float", "median SDNN, ms"),
    ("hf_ln", "float", "median ln HF power, ln ms^2"),
    ("eeg_theta_ln", "float", "median ln theta power, ln uV^2"),
    ("eeg_alpha_ln", "float", "median ln alpha power, ln uV^2"),
    ("eeg_beta_ln", "float", "median ln beta power, ln uV^2"),
    ("eeg_alpha_rel", "float", "median relative alpha power (0-1)"),
    ("faa", "float", "median frontal alpha asymmetry, ln uV^2"),
    ("hrv_quality", "float", "median heart signal quality (share of clean beats, 0-1)"),
    ("eeg_quality", "float", "median EEG quality (share of clean segments, 0-1)"),
    ("hold_s", "float", "time the music was on hold (low confidence), s"),
    ("hold_pct", "float", "time on hold, % of the session"),
    ("arousal_baseline", "float", "arousal estimate at the end of the baseline (-1..1)"),
    ("arousal_end", "float", "arousal estimate at the last tick (-1..1)"),
    ("arousal_mean", "float", "mean arousal estimate (-1..1)"),
    ("valence_mean", "float", "mean valence estimate (-1..1)"),
    ("confidence_mean", "float", "mean estimate confidence (0-1)"),
    ("n_markers", "int", "marker events"),
    ("n_warnings", "int", "conditions the reader handled (gaps, NaN runs, ...)"),
    ("qc_flags", "str", "quality-control flags, '; '-separated (empty: none)"),
    ("key", "str", "cache key: hash of input content, configuration and Attune version"),
    ("attune_version", "str", "Attune version that replayed it"),
)
#: Column names in order.
COLUMNS: tuple[str, ...] = tuple(c for c, _, _ in SCHEMA)
#: Column -> type name.
COLUMN_TYPES: dict[str, str] = {c: t for c, t, _ in SCHEMA}
#: Column -> description (with unit).
COLUMN_HELP: dict[str, str] = {c: h for c, _, h in SCHEMA}

#: QC: recordings shorter than this are flagged, s (short-term HRV needs >= 2 min).
QC_MIN_DURATION_S = 120.0
#: QC: fewer beats than this in a recording with a cardiac stream is flagged.
QC_MIN_BEATS = 60
#: QC: median signal quality below this is flagged (0-1).
QC_MIN_QUALITY = 0.8
#: QC: more corrected beats than this is flagged, %.
QC_MAX_CORRECTED_PCT = 5.0
#: QC: more time on hold than this is flagged, %.
QC_MAX_HOLD_PCT = 25.0


def _median(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else math.nan


def _mean(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.mean(x)) if x.size else math.nan


def _col(data: SessionData, name: str) -> np.ndarray:
    t = data.ticks["t_s"]
    return np.asarray(data.ticks.get(name, np.full(t.size, np.nan)), dtype=float)


def qc_flags(row: dict[str, object]) -> list[str]:
    """Quality-control flags of a finished row (see the ``QC_*`` thresholds)."""
    if row.get("status") != "ok":
        return ["failed"]
    flags = []
    kinds = str(row.get("streams", "")).split("+")
    cardiac = any(k in kinds for k in ("ecg", "ppg", "rr"))

    def num(c: str) -> float:
        v = row.get(c)
        return float(v) if isinstance(v, int | float) else math.nan

    if num("duration_s") < QC_MIN_DURATION_S:
        flags.append(f"short (< {QC_MIN_DURATION_S:g} s)")
    if cardiac and num("n_beats") < QC_MIN_BEATS:
        flags.append(f"few beats (< {QC_MIN_BEATS})")
    if cardiac and not math.isfinite(num("ln_rmssd")):
        flags.append("no HRV")
    if num("hrv_quality") < QC_MIN_QUALITY:
        flags.append(f"heart quality < {QC_MIN_QUALITY:g}")
    if num("eeg_quality") < QC_MIN_QUALITY:
        flags.append(f"EEG quality < {QC_MIN_QUALITY:g}")
    if num("beats_corrected_pct") > QC_MAX_CORRECTED_PCT:
        flags.append(f"corrected beats > {QC_MAX_CORRECTED_PCT:g} %")
    if num("hold_pct") > QC_MAX_HOLD_PCT:
        flags.append(f"on hold > {QC_MAX_HOLD_PCT:g} %")
    return flags


def _base(ident: dict[str, str]) -> dict[str, object]:
    row: dict[str, object] = {c: ("" if COLUMN_TYPES[c] == "str" else math.nan) for c in COLUMNS}
    row.update(ident)
    return row


def session_row(
    data: SessionData,
    ident: dict[str, str],
    *,
    kinds: Sequence[str],
    n_warnings: int,
    baseline_s: float,
) -> dict[str, object]:
    """Summarise one replayed session as a table row.

    Parameters
    ----------
    data : SessionData
        The session read back from its store.
    ident : dict of str to str
        ``recording``, ``participant``, ``bids_session``, ``task``, ``run``, ``file``, ``key``,
        ``attune_version``.
    kinds : sequence of str
        Kinds of the streams replayed.
    n_warnings : int
        Conditions the reader handled.
    baseline_s : float
        End of the baseline phase, s (where ``arousal_baseline`` is read).

    Returns
    -------
    dict
        One value per column of :data:`COLUMNS` (NaN where not available).
    """
    row = _base(ident)
    t = data.ticks["t_s"]
    n = int(t.size)
    tick_s = float(data.meta.get("tick_s") or 0.0)
    hr = _col(data, "hr_bpm")
    arousal = _col(data, "arousal")
    hold = np.nan_to_num(_col(data, "hold")) > 0.5
    n_beats = int(data.beats["time_s"].size)
    base_i = min(n - 1, int(baseline_s / tick_s)) if n and tick_s > 0 else 0
    row.update(
        status="ok",
        streams="+".join(kinds),
        duration_s=n * tick_s,
        n_ticks=n,
        n_beats=n_beats,
        beats_corrected_pct=(
            100.0 * float(np.sum(data.beats["corrected"])) / n_beats if n_beats else math.nan
        ),
        mean_hr_bpm=_mean(hr),
        hold_s=float(np.sum(hold)) * tick_s,
        hold_pct=100.0 * float(np.mean(hold)) if n else math.nan,
        arousal_baseline=float(arousal[base_i]) if n else math.nan,
        arousal_end=float(arousal[-1]) if n else math.nan,
        arousal_mean=_mean(arousal),
        valence_mean=_mean(_col(data, "valence")),
        confidence_mean=_mean(_col(data, "confidence")),
        n_markers=sum(1 for _, text in data.events if text.startswith("marker: ")),
        n_warnings=int(n_warnings),
    )
    for c in (
        "ln_rmssd",
        "sdnn_ms",
        "hf_ln",
        "eeg_theta_ln",
        "eeg_alpha_ln",
        "eeg_beta_ln",
        "eeg_alpha_rel",
        "faa",
        "hrv_quality",
        "eeg_quality",
    ):
        row[c] = _median(_col(data, c))
    row["qc_flags"] = "; ".join(qc_flags(row))
    return row


def failed_row(ident: dict[str, str], error: str) -> dict[str, object]:
    """Return the row of a recording that could not be replayed."""
    row = _base(ident)
    row.update(status="failed", error=error, qc_flags="failed")
    return row


def _cell(value: object, kind: str) -> str:
    if kind == "str":
        return str(value if value is not None else "")
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if kind == "int":
        return str(int(value))  # type: ignore[call-overload]
    return repr(float(value))  # type: ignore[arg-type]


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def write_csv(rows: Sequence[dict[str, object]], path: Path) -> Path:
    """Write the rows as CSV (``,``-separated, header row, empty cell = missing), atomically."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(r.get(c), COLUMN_TYPES[c]) for c in COLUMNS])
    _atomic_write(path, buf.getvalue().encode("utf-8"))
    return path


def write_parquet(rows: Sequence[dict[str, object]], path: Path) -> Path:
    """Write the rows as Parquet (pyarrow; column descriptions in the field metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64()}
    fields = [pa.field(c, types[t], metadata={"description": h.encode()}) for c, t, h in SCHEMA]

    def value(v: object, t: str) -> object:
        if t == "str":
            return str(v if v is not None else "")
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            return None
        return int(v) if t == "int" else float(v)  # type: ignore[call-overload,arg-type]

    arrays = [pa.array([value(r.get(c), t) for r in rows], type=types[t]) for c, t, _ in SCHEMA]
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    _atomic_write(path, buf.getvalue().to_pybytes())
    return path


def read_csv(path: Path) -> list[dict[str, object]]:
    """Read a dataset table written by :func:`write_csv` back into typed rows."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        row: dict[str, object] = {}
        for c in COLUMNS:
            text = r.get(c, "")
            kind = COLUMN_TYPES[c]
            if kind == "str":
                row[c] = text
            elif text == "":
                row[c] = math.nan
            else:
                row[c] = int(text) if kind == "int" else float(text)
        out.append(row)
    return out
