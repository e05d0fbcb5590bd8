"""Split a :class:`~attune.sensors.read_common.Block` into streams in Attune's units.

One stream per kind; regular streams of on-disk files stay on disk (read in blocks);
NaN runs filled or cut; timestamps checked; trigger channels and marker columns to marker
streams.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from attune.sensors.channels import (
    unit_scale,
)
from attune.sensors.read_common import (
    NAN_INTERP_S,
    REGULAR_KINDS,
    SIGNAL_KINDS,
    UNITS,
    Block,
    Warn,
)
from attune.sensors.read_mne import MneReader
from attune.sensors.read_text import SpillReader
from attune.sensors.recording import RecordedStream
from attune.sensors.timebase import (
    GAP_PERIODS,
    check_rate,
    resample_uniform,
)
from attune.sensors.types import SensorError, StreamInfo


# --------------------------------------------------------------------------- streams
def streams_of(
    path: Path,
    b: Block,
    *,
    kind: str | None,
    cols: list[str],
    found: set[str],
    warn: Warn,
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
                f"{short_list(left)} (pick them with --column NAME --kind KIND)"
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


def short_list(items: list[str], n: int = 8) -> str:
    """Join the first ``n`` items, saying how many more there are."""
    return ", ".join(items[:n]) + (f", ... ({len(items) - n} more)" if len(items) > n else "")


def _stream_name(b: Block, k: str, split: bool) -> str:
    if b.own_kind is not None and (b.own_kind == k or (not split and b.own_kind != "markers")):
        return b.name
    return f"{b.name}/{k}"


def _scales(path: Path, b: Block, idx: list[int], k: str, what: str, warn: Warn) -> np.ndarray:
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
        warn(f"{what}: no unit for {short_list(unknown, 4)}; values taken as {UNITS[k]}")
    if misfit:
        warn(f"{what}: units {short_list(misfit, 4)} do not fit {k}; values kept as they are")
    return out


def _lazy_stream(
    path: Path, b: Block, idx: list[int], k: str, split: bool, warn: Warn
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
    reader = MneReader(b.raw, idx, scale, float32, b.n_raw)
    return RecordedStream(info, dtype=dtype, reader=reader)


def _spilled_stream(
    path: Path, b: Block, idx: list[int], k: str, split: bool, warn: Warn
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
    reader = SpillReader(b.spill, idx, scale, b.times)
    return RecordedStream(info, dtype="float64", reader=reader)


def _signal_stream(
    path: Path, b: Block, idx: list[int], k: str, split: bool, warn: Warn
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
    path: Path, b: Block, idx: list[int], warn: Warn
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
    return markers_stream(path, b, name, t[order], [str(s) for s in lab[order]], warn)


def markers_stream(
    path: Path, b: Block, name: str, t: np.ndarray, labels: list[str], warn: Warn
) -> RecordedStream | None:
    """Build a marker stream from times and labels (sorted if out of order); None if empty."""
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
            f"{what}: {times.size} samples are too few to estimate the sampling rate; "
            "give it with --fs HZ"
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
    data: np.ndarray, times: np.ndarray, fs: float, what: str, warn: Warn
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
    times: np.ndarray, fs: float, what: str, warn: Warn, *, nominal_check: bool
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
