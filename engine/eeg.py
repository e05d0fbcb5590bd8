"""EEG band powers by incremental Welch, with artifact flags and frontal alpha asymmetry.

Each complete segment's periodogram is computed once, when its last sample arrives, and
cached; the band powers of a tick are the mean of the cached clean segment spectra inside
the window. On clean data this equals :func:`scipy.signal.welch` on the same window.

References
----------
.. [1] Welch, P. (1967). The use of fast Fourier transform for the estimation of power
   spectra. IEEE Transactions on Audio and Electroacoustics, 15(2), 70-73.
.. [2] Pope, A. T., Bogart, E. H., & Bartolome, D. S. (1995). Biocybernetic system
   evaluates indices of operator engagement in automated task. Biological Psychology,
   40(1-2), 187-195 (engagement index beta / (alpha + theta)).
.. [3] Cannard, C., Wahbeh, H., & Delorme, A. (2021). Validating the wearable MUSE
   headset for EEG spectral analysis and frontal alpha asymmetry. IEEE BIBM, 3603-3610.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.signal

from sensors.types import Chunk

__all__ = ["DEFAULT_BANDS", "EEGFeatures", "EEGStage"]

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
)
_MUSE_FRONT = ("af7", "af8")
_MUSE_MASTOIDS = ("tp9", "tp10")


@dataclass(frozen=True)
class EEGFeatures:
    """EEG features of the current window.

    Attributes
    ----------
    t : float
        Time of the newest sample seen, in s.
    bands : tuple of str
        Band names, columns of :attr:`band_power`.
    band_power : ndarray, shape (n_channels, n_bands)
        Absolute band power in uV^2 (PSD in uV^2/Hz integrated over the band's bins),
        averaged over the clean segments of each channel in the window; NaN for a
        channel without a clean segment (or before the first segment).
    alpha_ln, theta_ln, beta_ln : float or None
        Mean over clean channels of ln band power (ln uV^2); None if unavailable.
    engagement_ln : float or None
        Mean over clean channels of ln(beta / (alpha + theta)) (Pope et al. 1995).
    faa : float or None
        Frontal alpha asymmetry ln alpha(right) - ln alpha(left) for the first pair of
        ``faa_pairs`` whose two channels exist; None if absent or not clean.
    n_segments : int
        Segments in the window.
    clean_fraction : float
        Clean (channel, segment) spectra / all in the window, in [0, 1]; 0 before the
        first segment.
    coverage_s : float
        Time spanned by the window's segments, in s.
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

    def as_features(self) -> dict[str, float | None]:
        """Return the features for the affect estimator.

        Returns
        -------
        dict
            ``{"eeg_alpha_ln", "eeg_theta_ln", "eeg_beta_ln", "eeg_engagement_ln",
            "faa", "eeg_quality"}``; None (never NaN) until a full segment exists.
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
        }


def _mean_ln(x: np.ndarray) -> float | None:
    ok = np.isfinite(x) & (x > 0)
    return float(np.mean(np.log(x[ok]))) if np.any(ok) else None


class EEGStage:
    """Streaming EEG band powers by incremental Welch.

    Segments of ``segment_s`` seconds with ``overlap`` (fraction) are detrended
    (constant), Hann-windowed (periodic) and transformed once when complete, for all
    channels at once; the one-sided density spectra (uV^2/Hz, scaling as
    ``scipy.signal.welch(scaling="density")``) go into a preallocated ring. A tick
    averages the clean spectra of the segments inside ``window_s`` and integrates each
    band's bins ``lo <= f < hi`` times the bin width ``fs / nperseg``.

    Re-referencing (linear, applied to incoming samples before everything else):
    ``reference=None`` (default) re-references AF7 and AF8 to the mean of TP9 and
    TP10 when all four channels are present (Muse; Cannard et al. 2021), otherwise
    nothing; a sequence of names re-references every other channel to their mean; an
    empty sequence disables re-referencing. Channel names are matched
    case-insensitively.

    Artifact flags per (channel, segment), vectorized: ``|x - mean| > max_abs_uv``,
    peak-to-peak ``> max_ptp_uv``, or standard deviation ``< min_std_uv`` (flat). A
    flagged spectrum is left out of that channel's average.

    Parameters
    ----------
    fs : float
        Sampling rate in Hz.
    channels : sequence of str
        Channel names, one per data row.
    window_s : float, default 4.0
        Welch window in s (the segments whose samples all lie in the last
        ``window_s`` seconds of completed segments).
    segment_s : float, default 2.0
        Segment length in s (``nperseg = round(segment_s * fs)``).
    overlap : float, default 0.5
        Segment overlap fraction in [0, 1) (``noverlap = round(overlap * nperseg)``).
    faa_pairs : sequence of (right, left) name pairs
        Candidate pairs for frontal alpha asymmetry, first present pair used.
    reference : sequence of str or None, default None
        See above.
    bands : mapping of str to (lo, hi), optional
        Bands in Hz; default :data:`DEFAULT_BANDS`. Must contain alpha, theta and beta
        for the derived features.
    max_abs_uv, max_ptp_uv, min_std_uv : float or None
        Artifact thresholds in uV (100, 150, 0.5); None disables a rule.

    Notes
    -----
    Not thread-safe: call :meth:`update` from the engine tick. Per-update cost is the new
    samples (one rFFT per completed segment) plus a mean over the window's few cached
    spectra.
    """

    def __init__(
        self,
        *,
        fs: float,
        channels: Sequence[str],
        window_s: float = 4.0,
        segment_s: float = 2.0,
        overlap: float = 0.5,
        faa_pairs: Sequence[tuple[str, str]] = (("AF8", "AF7"), ("F4", "F3"), ("F8", "F7")),
        reference: Sequence[str] | None = None,
        bands: Mapping[str, tuple[float, float]] | None = None,
        max_abs_uv: float | None = 100.0,
        max_ptp_uv: float | None = 150.0,
        min_std_uv: float | None = 0.5,
    ) -> None:
        if not np.isfinite(fs) or fs <= 0:
            raise ValueError(f"EEGStage: fs must be > 0 Hz, got {fs!r}")
        if len(channels) == 0:
            raise ValueError("EEGStage: channels must not be empty")
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"EEGStage: overlap must be in [0, 1), got {overlap!r}")
        self.fs = float(fs)
        self.channels = tuple(channels)
        self.nperseg = int(round(segment_s * fs))
        if self.nperseg < 8:
            raise ValueError(f"EEGStage: segment_s * fs must give >= 8 samples, got {self.nperseg}")
        self.noverlap = int(round(overlap * self.nperseg))
        self.hop = self.nperseg - self.noverlap
        win_n = int(round(window_s * fs))
        if win_n < self.nperseg:
            raise ValueError(
                f"EEGStage: window_s ({window_s} s) must be >= segment_s ({segment_s} s)"
            )
        self.n_window = (win_n - self.nperseg) // self.hop + 1  # segments per window
        n_ch = len(self.channels)
        lower = [c.lower() for c in self.channels]

        # re-reference matrix
        self._ref = self._reference_matrix(lower, reference)

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
        self.bands = tuple(bands)
        masks = np.stack(
            [(self.freqs >= lo) & (self.freqs < hi) for lo, hi in bands.values()]
        ).astype(float)  # (n_bands, n_freqs)
        self._band_w = masks.T * self.df  # (n_freqs, n_bands)
        self._thr = (max_abs_uv, max_ptp_uv, min_std_uv)

        # ring of segment spectra and clean flags
        self._spec = np.zeros((self.n_window, n_ch, self.freqs.size))
        self._clean = np.zeros((self.n_window, n_ch), dtype=bool)
        self._n_seg = 0  # segments ever completed
        # pending samples of the current (incomplete) segment
        self._buf = np.zeros((n_ch, self.nperseg))
        self._nbuf = 0
        self._t = float("nan")
        self._faa = self._faa_pair(lower, faa_pairs)
        self._bidx = {name: i for i, name in enumerate(self.bands)}

    # ------------------------------------------------------------------ set-up helpers

    def _reference_matrix(
        self, lower: list[str], reference: Sequence[str] | None
    ) -> np.ndarray | None:
        n = len(lower)
        if reference is None:
            if all(c in lower for c in _MUSE_FRONT + _MUSE_MASTOIDS):
                targets = [lower.index(c) for c in _MUSE_FRONT]
                refs = [lower.index(c) for c in _MUSE_MASTOIDS]
            else:
                return None
        else:
            if len(reference) == 0:
                return None
            refs = []
            for r in reference:
                if r.lower() not in lower:
                    raise ValueError(
                        f"EEGStage: reference channel {r!r} not in channels {self.channels}"
                    )
                refs.append(lower.index(r.lower()))
            targets = [i for i in range(n) if i not in refs]
        m = np.eye(n)
        for i in targets:
            m[i, refs] -= 1.0 / len(refs)
        return m

    def _faa_pair(
        self, lower: list[str], pairs: Sequence[tuple[str, str]]
    ) -> tuple[int, int] | None:
        for right, left in pairs:
            if right.lower() in lower and left.lower() in lower:
                return lower.index(right.lower()), lower.index(left.lower())
        return None

    # ------------------------------------------------------------------ streaming

    def update(self, chunk: Chunk) -> EEGFeatures:
        """Consume one chunk and return the features of the current window.

        Parameters
        ----------
        chunk : Chunk
            EEG samples in uV, rows in the order of ``channels``; ``info.fs`` must
            equal ``fs``.

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
        if n:
            newest = float(chunk.timestamps[-1])
            self._t = newest if not self._t >= newest else self._t  # NaN-safe max
            x = chunk.data if self._ref is None else self._ref @ chunk.data
            self._push(np.asarray(x, dtype=float))
        return self._features()

    def _push(self, x: np.ndarray) -> None:
        n = x.shape[1]
        total = self._nbuf + n
        if total < self.nperseg:
            self._buf[:, self._nbuf : total] = x
            self._nbuf = total
            return
        xx = np.concatenate((self._buf[:, : self._nbuf], x), axis=1)
        m = (total - self.nperseg) // self.hop + 1
        segs = np.lib.stride_tricks.sliding_window_view(xx, self.nperseg, axis=1)
        segs = segs[:, : (m - 1) * self.hop + 1 : self.hop]  # (n_ch, m, nperseg)
        keep = min(m, self.n_window)  # older ones would be overwritten anyway
        self._add_segments(np.swapaxes(segs[:, m - keep :], 0, 1), m - keep)
        rest = total - m * self.hop
        self._buf[:, :rest] = xx[:, m * self.hop :]
        self._nbuf = rest

    def _add_segments(self, segs: np.ndarray, skipped: int) -> None:
        """Spectra and flags of segments shaped (k, n_ch, nperseg), stored in the ring."""
        self._n_seg += skipped
        centred = segs - segs.mean(axis=-1, keepdims=True)
        spec = np.fft.rfft(centred * self._win, axis=-1)
        psd = (spec.real**2 + spec.imag**2) * self._scale
        clean = np.ones(segs.shape[:2], dtype=bool)
        max_abs, max_ptp, min_std = self._thr
        if max_abs is not None:
            clean &= np.max(np.abs(centred), axis=-1) <= max_abs
        if max_ptp is not None:
            clean &= np.ptp(segs, axis=-1) <= max_ptp
        if min_std is not None:
            clean &= centred.std(axis=-1) >= min_std
        slots = (self._n_seg + np.arange(segs.shape[0])) % self.n_window
        self._spec[slots] = psd
        self._clean[slots] = clean
        self._n_seg += segs.shape[0]

    def psd(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the window's Welch PSD from the cached clean segment spectra.

        Returns
        -------
        freqs : ndarray, shape (n_freqs,)
            Frequencies in Hz.
        psd : ndarray, shape (n_channels, n_freqs)
            Mean of the clean cached segment spectra in the window, uV^2/Hz; NaN rows
            for channels without a clean segment.
        """
        # unfilled ring slots are flagged not clean, so the whole ring can be used;
        # the mean does not depend on the slot order
        w = self._clean.astype(float)  # (n_window, n_ch)
        n_clean = w.sum(axis=0)  # (n_ch,)
        acc = np.einsum("kc,kcf->cf", w, self._spec)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = acc / n_clean[:, None]
        out[n_clean == 0] = np.nan
        return self.freqs, out

    def _features(self) -> EEGFeatures:
        k = min(self._n_seg, self.n_window)
        _, psd = self.psd()
        bp = psd @ self._band_w  # (n_ch, n_bands), NaN rows stay NaN
        if k:
            clean_fraction = float(self._clean.sum() / (k * len(self.channels)))
        else:
            clean_fraction = 0.0
        b = self._bidx
        alpha = bp[:, b["alpha"]] if "alpha" in b else None
        theta = bp[:, b["theta"]] if "theta" in b else None
        beta = bp[:, b["beta"]] if "beta" in b else None
        engagement = faa = None
        if alpha is not None and theta is not None and beta is not None:
            with np.errstate(invalid="ignore", divide="ignore"):
                engagement = _mean_ln(beta / (alpha + theta))
        if alpha is not None and self._faa is not None:
            r, left = alpha[self._faa[0]], alpha[self._faa[1]]
            if np.isfinite(r) and np.isfinite(left) and r > 0 and left > 0:
                faa = float(np.log(r) - np.log(left))
        coverage = ((k - 1) * self.hop + self.nperseg) / self.fs if k else 0.0
        return EEGFeatures(
            t=self._t,
            bands=self.bands,
            band_power=bp,
            alpha_ln=_mean_ln(alpha) if alpha is not None else None,
            theta_ln=_mean_ln(theta) if theta is not None else None,
            beta_ln=_mean_ln(beta) if beta is not None else None,
            engagement_ln=engagement,
            faa=faa,
            n_segments=k,
            clean_fraction=clean_fraction,
            coverage_s=coverage,
        )
