"""Read EDF, BDF, FIF and BrainVision files with mne, without loading their samples."""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from attune.sensors.channels import (
    kind_from_label,
    kind_from_type,
)
from attune.sensors.claims import check_edf
from attune.sensors.read_common import (
    Block,
    Warn,
)
from attune.sensors.timebase import (
    check_rate,
)
from attune.sensors.types import SensorError


class MneReader:
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
        """Return samples ``k0:k1`` in Attune's units and their times (``k / fs``)."""
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

    def subset(self, idx: Sequence[int]) -> MneReader:
        """Return the reader of channels ``idx`` only."""
        return MneReader(
            self.raw, [self.picks[i] for i in idx], self.scale[list(idx)], self.float32,
            self.n_samples,
        )  # fmt: skip


# --------------------------------------------------------------------------- mne
def read_mne(path: Path, warn: Warn) -> list[Block]:
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
    b = Block(
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
