"""EEG spectral features by incremental Welch, with artifact flags, montages and asymmetry.

Each complete segment's periodogram is computed once, when its last sample arrives, and
cached with its band powers and artifact flags; a tick's features are means over the
cached clean segment spectra inside the window. On clean data the window PSD equals
:func:`scipy.signal.welch` on the same samples with ``noverlap = nperseg - hop``.

References
----------
.. [1] Welch, P. (1967). The use of fast Fourier transform for the estimation of power
   spectra. IEEE Transactions on Audio and Electroacoustics, 15(2), 70-73.
.. [2] Pope, A. T., Bogart, E. H., & Bartolome, D. S. (1995). Biocybernetic system
   evaluates indices of operator engagement in automated task. Biological Psychology,
   40(1-2), 187-195 (engagement index beta / (alpha + theta)).
.. [3] Cannard, C., Wahbeh, H., & Delorme, A. (2021). Validating the wearable MUSE
   headset for EEG spectral analysis and frontal alpha asymmetry. IEEE BIBM, 3603-3610.
.. [4] Klimesch, W. (1999). EEG alpha and theta oscillations reflect cognitive and memory
   performance: a review and analysis. Brain Research Reviews, 29(2-3), 169-195
   (individual alpha peak frequency).
.. [5] Muthukumaraswamy, S. D. (2013). High-frequency brain activity and muscle
   artifacts in MEG/EEG: a review and recommendations. Frontiers in Human Neuroscience,
   7, 138 (EMG above ~20-30 Hz).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import scipy.fft
import scipy.signal

from attune.sensors.montage import ChannelLabel, classify_channels, is_frontal
from attune.sensors.types import Chunk

__all__ = ["ARTIFACT_CAUSES", "DEFAULT_BANDS", "EEG_FEATURES", "EEGFeatures", "EEGStage"]

log = logging.getLogger(__name__)

#: EEG bands in Hz, ``lo <= f < hi``.
DEFAULT_BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}

#: Names of the features :meth:`EEGFeatures.as_features` returns, in record order.
EEG_FEATURES: tuple[str, ...] = (
    "eeg_alpha_ln",
    "eeg_theta_ln",
    "eeg_beta_ln",
    "eeg_engagement_ln",
    "faa",
    "eeg_quality",
    "eeg_alpha_rel",
    "eeg_beta_alpha_ln",
    "eeg_iapf_hz",
)

#: Artifact causes, bit ``1 << i`` in the per-segment flags.
ARTIFACT_CAUSES: tuple[str, ...] = ("amplitude", "peak_to_peak", "flat", "emg", "blink")
_AMP, _PTP, _FLAT, _EMG, _BLINK = (np.uint8(1 << i) for i in range(5))

_MUSE_FRONT = ("AF7", "AF8")
_MUSE_MASTOIDS = ("TP9", "TP10")
#: Unit name (lower case) -> factor to uV.
_UNIT_TO_UV = {
    "v": 1e6,
    "volt": 1e6,
    "volts": 1e6,
    "mv": 1e3,
    "millivolts": 1e3,
    "uv": 1.0,
    "µv": 1.0,
    "μv": 1.0,
    "microvolt": 1.0,
    "microvolts": 1.0,
    "nv": 1e-3,
}
_IAPF_RANGE_HZ = (7.0, 14.0)
_NO_HEARTBEATS = np.zeros((0, 3))
_NO_HEARTBEATS.flags.writeable = False


@dataclass(frozen=True)
class EEGFeatures:
    """EEG features of the current window.

    Per-channel arrays have one row per EEG channel used by the stage, in the order of
    :attr:`channels` (non-EEG channels such as EOG, ECG, Status are excluded).

    Attributes
    ----------
    t : float
        Time of the newest sample seen, in s.
    bands : tuple of str
        Band names, columns of :attr:`band_power`.
    band_power : ndarray, shape (n_eeg, n_bands)
        Absolute band power in uV^2 (PSD in uV^2/Hz integrated over the band's bins),
        averaged over the clean segments of each channel in the window; NaN for a
        channel without a clean segment (or before the first segment).
    rel_power : ndarray, shape (n_eeg, n_bands)
        ``band_power`` divided by its sum over the configured bands (dimensionless).
    alpha_ln, theta_ln, beta_ln : float or None
        Mean over used channels of ln band power (ln uV^2); None if unavailable.
    alpha_rel : float or None
        Mean over used channels of relative alpha power.
    engagement_ln : float or None
        Mean over used channels of ln(beta / (alpha + theta)) (Pope et al. 1995).
    beta_alpha_ln : float or None
        Mean over used channels of ln(beta / alpha).
    iapf_hz : float or None
        Individual alpha peak frequency in Hz: maximum of the channel-mean PSD in 7-14 Hz,
        refined by parabolic interpolation; None without an interior peak (Klimesch 1999).
    faa : float or None
        Frontal alpha asymmetry ln alpha(right) - ln alpha(left) of the first pair in
        ``faa_pairs`` with both channels usable; None if none.
    faa_pairs : tuple of (str, str, float or None)
        ``(right, left, faa)`` for every configured pair present in the montage.
    n_segments : int
        Segments in the window.
    clean_fraction : float
        Clean (channel, segment) spectra / all in the window over channels not dropped,
        in [0, 1]; 0 before the first segment or when every channel is dropped.
    coverage_s : float
        Time spanned by the window's segments, in s.
    channels : tuple of str
        EEG channels (10-10 names where known, else labels), rows of per-channel arrays.
    channel_quality : ndarray, shape (n_eeg,)
        Fraction of each channel's segments in the window that are clean, in [0, 1].
    dropped : tuple of str
        Channels left out of the features because they were bad for ``drop_after_s``.
    artifact_counts : tuple of (str, int)
        (cause, number of (channel, segment) pairs in the window flagged for it).
    events : tuple of str
        Things that happened in this update (unit detection, channel dropped/restored).
    """

    t: float
    bands: tuple[str, ...]
    band_power: np.ndarray = field(repr=False)
    alpha_ln: float | None
    theta_ln: float | None
    beta_ln: float | None
    engagement_ln: float | None
    faa: float | None
    n_segments: int
    clean_fraction: float
    coverage_s: float
    rel_power: np.ndarray = field(repr=False, default_factory=lambda: np.empty((0, 0)))
    alpha_rel: float | None = None
    beta_alpha_ln: float | None = None
    iapf_hz: float | None = None
    faa_pairs: tuple[tuple[str, str, float | None], ...] = ()
    channels: tuple[str, ...] = ()
    channel_quality: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    dropped: tuple[str, ...] = ()
    artifact_counts: tuple[tuple[str, int], ...] = ()
    events: tuple[str, ...] = ()

    @property
    def quality(self) -> float:
        """Fraction of clean spectra in the window, in [0, 1] (:attr:`clean_fraction`)."""
        return self.clean_fraction

    @property
    def heartbeats(self) -> np.ndarray:
        """No heartbeats from EEG: shape (0, 3) (the loop's ``StageResult`` seam)."""
        return _NO_HEARTBEATS

    def as_features(self) -> dict[str, float | None]:
        """Return the features for the affect estimator.

        Returns
        -------
        dict
            Keys :data:`EEG_FEATURES`; None (never NaN) until a full segment exists.
        """
        if self.n_segments == 0:
            return dict.fromkeys(EEG_FEATURES)
        return {
            "eeg_alpha_ln": self.alpha_ln,
            "eeg_theta_ln": self.theta_ln,
            "eeg_beta_ln": self.beta_ln,
            "eeg_engagement_ln": self.engagement_ln,
            "faa": self.faa,
            "eeg_quality": float(self.clean_fraction),
            "eeg_alpha_rel": self.alpha_rel,
            "eeg_beta_alpha_ln": self.beta_alpha_ln,
            "eeg_iapf_hz": self.iapf_hz,
        }


def _mean_ln(x: np.ndarray | None, use: np.ndarray) -> float | None:
    # Only finite positive values reach the log (no FP warnings to silence); sum / size
    # is np.mean to the bit, without its dispatch (called 5 times per new segment).
    if x is None:
        return None
    ok = use & np.isfinite(x) & (x > 0)
    if not ok.any():
        return None
    v = np.log(x[ok])
    return float(v.sum() / v.size)


def _mean(x: np.ndarray | None, use: np.ndarray) -> float | None:
    if x is None:
        return None
    ok = use & np.isfinite(x)
    if not ok.any():
        return None
    v = x[ok]
    return float(v.sum() / v.size)


def _median_rows(a: np.ndarray) -> np.ndarray:
    """``np.median(a, axis=1)`` of a 2-D array without NaN, bit for bit, via one partition.

    The middle order statistics (and, for an even row length, ``(lo + hi) / 2`` as
    ``np.mean`` of the two computes it) without ``np.median``'s generic machinery.
    """
    n = a.shape[1]
    h = n // 2
    if n % 2:
        return np.partition(a, h, axis=1)[:, h]
    v = np.partition(a, (h - 1, h), axis=1)
    return (v[:, h - 1] + v[:, h]) / 2.0


class EEGStage:
    """Streaming EEG spectral features by incremental Welch.

    Pipeline per chunk, vectorized over channels: pick the EEG rows (by label, see
    :mod:`attune.sensors.montage`), scale to uV, re-reference, optional causal high-pass and
    notch (state carried across chunks), then cut segments of ``segment_s`` every
    ``segment_hop_s``. Each completed segment is detrended (constant), Hann-windowed
    (periodic) and transformed once (``scipy.fft.rfft``, one worker); its one-sided
    density spectrum (uV^2/Hz, as ``scipy.signal.welch(scaling="density")``), band
    powers and artifact flags go into preallocated rings. Window features are recomputed
    only when a segment completes; other ticks only buffer samples.

    Re-referencing (applied first): ``reference=None`` (default) re-references AF7 and
    AF8 to the mean of TP9 and TP10 when all four are present (Muse; Cannard et al.
    2021), otherwise nothing; a sequence of labels re-references every other EEG channel
    to their mean; an empty sequence disables re-referencing.

    Artifact flags per (channel, segment), with thresholds in uV: ``|x - mean| >
    max_abs_uv`` (amplitude), peak-to-peak ``> max_ptp_uv``, standard deviation ``<
    min_std_uv`` (flat), EMG (ln power in ``emg_band_hz`` above the median of the
    channel's last 60 clean segments by more than ``emg_sd`` of their standard
    deviations, floored at 0.25; before ``emg_min_baseline`` clean segments, relative
    power of ``emg_band_hz`` in 1-45 Hz above ``emg_rel``), and blinks (frontal sites
    Fp/AF/F only: peak-to-peak of the segment averaged in 1/8 s blocks, i.e. < ~4 Hz,
    above ``blink_uv``). A flagged spectrum leaves that channel's averages. A channel
    whose segments are all bad for ``drop_after_s`` is dropped from the features (an
    event is emitted) until a whole window of its segments is clean again.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    channels : sequence of str
        Channel labels, one per data row (all rows of the stream, EEG or not).
    window_s : float, default 4.0
        Welch window in s: the segments whose samples all lie in the last ``window_s``
        seconds of completed segments.
    segment_s : float, default 2.0
        Segment length in s (``nperseg = round(segment_s * fs)``).
    overlap : float, default 0.5
        Segment overlap fraction in [0, 1) (``noverlap = round(overlap * nperseg)``);
        ignored when ``segment_hop_s`` is given.
    segment_hop_s : float, optional
        Segment hop in s (``hop = round(segment_hop_s * fs)``, ``noverlap = nperseg -
        hop``); e.g. 0.25 s for a fresh segment every 0.25 s tick (9 segments in 4 s).
    faa_pairs : sequence of (right, left) labels
        Pairs for frontal alpha asymmetry, in order of preference.
    reference : sequence of str or None, default None
        See above.
    bands : mapping of str to (lo, hi), optional
        Bands in Hz; default :data:`DEFAULT_BANDS`. Derived features need alpha, theta
        and beta.
    units : {"V", "uV"} or None, default None
        Units of the incoming samples. None: from ``chunk.info.units`` (V, mV, uV, nV);
        if that is not a voltage, from amplitude at the first chunk (median absolute
        deviation about the channel median below 1e-3 means volts), with a logged
        warning and an event.
    notch_hz : {50, 60} or None
        Causal IIR notch (Q = 30) at mains frequency; None for none.
    highpass_hz : float or None
        Causal 2nd-order Butterworth high-pass corner in Hz; None for none. Filters start
        in the steady state of each channel's first sample.
    max_abs_uv, max_ptp_uv, min_std_uv : float or None
        Amplitude rules in uV (100, 150, 0.5); None disables a rule.
    emg_band_hz : (float, float), default (30, 45)
        EMG detection band in Hz (clipped to Nyquist; rule off if empty).
    emg_sd, emg_rel : float or None
        EMG thresholds (3 SD of ln power, 0.5 relative power); None disables.
    emg_min_baseline : int, default 10
        Clean segments needed before the baseline rule replaces the relative rule.
    blink_uv : float or None, default 80
        Low-frequency peak-to-peak threshold at frontal sites in uV; None disables.
    drop_after_s : float or None, default 10
        Seconds of continuously bad segments after which a channel is dropped.

    Notes
    -----
    Not thread-safe: call :meth:`update` from the engine tick. Cost per update: the new
    samples (copy, filters) plus, when segments complete, one rFFT per segment and a few
    reductions over the window's cached band powers (not its spectra).
    """

    def __init__(
        self,
        *,
        fs: float,
        channels: Sequence[str],
        window_s: float = 4.0,
        segment_s: float = 2.0,
        overlap: float = 0.5,
        segment_hop_s: float | None = None,
        faa_pairs: Sequence[tuple[str, str]] = (("AF8", "AF7"), ("F4", "F3"), ("F8", "F7")),
        reference: Sequence[str] | None = None,
        bands: Mapping[str, tuple[float, float]] | None = None,
        units: Literal["V", "uV"] | None = None,
        notch_hz: float | None = None,
        highpass_hz: float | None = None,
        max_abs_uv: float | None = 100.0,
        max_ptp_uv: float | None = 150.0,
        min_std_uv: float | None = 0.5,
        emg_band_hz: tuple[float, float] = (30.0, 45.0),
        emg_sd: float | None = 3.0,
        emg_rel: float | None = 0.5,
        emg_min_baseline: int = 10,
        blink_uv: float | None = 80.0,
        drop_after_s: float | None = 10.0,
    ) -> None:
        if not np.isfinite(fs) or fs <= 0:
            raise ValueError(f"EEGStage: fs must be > 0 Hz, got {fs!r}")
        if len(channels) == 0:
            raise ValueError("EEGStage: channels must not be empty")
        if units not in (None, "V", "uV"):
            raise ValueError(f"EEGStage: units must be 'V', 'uV' or None, got {units!r}")
        self.fs = float(fs)
        self.channels = tuple(channels)
        self.labels: tuple[ChannelLabel, ...] = classify_channels(self.channels)
        if not any(c.kind == "eeg" for c in self.labels) and any(
            c.kind == "other" for c in self.labels
        ):
            log.warning(
                "EEGStage: no label of %s names an EEG site; using the unrecognised ones as "
                "EEG of unknown position",
                self.channels,
            )
            self.labels = tuple(
                dataclasses.replace(c, kind="eeg", system="none") if c.kind == "other" else c
                for c in self.labels
            )
        self._idx = np.array([i for i, c in enumerate(self.labels) if c.kind == "eeg"], int)
        eeg = [self.labels[i] for i in self._idx]
        self.eeg_channels: tuple[str, ...] = tuple(c.name for c in eeg)
        self.excluded: tuple[str, ...] = tuple(c.label for c in self.labels if c.kind != "eeg")
        self._all_rows = self._idx.size == len(self.channels)
        n_ch = self._idx.size
        if n_ch == 0:
            log.warning("EEGStage: no EEG channel among %s: features stay None", self.channels)

        # segmentation
        self.nperseg = int(round(segment_s * fs))
        if self.nperseg < 8:
            raise ValueError(f"EEGStage: segment_s * fs must give >= 8 samples, got {self.nperseg}")
        if segment_hop_s is not None:
            self.hop = int(round(segment_hop_s * fs))
            if not 1 <= self.hop <= self.nperseg:
                raise ValueError(
                    f"EEGStage: segment_hop_s must give 1..nperseg={self.nperseg} samples, "
                    f"got {segment_hop_s!r} s"
                )
        else:
            if not 0.0 <= overlap < 1.0:
                raise ValueError(f"EEGStage: overlap must be in [0, 1), got {overlap!r}")
            self.hop = self.nperseg - int(round(overlap * self.nperseg))
        self.noverlap = self.nperseg - self.hop
        win_n = int(round(window_s * fs))
        if win_n < self.nperseg:
            raise ValueError(
                f"EEGStage: window_s ({window_s} s) must be >= segment_s ({segment_s} s)"
            )
        self.n_window = (win_n - self.nperseg) // self.hop + 1  # segments per window

        # units, reference, filters
        self._units = units
        self._to_uv: float | None = {"V": 1e6, "uV": 1.0}.get(units) if units else None
        self._ref = self._reference(reference)
        self._sos = self._filters(notch_hz, highpass_hz)
        self._zi: np.ndarray | None = None

        # spectra
        self._win = scipy.signal.get_window("hann", self.nperseg)
        scale = 1.0 / (self.fs * np.sum(self._win**2))
        self.freqs = np.fft.rfftfreq(self.nperseg, 1.0 / self.fs)
        onesided = np.full(self.freqs.size, 2.0 * scale)
        onesided[0] = scale
        if self.nperseg % 2 == 0:
            onesided[-1] = scale
        self._scale = onesided
        self.df = self.fs / self.nperseg
        bands = DEFAULT_BANDS if bands is None else dict(bands)
        for name, (lo, hi) in bands.items():
            if not 0 <= lo < hi:
                raise ValueError(f"EEGStage: band {name!r} must have 0 <= lo < hi, got {lo, hi}")
        self.bands = tuple(bands)
        masks = [(self.freqs >= lo) & (self.freqs < hi) for lo, hi in bands.values()]
        emg_lo, emg_hi = emg_band_hz
        emg_mask = (self.freqs >= emg_lo) & (self.freqs < emg_hi)
        tot_mask = (self.freqs >= 1.0) & (self.freqs < 45.0)
        self._emg_on = bool(emg_mask.any())
        # columns: bands..., emg band, 1-45 Hz total
        self._band_w = np.stack([*masks, emg_mask, tot_mask]).T.astype(float) * self.df
        self._nb = len(self.bands)
        self._bidx = {name: i for i, name in enumerate(self.bands)}
        a_lo, a_hi = _IAPF_RANGE_HZ
        sel = np.flatnonzero((self.freqs >= a_lo) & (self.freqs <= a_hi))
        self._asl = slice(int(sel[0]), int(sel[-1]) + 1) if sel.size >= 3 else None

        # artifact settings
        self._thr = (max_abs_uv, max_ptp_uv, min_std_uv)
        self._emg = (emg_sd, emg_rel, int(emg_min_baseline))
        self._blink_uv = blink_uv
        self._frontal = np.array([is_frontal(c.position) for c in eeg], bool)
        self._block = max(1, int(round(self.fs / 8.0)))
        self._drop_segs = (
            None
            if drop_after_s is None
            else max(1, int(np.ceil((drop_after_s * self.fs - self.nperseg) / self.hop)) + 1)
        )

        # rings: segment spectra, band powers, flags
        nf = self.freqs.size
        self._spec = np.zeros((self.n_window, n_ch, nf))
        self._bp = np.zeros((self.n_window, n_ch, self._nb + 2))
        self._flags = np.zeros((self.n_window, n_ch), np.uint8)
        self._filled = np.zeros(self.n_window, bool)
        self._n_seg = 0
        self._buf = np.zeros((n_ch, self.nperseg))
        self._nbuf = 0
        self._t = float("nan")
        # EMG baseline: ln power of the last 60 clean segments per channel
        self._emg_hist = np.full((n_ch, 60), np.nan)
        self._emg_count = np.zeros(n_ch, int)
        # dropping
        self._bad_run = np.zeros(n_ch, int)
        self._good_run = np.zeros(n_ch, int)
        self._dropped = np.zeros(n_ch, bool)
        self._events: list[str] = []
        self._cached: EEGFeatures | None = None

        pos = {c.name.lower(): j for j, c in enumerate(eeg)}
        self._faa = [
            (r, left, pos[r.lower()], pos[left.lower()])
            for r, left in faa_pairs
            if r.lower() in pos and left.lower() in pos
        ]

    # ------------------------------------------------------------------ set-up helpers

    def _reference(self, reference: Sequence[str] | None):
        """Return (target EEG rows, reference stream rows) or None."""
        eeg_pos = {self.labels[i].name.lower(): j for j, i in enumerate(self._idx)}
        row_of: dict[str, int] = {}
        for i, c in enumerate(self.labels):
            row_of.setdefault(c.label.strip().lower(), i)
            row_of.setdefault(c.name.lower(), i)
        if reference is None:
            names = [n.lower() for n in _MUSE_FRONT + _MUSE_MASTOIDS]
            if not all(n in eeg_pos for n in names):
                return None
            targets = [eeg_pos[n] for n in names[:2]]
            refs = [row_of[n] for n in names[2:]]
        else:
            if len(reference) == 0:
                return None
            refs = []
            for r in reference:
                if r.lower() not in row_of:
                    raise ValueError(
                        f"EEGStage: reference channel {r!r} not in channels {self.channels}"
                    )
                refs.append(row_of[r.lower()])
            targets = [j for j, i in enumerate(self._idx) if i not in refs]
        return np.array(targets, int), np.array(refs, int)

    def _filters(self, notch_hz: float | None, highpass_hz: float | None) -> np.ndarray | None:
        parts = []
        nyq = self.fs / 2.0
        if highpass_hz is not None:
            if not 0 < highpass_hz < nyq:
                raise ValueError(
                    f"EEGStage: highpass_hz must be in (0, {nyq}) Hz, got {highpass_hz!r}"
                )
            parts.append(scipy.signal.butter(2, highpass_hz, "highpass", fs=self.fs, output="sos"))
        if notch_hz is not None:
            if notch_hz not in (50, 60) or notch_hz >= nyq:
                raise ValueError(
                    f"EEGStage: notch_hz must be 50 or 60 Hz and below Nyquist ({nyq} Hz), "
                    f"got {notch_hz!r}"
                )
            b, a = scipy.signal.iirnotch(notch_hz, 30.0, fs=self.fs)
            parts.append(scipy.signal.tf2sos(b, a))
        return np.concatenate(parts) if parts else None

    # ------------------------------------------------------------------ streaming

    def update(self, chunk: Chunk) -> EEGFeatures:
        """Consume one chunk and return the features of the current window.

        Parameters
        ----------
        chunk : Chunk
            Samples shaped (n_channels, n_samples), rows in the order of ``channels``, in
            ``units`` (or as detected); ``info.fs`` must equal ``fs``.

        Returns
        -------
        EEGFeatures
        """
        if chunk.info.n_channels != len(self.channels):
            raise ValueError(
                f"EEGStage: stream {chunk.info.name!r} has {chunk.info.n_channels} channels,"
                f" the stage expects {len(self.channels)} ({self.channels})"
            )
        if abs(chunk.info.fs - self.fs) > 1e-9 * self.fs:
            raise ValueError(
                f"EEGStage: stream {chunk.info.name!r} has fs={chunk.info.fs} Hz, "
                f"the stage expects fs={self.fs} Hz"
            )
        n = chunk.n_samples
        if n and self._idx.size:
            newest = float(chunk.timestamps[-1])
            self._t = newest if not self._t >= newest else self._t  # NaN-safe max
            data = chunk.data
            # Most ticks complete no segment: then, without a filter, the samples are
            # re-referenced and scaled in place in the segment buffer (what _push would
            # copy them into), saving a copy of the chunk.
            in_buf = (
                self._sos is None
                and self._all_rows
                and self._to_uv is not None
                and self._nbuf + n < self.nperseg
            )
            if in_buf:
                x = self._buf[:, self._nbuf : self._nbuf + n]
                x[...] = data
            else:
                x = np.array(data if self._all_rows else data[self._idx], dtype=float)
            if self._to_uv is None:
                self._to_uv = self._detect_units(chunk, x)
            if self._ref is not None:
                targets, refs = self._ref
                if refs.size == 2 and targets.size <= 4:
                    # the Muse layout: = x[targets] -= data[refs].mean(axis=0), to the bit
                    # ((a + b) / 2 is that mean), without three fancy-index copies
                    m = (data[refs[0]] + data[refs[1]]) / 2.0
                    for r in targets.tolist():
                        x[r] -= m
                else:
                    x[targets] -= data[refs].mean(axis=0)
            if self._to_uv != 1.0:
                x *= self._to_uv
            if in_buf:
                self._nbuf += n
                return self._features()
            if self._sos is not None:
                if self._zi is None:
                    zi = scipy.signal.sosfilt_zi(self._sos)  # (n_sections, 2)
                    self._zi = zi[:, None, :] * x[None, :, :1]
                x, self._zi = scipy.signal.sosfilt(self._sos, x, axis=-1, zi=self._zi)
            if self._push(x):
                self._cached = None
        elif n:
            newest = float(chunk.timestamps[-1])
            self._t = newest if not self._t >= newest else self._t
        return self._features()

    def _detect_units(self, chunk: Chunk, x: np.ndarray) -> float:
        unit = chunk.info.units.strip().lower()
        if unit in _UNIT_TO_UV:
            return _UNIT_TO_UV[unit]
        spread = float(np.median(np.abs(x - np.median(x, axis=1, keepdims=True))))
        if spread < 1e-3:
            msg = (
                f"eeg: stream {chunk.info.name!r} units {chunk.info.units!r} unknown and "
                f"median absolute deviation {spread:.3g} < 1e-3: assuming volts, scaling by 1e6"
            )
            factor = 1e6
        else:
            msg = (
                f"eeg: stream {chunk.info.name!r} units {chunk.info.units!r} unknown, median "
                f"absolute deviation {spread:.3g}: assuming uV"
            )
            factor = 1.0
        log.warning(msg)
        self._events.append(msg)
        return factor

    def _push(self, x: np.ndarray) -> bool:
        """Buffer samples (uV), transform completed segments; True if any completed."""
        n = x.shape[1]
        total = self._nbuf + n
        if total < self.nperseg:
            self._buf[:, self._nbuf : total] = x
            self._nbuf = total
            return False
        xx = np.concatenate((self._buf[:, : self._nbuf], x), axis=1)
        m = (total - self.nperseg) // self.hop + 1
        segs = np.lib.stride_tricks.sliding_window_view(xx, self.nperseg, axis=1)
        segs = segs[:, : (m - 1) * self.hop + 1 : self.hop]  # (n_ch, m, nperseg)
        keep = min(m, self.n_window)  # older ones would be overwritten anyway
        if m > keep:  # artifact bookkeeping of skipped segments: judged with the kept ones
            self._n_seg += m - keep
        self._add_segments(np.swapaxes(segs[:, m - keep :], 0, 1))
        rest = total - m * self.hop
        self._buf[:, :rest] = xx[:, m * self.hop :]
        self._nbuf = rest
        return True

    def _add_segments(self, segs: np.ndarray) -> None:
        """Spectra, band powers and flags of segments shaped (k, n_ch, nperseg)."""
        k = segs.shape[0]
        centred = segs - segs.mean(axis=-1, keepdims=True)
        spec = scipy.fft.rfft(centred * self._win, axis=-1, workers=1)
        psd = spec.real**2
        psd += spec.imag**2
        psd *= self._scale
        bp = psd @ self._band_w  # (k, n_ch, n_bands + 2)
        flags = np.zeros(segs.shape[:2], np.uint8)
        max_abs, max_ptp, min_std = self._thr
        if max_abs is not None:
            flags[np.max(np.abs(centred), axis=-1) > max_abs] |= _AMP
        if max_ptp is not None:
            flags[np.ptp(segs, axis=-1) > max_ptp] |= _PTP
        if min_std is not None:
            flags[centred.std(axis=-1) < min_std] |= _FLAT
        if self._blink_uv is not None and self._frontal.any():
            nb = self.nperseg // self._block
            fr = segs[:, self._frontal, : nb * self._block]
            lf = fr.reshape(k, fr.shape[1], nb, self._block).mean(axis=-1)
            blink = np.zeros(flags.shape, bool)
            blink[:, self._frontal] = np.ptp(lf, axis=-1) > self._blink_uv
            flags[blink] |= _BLINK
        emg_sd, emg_rel, emg_min = self._emg
        emg_on = self._emg_on and (emg_sd is not None or emg_rel is not None)
        for j in range(k):  # segments in time order: the EMG baseline is sequential
            if emg_on:
                with np.errstate(divide="ignore", invalid="ignore"):
                    g = np.log(bp[j, :, -2])
                    rel = bp[j, :, -2] / bp[j, :, -1]
                ready = self._emg_count >= emg_min
                emg = np.zeros(g.shape, bool)
                if emg_sd is not None and ready.any():
                    hist = self._emg_hist[ready]
                    if self._emg_count[ready].min() >= hist.shape[1]:
                        # histories full, no NaN: the plain reductions are much faster
                        # than the nan* ones (which take a masked-array path on 2-D input)
                        med = _median_rows(hist)  # = np.median(hist, axis=1)
                        sd = hist.std(axis=1)
                    else:
                        med = np.nanmedian(hist, axis=1)
                        sd = np.nanstd(hist, axis=1)
                    emg[ready] = g[ready] > med + emg_sd * np.maximum(sd, 0.25)
                if emg_rel is not None:
                    emg |= ~ready & (rel > emg_rel)
                flags[j, emg] |= _EMG
                upd = np.flatnonzero((flags[j] == 0) & np.isfinite(g))
                self._emg_hist[upd, self._emg_count[upd] % self._emg_hist.shape[1]] = g[upd]
                self._emg_count[upd] += 1
            self._track_bad(flags[j] != 0)
        slots = (self._n_seg + np.arange(k)) % self.n_window
        self._spec[slots] = psd
        self._bp[slots] = bp
        self._flags[slots] = flags
        self._filled[slots] = True
        self._n_seg += k

    def _track_bad(self, bad: np.ndarray) -> None:
        if self._drop_segs is None:
            return
        self._bad_run = np.where(bad, self._bad_run + 1, 0)
        self._good_run = np.where(bad, 0, self._good_run + 1)
        newly = ~self._dropped & (self._bad_run >= self._drop_segs)
        back = self._dropped & (self._good_run >= self.n_window)
        for j in np.flatnonzero(newly):
            span = ((self._bad_run[j] - 1) * self.hop + self.nperseg) / self.fs
            self._events.append(
                f"eeg: channel {self.eeg_channels[j]} dropped (bad for {span:.1f} s)"
            )
        for j in np.flatnonzero(back):
            self._events.append(f"eeg: channel {self.eeg_channels[j]} restored")
        self._dropped = (self._dropped | newly) & ~back

    def psd(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the window's Welch PSD from the cached clean segment spectra.

        Returns
        -------
        freqs : ndarray, shape (n_freqs,)
            Frequencies in Hz.
        psd : ndarray, shape (n_eeg, n_freqs)
            Mean of the clean cached segment spectra in the window, uV^2/Hz; NaN rows
            for channels without a clean segment.
        """
        w = self._clean().astype(float)  # (n_window, n_ch)
        n_clean = w.sum(axis=0)
        acc = np.einsum("kc,kcf->cf", w, self._spec)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = acc / n_clean[:, None]
        out[n_clean == 0] = np.nan
        return self.freqs, out

    def _clean(self) -> np.ndarray:
        return (self._flags == 0) & self._filled[:, None]

    def _features(self) -> EEGFeatures:
        events = tuple(self._events)
        self._events.clear()
        if self._cached is None:
            self._cached = self._window_features()
        if self._cached.t == self._t and not events:
            return self._cached
        # = dataclasses.replace(self._cached, t=..., events=...): a shallow copy with two
        # fields changed, without re-running the 21-field __init__ (3 ticks in 4).
        out = object.__new__(EEGFeatures)
        d = out.__dict__
        d.update(self._cached.__dict__)
        d["t"] = self._t
        d["events"] = events
        return out

    def _window_features(self) -> EEGFeatures:
        k = min(self._n_seg, self.n_window)
        n_ch = self._idx.size
        clean = self._clean()
        w = clean.astype(float)
        n_clean = w.sum(axis=0)  # (n_ch,)
        acc = np.einsum("kc,kcb->cb", w, self._bp)
        with np.errstate(invalid="ignore", divide="ignore"):
            bp_all = acc / n_clean[:, None]
        bp_all[n_clean == 0] = np.nan
        bp = bp_all[:, : self._nb]
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = bp / bp.sum(axis=1, keepdims=True)
        use = (n_clean > 0) & ~self._dropped
        b = self._bidx
        alpha = bp[:, b["alpha"]] if "alpha" in b else None
        theta = bp[:, b["theta"]] if "theta" in b else None
        beta = bp[:, b["beta"]] if "beta" in b else None
        engagement = beta_alpha = None
        with np.errstate(invalid="ignore", divide="ignore"):
            if alpha is not None and theta is not None and beta is not None:
                engagement = _mean_ln(beta / (alpha + theta), use)
            if alpha is not None and beta is not None:
                beta_alpha = _mean_ln(beta / alpha, use)
        pairs = []
        faa = None
        for r, left, i, j in self._faa:
            v = None
            if alpha is not None and use[i] and use[j] and alpha[i] > 0 and alpha[j] > 0:
                v = float(np.log(alpha[i]) - np.log(alpha[j]))
            pairs.append((r, left, v))
            if faa is None:
                faa = v
        iapf = self._iapf(w, n_clean, use)
        active = ~self._dropped
        denom = k * int(active.sum())
        clean_fraction = float(clean[:, active].sum() / denom) if denom else 0.0
        bad = self._flags * self._filled[:, None]
        counts = tuple(
            (cause, int(np.count_nonzero(bad & (1 << i))))
            for i, cause in enumerate(ARTIFACT_CAUSES)
        )
        coverage = ((k - 1) * self.hop + self.nperseg) / self.fs if k else 0.0
        return EEGFeatures(
            t=self._t,
            bands=self.bands,
            band_power=bp,
            alpha_ln=_mean_ln(alpha, use),
            theta_ln=_mean_ln(theta, use),
            beta_ln=_mean_ln(beta, use),
            engagement_ln=engagement,
            faa=faa,
            n_segments=k,
            clean_fraction=clean_fraction,
            coverage_s=coverage,
            rel_power=rel,
            alpha_rel=_mean(rel[:, b["alpha"]], use) if "alpha" in b else None,
            beta_alpha_ln=beta_alpha,
            iapf_hz=iapf,
            faa_pairs=tuple(pairs),
            channels=self.eeg_channels,
            channel_quality=n_clean / k if k else np.zeros(n_ch),
            dropped=tuple(c for c, d in zip(self.eeg_channels, self._dropped, strict=True) if d),
            artifact_counts=counts,
        )

    def _iapf(self, w: np.ndarray, n_clean: np.ndarray, use: np.ndarray) -> float | None:
        if self._asl is None or not use.any():
            return None
        wu = w[:, use] / n_clean[use]
        p = np.einsum("kc,kcf->f", wu, self._spec[:, use, self._asl]) / use.sum()
        i = int(np.argmax(p))
        if i == 0 or i == p.size - 1 or not p[i] > 0:
            return None
        y0, y1, y2 = p[i - 1 : i + 2]
        den = y0 - 2 * y1 + y2
        off = 0.5 * (y0 - y2) / den if den < 0 else 0.0
        return float(self.freqs[self._asl][i] + off * self.df)
