"""What the format readers share: the :class:`Block` of channels they return, kinds, units."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from attune.sensors.channels import UNITS as _UNITS

if TYPE_CHECKING:
    from attune.sensors.read_text import Spill

#: Attune's unit for each stream kind (``hr``: a device's own heart rate, in bpm).
UNITS = {**_UNITS, "hr": "bpm"}
#: Stream kinds that carry signals (everything but markers). ``hr`` is a device's own
#: heart rate (Polar ``hr_bpm``), kept so the engine can cross-check its beats.
SIGNAL_KINDS = ("eeg", "ecg", "ppg", "rr", "hr")
#: Kinds sampled at a regular rate (their timestamps are dejittered or resampled).
REGULAR_KINDS = ("eeg", "ecg", "ppg")
#: NaN runs shorter than this (seconds) are linearly interpolated; longer ones are cut.
NAN_INTERP_S = 0.5
#: Samples per block when an on-disk channel is read whole (markers, fallbacks).
SCAN_BLOCK = 1 << 20


@dataclass
class Block:
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
    spill: Spill | None = None  # large text files: numeric channels on disk

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


class Warn:
    """Collects warnings for one file."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def __call__(self, msg: str) -> None:
        """Add ``msg`` unless it is there already."""
        if msg not in self.items:
            self.items.append(msg)
