"""Heart-rate variability: pure HRV functions and the streaming HRV stage.

The pure functions (:func:`hrv_rmssd`, :func:`hrv_sdnn`, :func:`hrv_pnn50`,
:func:`hrv_band_powers`, :func:`rr_artifacts`) work on 1-D arrays of RR (NN) intervals
in milliseconds. :class:`HRVStage` turns ECG, PPG or RR-interval chunks into
:class:`HRVFeatures` on rolling windows; the beat detectors live in :mod:`attune.engine.heartbeats`
(re-exported here).

References
----------
.. [1] Pan, J., & Tompkins, W. J. (1985). A real-time QRS detection algorithm. IEEE
   Transactions on Biomedical Engineering, 32(3), 230-236.
.. [2] Task Force of the European Society of Cardiology and the North American Society
   of Pacing and Electrophysiology (1996). Heart rate variability: standards of
   measurement, physiological interpretation and clinical use. Circulation, 93(5),
   1043-1065.
.. [3] Malik, M., et al. (1989). Heart rate variability in relation to prognosis after
   myocardial infarction: selection of optimal processing techniques. European Heart
   Journal, 10(12), 1060-1074 (the 20 % rule for rejecting intervals).
.. [4] Munoz, M. L., et al. (2015). Validity of (ultra-)short recordings for heart rate
   variability measurements. PLoS ONE, 10(9), e0138921.
.. [5] Lipponen, J. A., & Tarvainen, M. P. (2019). A robust algorithm for heart rate
   variability time series artefact correction using novel beat classification.
   Journal of Medical Engineering & Technology, 43(3), 173-181.
.. [6] Lomb, N. R. (1976). Least-squares frequency analysis of unequally spaced data.
   Astrophysics and Space Science, 39, 447-462; Laguna, P., Moody, G. B., & Mark, R. G.
   (1998). Power spectral density of unevenly sampled data by least-square analysis.
   IEEE Trans. Biomed. Eng., 45(6), 698-715.
.. [7] Berntson, G. G., & Stowell, J. R. (1998). ECG artifacts and heart period
   variability: don't miss a beat! Psychophysiology, 35(1), 127-132.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.ndimage

from attune.engine.heartbeats import EcgBeatDetector, PpgPulseDetector
from attune.engine.plausibility import RateCheck
from attune.sensors.types import Chunk

__all__ = [
    "HRV_FEATURES",
    "EcgBeatDetector",
    "HRVFeatures",
    "HRVStage",
    "PpgPulseDetector",
    "hrv_band_powers",
    "hrv_pnn50",
    "hrv_rmssd",
    "hrv_sdnn",
    "rr_artifacts",
]


# --------------------------------------------------------------------------- pure functions


def _as_rr(rr_ms: np.ndarray) -> np.ndarray:
    rr = np.asarray(rr_ms, dtype=float)
    if rr.ndim != 1:
        raise ValueError(f"rr_ms must be 1-D, got shape {rr.shape}")
    return rr


def hrv_rmssd(rr_ms: np.ndarray) -> float:
    """Return the root mean square of successive RR-interval differences.

    Parameters
    ----------
    rr_ms : array_like, shape (n,)
        RR (NN) intervals in ms, in beat order.

    Returns
    -------
    float
        ``sqrt(mean(diff(rr_ms) ** 2))`` in ms; NaN when fewer than 2 intervals.

    References
    ----------
    Task Force (1996), Circulation 93(5):1043-1065.
    """
    rr = _as_rr(rr_ms)
    if rr.size < 2:
        return float("nan")
    d = np.diff(rr)
    return float(np.sqrt(np.mean(d * d)))


def hrv_sdnn(rr_ms: np.ndarray) -> float:
    """Return the standard deviation of RR (NN) intervals (``ddof=1``).

    Parameters
    ----------
    rr_ms : array_like, shape (n,)
        RR (NN) intervals in ms.

    Returns
    -------
    float
        Sample standard deviation in ms; NaN when fewer than 2 intervals.

    References
    ----------
    Task Force (1996), Circulation 93(5):1043-1065.
    """
    rr = _as_rr(rr_ms)
    if rr.size < 2:
        return float("nan")
    return _sd(rr)


def _sd(x: np.ndarray) -> float:
    """``np.std(x, ddof=1)`` of a 1-D float array with ``size >= 2``, bit for bit.

    The same operations as NumPy's ``_var`` (pairwise sum for the mean, squared
    deviations, pairwise sum, divide, square root) without its Python-level dispatch,
    which costs more than the arithmetic on the ~100 intervals of an HRV window.
    """
    d = x - x.sum() / x.size
    return math.sqrt(float((d * d).sum()) / (x.size - 1))


def _median(x: np.ndarray) -> float:
    """``np.median`` of a 1-D finite float array, bit for bit, without its dispatch."""
    h = x.size // 2
    if x.size % 2:
        return float(np.partition(x, h)[h])
    v = np.partition(x, (h - 1, h))
    return (float(v[h - 1]) + float(v[h])) / 2.0


def hrv_pnn50(rr_ms: np.ndarray) -> float:
    """Return the percentage of successive RR differences larger than 50 ms.

    Parameters
    ----------
    rr_ms : array_like, shape (n,)
        RR (NN) intervals in ms.

    Returns
    -------
    float
        ``count(|diff(rr_ms)| > 50) / len(rr_ms) * 100`` in percent (neurokit2's
        definition: the denominator is the number of intervals, not of differences);
        NaN when fewer than 2 intervals.

    References
    ----------
    Task Force (1996), Circulation 93(5):1043-1065; neurokit2 ``hrv_time``.
    """
    rr = _as_rr(rr_ms)
    if rr.size < 2:
        return float("nan")
    return float(np.count_nonzero(np.abs(np.diff(rr)) > 50.0) / rr.size * 100.0)


def _qd(x: np.ndarray) -> float:
    """Quartile deviation ``(Q3 - Q1) / 2`` (linear interpolation, as ``np.percentile``)."""
    n = x.size
    p1, p3 = 0.25 * (n - 1), 0.75 * (n - 1)
    i1, i3 = int(p1), int(p3)
    j1, j3 = min(i1 + 1, n - 1), min(i3 + 1, n - 1)
    v = np.partition(x, sorted({i1, j1, i3, j3}))
    q1 = v[i1] + (v[j1] - v[i1]) * (p1 - i1)
    q3 = v[i3] + (v[j3] - v[i3]) * (p3 - i3)
    return float(q3 - q1) / 2.0


def rr_artifacts(
    rr_ms: np.ndarray,
    *,
    alpha: float = 5.2,
    c1: float = 0.13,
    c2: float = 0.17,
    medfilt_beats: int = 11,
    min_threshold: float = 0.05,
) -> dict[str, np.ndarray]:
    """Classify RR intervals with the Lipponen & Tarvainen (2019) beat classification.

    Vectorized form of the published rules: the successive differences ``dRR`` and the
    deviations from an 11-beat median ``mRR`` (negative deviations doubled) are scaled
    by ``alpha`` times their quartile deviation; an interval whose scaled ``dRR``
    exceeds 1 is *ectopic* when its neighbours show the opposite short-long pattern
    (``S12`` against the lines ``-c1 dRR -+ c2``), otherwise *long/short* when also
    ``|mRR| > 3`` and the following differences confirm it (``S22``), refined into a
    *missed* beat (half the interval is close to the median) or an *extra* beat (the
    sum with the next interval is close to the median).

    Parameters
    ----------
    rr_ms : array_like, shape (n,)
        RR intervals in ms, in beat order (finite).
    alpha : float, default 5.2
        Threshold multiplier of the quartile deviation.
    c1, c2 : float, default 0.13, 0.17
        Slope and offset of the ectopic decision lines.
    medfilt_beats : int, default 11
        Length of the median filter for ``mRR``, in beats.
    min_threshold : float, default 0.05
        Floor of both thresholds as a fraction of the median interval (a deviation from
        the paper: keeps an almost metronomic or perfectly alternating series, whose
        quartile deviation is ~0, from having every small fluctuation flagged; real
        ectopic beats are > 10 % premature). The thresholds
        are computed over the whole input (the paper uses a 91-beat moving window;
        a 60 s window holds fewer beats).

    Returns
    -------
    dict of str to ndarray of bool, each shape (n,)
        ``"ectopic"``, ``"missed"``, ``"extra"``, ``"longshort"`` and ``"any"``.

    References
    ----------
    Lipponen, J. A., & Tarvainen, M. P. (2019). J. Med. Eng. Technol., 43(3), 173-181
    (neurokit2 ``signal_fixpeaks(method="Kubios")``).
    """
    rr = _as_rr(rr_ms)
    n = rr.size
    out = {k: np.zeros(n, dtype=bool) for k in ("ectopic", "missed", "extra", "longshort")}
    if n < 5:
        out["any"] = np.zeros(n, dtype=bool)
        return out
    floor = min_threshold * float(np.median(rr))
    drrs = np.diff(rr, prepend=rr[0])
    drrs[0] = np.mean(drrs[1:])
    th1 = max(alpha * _qd(np.abs(drrs)), floor)
    d = drrs / th1
    dp = np.concatenate(([0.0], d, [0.0, 0.0]))  # dp[i + 1] == d[i]
    prev, nxt, nxt2 = dp[:n], dp[2 : n + 2], dp[3 : n + 3]
    s12 = np.where(d > 0, np.maximum(prev, nxt), np.minimum(prev, nxt))
    s22 = np.where(d >= 0, np.minimum(nxt, nxt2), np.maximum(nxt, nxt2))
    medrr = scipy.ndimage.median_filter(rr, size=medfilt_beats, mode="nearest")
    mrrs = rr - medrr
    mrrs[mrrs < 0] *= 2.0
    th2 = max(alpha * _qd(np.abs(mrrs)), floor)
    m = mrrs / th2
    big = np.abs(d) > 1
    ectopic = big & (((d > 1) & (s12 < -c1 * d - c2)) | ((d < -1) & (s12 > -c1 * d + c2)))
    cand = big & ~ectopic & (np.abs(m) > 3)
    # the following interval is examined too when its difference is the smaller one
    follow = np.zeros(n, dtype=bool)
    follow[1:] = cand[:-1] & (np.abs(nxt[:-1]) < np.abs(nxt2[:-1]))
    cand |= follow
    ls = cand & (((d > 1) & (s22 < -1)) | ((d < -1) & (s22 > 1)))
    rr_next = np.append(rr[1:], np.nan)
    missed = ls & (np.abs(rr / 2.0 - medrr) < th2)
    extra = ls & ~missed & (np.abs(rr + rr_next - medrr) < th2)
    out["ectopic"] = ectopic
    out["missed"] = missed
    out["extra"] = extra
    out["longshort"] = ls & ~missed & ~extra
    out["any"] = ectopic | ls
    return out


def _rr_artifact_at(
    rr: np.ndarray,
    k: int,
    *,
    alpha: float = 5.2,
    c1: float = 0.13,
    c2: float = 0.17,
    medfilt_beats: int = 11,
    min_threshold: float = 0.05,
) -> bool:
    """Return ``rr_artifacts(rr, ...)["any"][k]``, computing the rules at ``k`` only.

    The thresholds and the running median still use the whole of ``rr`` (vectorized);
    the decision rules are evaluated for interval ``k`` alone, which is what the
    streaming stage needs once per beat.

    Parameters
    ----------
    rr : ndarray, shape (n,)
        RR intervals in ms, finite, ``n >= 5``.
    k : int
        Index of the interval to classify.
    alpha, c1, c2, medfilt_beats, min_threshold
        As in :func:`rr_artifacts`.

    Returns
    -------
    bool
        Whether interval ``k`` is ectopic, missed, extra or long/short.
    """
    n = rr.size
    floor = min_threshold * _median(rr)
    drrs = np.empty(n)
    np.subtract(rr[1:], rr[:-1], out=drrs[1:])
    drrs[0] = drrs[1:].sum() / (n - 1)  # = drrs[1:].mean()
    th1 = max(alpha * _qd(np.abs(drrs)), floor)
    medrr = scipy.ndimage.median_filter(rr, size=medfilt_beats, mode="nearest")
    mrrs = rr - medrr
    mrrs[mrrs < 0] *= 2.0
    th2 = max(alpha * _qd(np.abs(mrrs)), floor)
    lo = max(k - 2, 0)
    dl = (drrs[lo : k + 3] / th1).tolist()

    def d(j: int) -> float:  # d[j] with the zero padding of rr_artifacts
        return dl[j - lo] if 0 <= j < n else 0.0

    def cand(j: int) -> tuple[bool, bool]:
        """(|d| > 1, ectopic) at j."""
        dj, pj, nj = d(j), d(j - 1), d(j + 1)
        s12 = max(pj, nj) if dj > 0 else min(pj, nj)
        ect = (dj > 1 and s12 < -c1 * dj - c2) or (dj < -1 and s12 > -c1 * dj + c2)
        return abs(dj) > 1, ect

    big, ect = cand(k)
    if ect:
        return True
    is_cand = big and abs(mrrs[k] / th2) > 3
    if k >= 1 and not is_cand:
        b1, e1 = cand(k - 1)
        is_cand = b1 and not e1 and abs(mrrs[k - 1] / th2) > 3 and abs(d(k)) < abs(d(k + 1))
    if not is_cand:
        return False
    dk, n1, n2 = d(k), d(k + 1), d(k + 2)
    s22 = min(n1, n2) if dk >= 0 else max(n1, n2)
    return bool((dk > 1 and s22 < -1) or (dk < -1 and s22 > 1))


def _beat_rate_bpm(rr: np.ndarray) -> float:
    """Heart rate in beats/min of a window holding flagged intervals.

    Premature beats are real beats: they and their compensatory pauses count as they
    are (a premature beat and its full compensatory pause span two normal intervals,
    so the mean interval is unchanged). Detection artifacts are undone: an interval
    longer than 1.5 times the window's median that does not follow a short one
    (< 0.8 median) holds ``round(rr / median)`` beats (missed beats); two successive
    short intervals summing to within 20 % of the median are one beat (an extra
    detection).

    Parameters
    ----------
    rr : ndarray, shape (n,)
        The window's intervals in ms (finite, n >= 2).

    Returns
    -------
    float
        ``60000 * beats / sum(rr)``.
    """
    ref = _median(rr)
    short = rr < 0.8 * ref
    counts = np.ones(rr.size)
    missed = rr > 1.5 * ref
    missed[1:] &= ~short[:-1]
    counts[missed] = np.round(rr[missed] / ref)
    extra = short[:-1] & short[1:] & (np.abs(rr[:-1] + rr[1:] - ref) < 0.2 * ref)
    counts[:-1][extra] -= 0.5
    counts[1:][extra] -= 0.5
    return float(60000.0 * counts.sum() / rr.sum())


#: Shared read-only empty arrays for the ticks without a new beat.
_EMPTY = np.zeros(0)
_EMPTY.flags.writeable = False
_EMPTY_BOOL = np.zeros(0, dtype=bool)
_EMPTY_BOOL.flags.writeable = False
_NO_HEARTBEATS = np.zeros((0, 3))
_NO_HEARTBEATS.flags.writeable = False

#: Frequency bands in Hz (Task Force 1996).
HRV_BANDS: dict[str, tuple[float, float]] = {"lf": (0.04, 0.15), "hf": (0.15, 0.40)}


def _freq_grid(df_hz: float) -> np.ndarray:
    """Frequencies in Hz from the bottom of LF to the top of HF, spacing ``df_hz``."""
    return np.arange(HRV_BANDS["lf"][0], HRV_BANDS["hf"][1] + df_hz / 2, df_hz)


def _lomb_scargle(cos_wt: np.ndarray, sin_wt: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Lomb-Scargle periodogram from precomputed ``cos(w t)`` and ``sin(w t)``.

    Parameters
    ----------
    cos_wt, sin_wt : ndarray, shape (n, n_freq)
        ``cos`` and ``sin`` of angular frequency times sample time (any time origin:
        the periodogram is invariant to a shift of the time axis).
    y : ndarray, shape (n,)
        Mean-removed samples.

    Returns
    -------
    ndarray, shape (n_freq,)
        ``0.5 * [(sum y cos w(t - tau))^2 / sum cos^2 w(t - tau) + (sum y sin w(t -
        tau))^2 / sum sin^2 w(t - tau)]`` with ``tan 2 w tau = sum sin 2wt / sum cos
        2wt`` (Lomb 1976), the unnormalised form of ``scipy.signal.lombscargle``.
    """
    yc = y @ cos_wt
    ys = y @ sin_wt
    cc = np.einsum("ij,ij->j", cos_wt, cos_wt)
    cs = np.einsum("ij,ij->j", cos_wt, sin_wt)
    return _lomb_scargle_sums(yc, ys, cc, cs, y.size)


def _lomb_scargle_sums(
    yc: np.ndarray, ys: np.ndarray, cc: np.ndarray, cs: np.ndarray, n: int
) -> np.ndarray:
    """Lomb-Scargle periodogram from the sums ``y cos``, ``y sin``, ``cos^2``, ``cos sin``."""
    ss = n - cc
    wtau = 0.5 * np.arctan2(2.0 * cs, cc - ss)
    ct, st = np.cos(wtau), np.sin(wtau)
    c2, s2, cst = ct * ct, st * st, 2.0 * ct * st
    num_c = ct * yc + st * ys
    num_s = ct * ys - st * yc
    den_c = c2 * cc + cst * cs + s2 * ss
    den_s = c2 * ss - cst * cs + s2 * cc
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 0.5 * (num_c * num_c / den_c + num_s * num_s / den_s)
    if np.isfinite(p).all():  # the usual case: nothing to replace, no copy
        return p
    return np.nan_to_num(p, nan=0.0, posinf=0.0)


def _band_powers_from_psd(f: np.ndarray, psd: np.ndarray) -> dict[str, float]:
    out = {}
    for name, (lo, hi) in HRV_BANDS.items():
        sel = (f >= lo - 1e-12) & (f <= hi + 1e-12)
        out[name] = float(np.trapezoid(psd[sel], f[sel]))
    return out


def _band_table(f: np.ndarray) -> tuple[tuple[str, slice, np.ndarray], ...]:
    """Slices and grid steps of :data:`HRV_BANDS` on the increasing grid ``f`` (Hz).

    Returns ``(name, slice of f, diff(f[slice]))`` per band, for :func:`_band_powers_tab`.
    """
    out = []
    for name, (lo, hi) in HRV_BANDS.items():
        sel = np.flatnonzero((f >= lo - 1e-12) & (f <= hi + 1e-12))
        sl = slice(int(sel[0]), int(sel[-1]) + 1) if sel.size else slice(0, 0)
        out.append((name, sl, np.diff(f[sl])))
    return tuple(out)


def _band_powers_tab(
    tab: tuple[tuple[str, slice, np.ndarray], ...], psd: np.ndarray
) -> dict[str, float]:
    """:func:`_band_powers_from_psd` on a fixed grid prepared by :func:`_band_table`.

    The trapezoid rule written as ``np.trapezoid`` computes it (``sum(d * (y[1:] +
    y[:-1]) / 2)``), so the powers are the same to the bit, without re-deriving the
    band masks and grid steps at every spectral update.
    """
    out = {}
    for name, sl, d in tab:
        y = psd[sl]
        out[name] = float((d * (y[1:] + y[:-1]) / 2.0).sum())
    return out


def hrv_band_powers(
    times_s: np.ndarray, nn_ms: np.ndarray, *, df_hz: float = 0.0025
) -> dict[str, float]:
    """Return LF and HF power of an unevenly sampled NN series (Lomb-Scargle).

    Parameters
    ----------
    times_s : array_like, shape (n,)
        Beat times in s (the end of each interval), increasing.
    nn_ms : array_like, shape (n,)
        NN intervals in ms (artifact-corrected), one per time.
    df_hz : float, default 0.0025
        Frequency grid spacing in Hz.

    Returns
    -------
    dict
        ``{"lf": power, "hf": power}`` in ms^2: the Lomb-Scargle periodogram of the
        mean-removed series (equal to ``scipy.signal.lombscargle``, computed with NumPy
        on the fixed grid), scaled to a one-sided power spectral density in ms^2/Hz
        (``2 P T / n``, T = duration, so that a sinusoid of amplitude A gives ``A^2 / 2``)
        and integrated (trapezoid) over LF 0.04-0.15 Hz and HF 0.15-0.40 Hz. NaN when
        fewer than 8 intervals.

    References
    ----------
    Task Force (1996), Circulation 93(5):1043-1065; Lomb (1976), Astrophys. Space Sci.
    39:447-462; Laguna, Moody & Mark (1998), IEEE TBME 45(6):698-715.
    """
    t = np.asarray(times_s, dtype=float)
    y = _as_rr(nn_ms)
    if t.shape != y.shape:
        raise ValueError(f"hrv_band_powers: times_s has {t.size} values, nn_ms {y.size}")
    if y.size < 8:
        return {"lf": float("nan"), "hf": float("nan")}
    f = _freq_grid(df_hz)
    wt = (t - t[0])[:, None] * (2 * np.pi * f)[None, :]
    p = _lomb_scargle(np.cos(wt), np.sin(wt), y - y.mean())
    psd = 2.0 * p * float(t[-1] - t[0]) / y.size
    return _band_powers_from_psd(f, psd)


# --------------------------------------------------------------------------- HRV stage


#: Names of the features :meth:`HRVFeatures.as_features` returns, in record order.
HRV_FEATURES: tuple[str, ...] = (
    "hr_bpm",
    "ln_rmssd",
    "sdnn_ms",
    "pnn50",
    "hf_ln",
    "lf_ln",
    "hrv_quality",
)


@dataclass(frozen=True)
class HRVFeatures:
    """HRV features of the rolling beat windows at one tick.

    Every feature is None (not available) until its minimum window is covered
    (docs/science/heart.md), never NaN.

    Attributes
    ----------
    t : float
        Time of the newest sample seen, in s.
    hr_bpm : float or None
        Mean heart rate, ``60000 / mean(NN)`` in beats/min, over the corrected intervals
        of the time-domain window; available from 10 s of coverage.
    ln_rmssd : float or None
        Natural log of RMSSD (ms); available from 10 s (Munoz et al. 2015: r = 0.85 with
        5 min).
    rmssd_ms : float or None
        RMSSD in ms, ``sqrt(mean(diff(NN)^2))`` over successive differences of two
        normal (unflagged) intervals; available from 10 s.
    sdnn_ms : float or None
        SDNN (``ddof=1``) of the normal intervals in ms; available from 30 s.
    pnn50 : float or None
        Percentage of successive normal-interval differences > 50 ms, over the number
        of normal intervals (neurokit2's definition), in %; available from 30 s [E].
    hf_ms2, lf_ms2 : float or None
        HF (0.15-0.40 Hz) and LF (0.04-0.15 Hz) power in ms^2 (Lomb-Scargle of the
        corrected NN series over the spectral window); HF available from 60 s of
        coverage, LF from 120 s.
    hf_ln, lf_ln : float or None
        Natural logs of ``hf_ms2`` and ``lf_ms2`` (ln ms^2).
    n_beats : int
        Number of beats in the time-domain window.
    coverage_s : float
        Newest minus oldest beat time in the time-domain window, in s.
    spectral_coverage_s : float
        The same for the spectral window, in s, as of the last spectral update (at most
        ``HRVStage.spectral_every_s`` old, so that it always matches ``hf_*``/``lf_*``).
    quality : float
        ``1 - flagged / intervals`` in the time-domain window, in [0, 1]; 0 when the
        window holds no interval or its heart rate is implausible;
        ``HRVStage.irregular_hr_quality`` while the rhythm is not suitable for HRV
        (then only ``hr_bpm`` is given: every HRV feature is None).
    corrected_fraction : float
        Fraction of the window's intervals flagged as artifacts (running-median rule or
        Lipponen-Tarvainen), in [0, 1].
    rhythm_ok : bool
        False while the window's rhythm makes HRV meaningless (frequent ectopy or
        artifacts: more than 10 % of intervals flagged, cleared below 5 %).
    events : tuple of str
        Warnings raised at this tick (rhythm became unsuitable / suitable again).
    new_beat_times : ndarray, shape (k,)
        Times in s of the beats added by this update.
    new_rr_ms : ndarray, shape (k,)
        The raw interval ending at each new beat, in ms (NaN for the very first beat).
    new_corrected : ndarray of bool, shape (k,)
        Whether each new interval was flagged by the online running-median rule.
    """

    t: float
    hr_bpm: float | None
    ln_rmssd: float | None
    rmssd_ms: float | None
    sdnn_ms: float | None
    n_beats: int
    coverage_s: float
    quality: float
    new_beat_times: np.ndarray = field(repr=False)
    new_rr_ms: np.ndarray = field(repr=False)
    new_corrected: np.ndarray = field(repr=False)
    pnn50: float | None = None
    hf_ms2: float | None = None
    lf_ms2: float | None = None
    hf_ln: float | None = None
    lf_ln: float | None = None
    spectral_coverage_s: float = 0.0
    corrected_fraction: float = 0.0
    rhythm_ok: bool = True
    events: tuple[str, ...] = ()

    @property
    def heartbeats(self) -> np.ndarray:
        """The beats added by this update, shape (k, 3): time (s), RR (ms), corrected (0/1).

        Shape (0, 3) when the update added none (most ticks); part of the loop's
        :class:`attune.engine.loop.StageResult` seam.
        """
        if not self.new_beat_times.size:
            return _NO_HEARTBEATS
        return np.column_stack([self.new_beat_times, self.new_rr_ms, self.new_corrected])

    def as_features(self) -> dict[str, float | None]:
        """Return the features for the affect estimator.

        Returns
        -------
        dict
            The keys of :data:`HRV_FEATURES`; None means not available (window too
            short), never NaN.
        """
        return {
            "hr_bpm": self.hr_bpm,
            "ln_rmssd": self.ln_rmssd,
            "sdnn_ms": self.sdnn_ms,
            "pnn50": self.pnn50,
            "hf_ln": self.hf_ln,
            "lf_ln": self.lf_ln,
            "hrv_quality": float(self.quality),
        }


class HRVStage:
    """Streaming HRV: beats from ECG, PPG or RR intervals into rolling features.

    ``kind == "ecg"`` chunks pass through :class:`~attune.engine.heartbeats.EcgBeatDetector`,
    ``kind == "ppg"`` chunks through :class:`~attune.engine.heartbeats.PpgPulseDetector` (first
    channel); ``kind == "rr"`` chunks (irregular; values are RR intervals in ms,
    timestamps the beat times in s, e.g. a Polar H10) bypass detection.

    Artifact handling, in two layers:

    * online, per new beat (Malik et al. 1989, streaming form): an interval deviating
      more than 20 % from the median of the last 9 accepted intervals, or outside
      250-2500 ms, is flagged; flagged intervals do not enter the median. Until 3
      intervals have been accepted only the physiological range applies. After 5
      consecutive flagged intervals the median history restarts from the current
      interval, so a genuine sustained change of rate is not rejected forever. This
      flag is what the session record keeps per beat (``corrected``);
    * per beat, once its neighbourhood is complete (the 5 following intervals, which
      the 11-beat median and the successive-difference rules need) and at least 20
      intervals have been seen: the Lipponen & Tarvainen (2019) classification
      (:func:`rr_artifacts`) of the interval, with thresholds from its causal
      neighbourhood (up to 90 intervals before it and the 5 after; the paper uses a
      91-beat window) adds ectopic, missed, extra and long/short beats the running
      median missed. Each interval is classified once and the flag is kept, so the
      newest ~5 intervals rely on the running-median rule alone.

    Flagged intervals are left out of RMSSD, pNN50 (only differences of two normal
    intervals) and SDNN; for HR and the spectrum they are replaced by linear
    interpolation between the neighbouring normal intervals (Berntson & Stowell 1998:
    a single missed beat otherwise inflates HRV). When more than 10 % of a window's
    intervals are flagged (frequent ectopy, e.g. bigeminy, or heavy noise) the rhythm
    is marked unsuitable: quality becomes 0, so the estimator's confidence drops and
    the controller holds, and a warning event is emitted; it clears below 5 %.

    Time-domain features use the beats newer than ``t - window_s``, spectral ones the
    beats newer than ``t - spectral_window_s`` (t: newest sample time), both kept in a
    preallocated ring. Features are recomputed only when a window's beats or flags
    change (a beat enters or leaves, or is classified) and are cached otherwise;
    spectral powers at most once per ``spectral_every_s`` of signal time (their
    coverage is reported for the beats they were computed on). The Lomb-Scargle
    periodogram uses ``cos``/``sin`` of each beat time on the fixed frequency grid,
    computed once when the beat arrives and kept in the ring, so a spectral update is a
    few matrix-vector products. Per-update cost: the new samples, plus at most a few
    vectorized passes over the windows' beats when the windows change (about once per
    beat).

    Parameters
    ----------
    fs : float
        Sampling rate of the ECG (>= 100 Hz) or PPG (>= 20 Hz) stream; ignored for RR
        streams. Only the first channel of a chunk is used.
    window_s : float, default 60.0
        Length of the time-domain window in s.
    spectral_window_s : float, default 150.0
        Length of the spectral window in s (must reach 120 s for LF).
    spectral_every_s : float, default 1.0
        Minimum signal time between two spectral updates, in s [E].

    Notes
    -----
    Not thread-safe: call :meth:`update` from the engine tick.

    References
    ----------
    Task Force (1996), Circulation 93(5):1043-1065; Malik et al. (1989), Eur Heart J
    10(12):1060-1074; Lipponen & Tarvainen (2019), J Med Eng Technol 43(3):173-181;
    Munoz et al. (2015), PLoS ONE 10(9):e0138921; Pan & Tompkins (1985), IEEE TBME
    32(3):230-236; Elgendi et al. (2013), PLoS ONE 8(10):e76585.
    """

    min_hr_s = 10.0  #: coverage needed for HR and RMSSD, in s
    min_sdnn_s = 30.0  #: coverage needed for SDNN and pNN50, in s
    min_hf_s = 60.0  #: coverage needed for HF power, in s
    min_lf_s = 120.0  #: coverage needed for LF power, in s
    tolerance = 0.2  #: Malik rule: relative deviation from the running median
    median_len = 9  #: accepted intervals in the running median
    rr_range_ms = (250.0, 2500.0)  #: physiologically plausible RR range in ms
    max_consecutive = 5  #: restart the median after this many flagged intervals
    lt_min_intervals = 8  #: Lipponen-Tarvainen needs this many intervals in the neighbourhood
    spectral_stale_s = 5.0  #: recompute spectra this long after the last change at most [E]
    lt_before = 90  #: intervals before the classified one in its L-T neighbourhood
    lt_after = 5  #: intervals after it (the 11-beat median's half-width)
    rhythm_bad = 0.10  #: flagged fraction above which the rhythm is unsuitable
    rhythm_good = 0.05  #: ... and below which it is suitable again
    rhythm_min_intervals = 50  #: intervals needed before judging the rhythm [E]
    hr_range_bpm = (25.0, 230.0)  #: plausible heart rate of a window, beats/min
    rmssd_range_ms = (2.0, 250.0)  #: plausible RMSSD of a window, ms (ln 0.69-5.52)
    rr_anchor_s = 3.0  #: an RR stream's beat may precede its timestamp by this much, s
    irregular_hr_quality = 0.6  #: quality of HR alone while HRV is unsuitable [E]
    gap_s = 0.25  #: samples further apart than this leave a gap no interval may span, s

    def __init__(
        self,
        *,
        fs: float,
        window_s: float = 60.0,
        spectral_window_s: float = 150.0,
        spectral_every_s: float = 1.0,
    ) -> None:
        if not np.isfinite(window_s) or window_s <= 0:
            raise ValueError(f"HRVStage: window_s must be > 0 s, got {window_s!r}")
        if not np.isfinite(spectral_window_s) or spectral_window_s <= 0:
            raise ValueError(
                f"HRVStage: spectral_window_s must be > 0 s, got {spectral_window_s!r}"
            )
        if not np.isfinite(spectral_every_s) or spectral_every_s < 0:
            raise ValueError(f"HRVStage: spectral_every_s must be >= 0 s, got {spectral_every_s!r}")
        self.fs = float(fs)
        self.window_s = float(window_s)
        self.spectral_window_s = float(spectral_window_s)
        self.spectral_every_s = float(spectral_every_s)
        self._detector: EcgBeatDetector | PpgPulseDetector | None = None
        self._rate: RateCheck | None = None
        self._rate_events: tuple[str, ...] = ()
        span = max(self.window_s, self.spectral_window_s)
        cap = int(np.ceil(span / 0.2)) + 16  # 200 ms refractory bounds the beat rate
        cap = max(cap, self.lt_before + self.lt_after + 16)
        self._cap = cap
        self._times = np.zeros(cap)
        self._rr = np.full(cap, np.nan)  # raw interval ending at the beat
        self._corr = np.zeros(cap, dtype=bool)  # online (running-median) flag
        self._lt = np.zeros(cap, dtype=bool)  # Lipponen-Tarvainen flag
        self._freqs = _freq_grid(0.0025)
        self._w = 2 * np.pi * self._freqs
        self._bands = _band_table(self._freqs)
        # per beat, on the fixed grid: cos and sin of w (t - t_origin) and of twice that
        self._cos = np.zeros((cap, self._freqs.size))
        self._sin = np.zeros((cap, self._freqs.size))
        self._cos2 = np.zeros((cap, self._freqs.size))
        self._sin2 = np.zeros((cap, self._freqs.size))
        self._t_origin = float("nan")
        self._count = 0  # beats ever stored
        self._first = 0  # counter of the oldest beat in the ring window
        self._td_first = 0  # ... in the time-domain window
        self._sp_first = 0  # ... in the spectral window
        self._iv_first = -1  # counter of the first beat with a finite interval
        self._lt_next = 0  # beats before this counter have been classified
        self._hist = np.full(self.median_len, np.nan)  # accepted intervals
        self._n_hist = 0
        self._consecutive = 0
        self._last_beat = float("nan")
        self._t = float("nan")
        self._last_sample = float("nan")  # time of the newest ECG/PPG sample, s
        self._gap_starts: list[float] = []  # last sample before each recent gap, s
        self._rhythm_ok = True
        self._rr_gaps = 0  # RR-stream beats re-anchored after lost beats
        self._implausible: set[str] = set()  # features currently out of range
        self._version = 0  # bumped whenever beats or flags change
        self._td_key: tuple[int, int] = (-1, -1)
        self._td: tuple = (None, None, None, None, None, 0, 0.0, 0.0, 0)
        self._sp_key: tuple[int, int] = (-1, -1)
        self._sp: tuple = (None, None, 0.0)
        self._sp_ln: tuple = (None, None)  # ln of the cached hf, lf
        self._sp_t = -np.inf

    def _get_detector(self, kind: str) -> EcgBeatDetector | PpgPulseDetector:
        if self._detector is None:
            cls = EcgBeatDetector if kind == "ecg" else PpgPulseDetector
            self._detector = cls(fs=self.fs)
        return self._detector

    def update(self, chunk: Chunk) -> HRVFeatures:
        """Consume one chunk and return the features of the current windows.

        Parameters
        ----------
        chunk : Chunk
            ``kind "ecg"`` or ``"ppg"`` (``info.fs`` must equal ``fs``) or ``"rr"``.

        Returns
        -------
        HRVFeatures
        """
        kind = chunk.info.kind
        if chunk.n_samples:
            newest = float(chunk.timestamps[-1])
            self._t = newest if not self._t >= newest else self._t  # NaN-safe max
        if kind in ("ecg", "ppg"):
            if abs(chunk.info.fs - self.fs) > 1e-9 * self.fs:
                raise ValueError(
                    f"HRVStage: stream {chunk.info.name!r} has fs={chunk.info.fs} Hz but "
                    f"the stage was built with fs={self.fs} Hz"
                )
            if self._rate is None:
                self._rate = RateCheck(chunk.info.name, self.fs)
            self._rate_events += self._rate.update(chunk.timestamps)
            det = self._get_detector(kind)
            if not isinstance(det, EcgBeatDetector if kind == "ecg" else PpgPulseDetector):
                raise ValueError(
                    f"HRVStage: stream {chunk.info.name!r} is {kind!r} but the stage "
                    "already detects beats in another kind of stream"
                )
            self._note_gaps(chunk.timestamps)
            beats = det.update(chunk.data[0], chunk.timestamps)
            if beats.size:
                rr = np.diff(beats, prepend=self._last_beat) * 1000.0
            else:  # most ticks: no beat (skip np.diff's concatenation)
                beats = rr = _EMPTY
        elif kind == "rr":
            rr = np.asarray(chunk.data[0], dtype=float)
            beats = self._rr_beat_times(np.asarray(chunk.timestamps, dtype=float), rr)
        else:
            raise ValueError(
                f"HRVStage: stream {chunk.info.name!r} has kind {kind!r}; "
                "expected 'ecg', 'ppg' or 'rr'"
            )
        if beats.size:
            corrected = self._screen(rr)
            if self._gap_starts:
                # an interval across a gap is no heartbeat interval: missing in the record,
                # flagged (as an out-of-range interval is) in the windows
                spans = self._spans_gap(beats)
                corrected |= spans
                self._store(beats, rr, corrected)
                rr = np.where(spans, np.nan, rr)
            else:
                self._store(beats, rr, corrected)
        else:
            corrected = _EMPTY_BOOL
        return self._features(beats, rr, corrected)

    def _note_gaps(self, stamps: np.ndarray) -> None:
        """Remember where the samples of a chunk (times in s) leave a gap of > ``gap_s``."""
        if stamps.size == 0:
            return
        first = float(stamps[0])
        if first - self._last_sample > self.gap_s:  # NaN before the first chunk: no gap
            self._gap_starts.append(self._last_sample)
        d = np.diff(stamps)
        if d.size and float(d.max()) > self.gap_s:  # rare: a gap inside the chunk
            self._gap_starts += stamps[:-1][d > self.gap_s].tolist()
        del self._gap_starts[:-64]  # bounded while no beat comes
        self._last_sample = float(stamps[-1])

    def _spans_gap(self, beats: np.ndarray) -> np.ndarray:
        """Which new beats' intervals ``(previous beat, beat]`` hold a gap (bool, shape (n,)).

        Called before the beats are stored (``_last_beat`` is the beat before them).
        """
        starts = np.asarray(self._gap_starts)
        prev = np.concatenate(([self._last_beat], beats[:-1]))
        spans = np.searchsorted(starts, beats, side="right") - np.searchsorted(
            starts, prev, side="left"
        )
        last = float(beats[-1])
        self._gap_starts = [g for g in self._gap_starts if g >= last]
        return (spans > 0) & np.isfinite(prev)

    def _rr_beat_times(self, stamps: np.ndarray, rr: np.ndarray) -> np.ndarray:
        """Beat times of an RR stream from its intervals, anchored to its timestamps.

        Devices such as the Polar H10 send RR intervals in packets about once a second,
        every interval of a packet stamped with the packet's time, not its beat's. Each
        beat is placed one interval after the previous one; it is re-anchored to its
        timestamp when that places it after the timestamp (+50 ms) or more than
        ``rr_anchor_s`` before it (beats lost in between). Each re-anchoring moves the
        anchor closer to the true beat times, so the series converges to them.

        Parameters
        ----------
        stamps : ndarray, shape (k,)
            Timestamps of the intervals, s.
        rr : ndarray, shape (k,)
            Intervals, ms.

        Returns
        -------
        ndarray, shape (k,)
            Beat times, s, increasing.
        """
        out = np.empty(stamps.size)
        prev = self._last_beat
        for i in range(stamps.size):  # per beat (~1/s)
            ts, v = float(stamps[i]), float(rr[i])
            b = prev + v / 1000.0 if math.isfinite(prev) and math.isfinite(v) else ts
            if not (ts - self.rr_anchor_s <= b <= ts + 0.05):
                if math.isfinite(prev) and b < ts - self.rr_anchor_s:
                    self._rr_gaps += 1
                b = ts if not math.isfinite(prev) else max(ts, prev + 1e-3)
            out[i] = b
            prev = b
        return out

    def _screen(self, rr: np.ndarray) -> np.ndarray:
        """Apply the running-median rule to new intervals (one step per beat)."""
        n = rr.size
        corrected = np.zeros(n, dtype=bool)
        lo, hi = self.rr_range_ms
        for i in range(n):  # per beat (~1/s), not per sample
            v = float(rr[i])
            if not np.isfinite(v):
                continue  # first beat: no interval
            med = None
            if self._n_hist >= 3:  # median of <= 9 values, in plain Python (per beat)
                h = sorted(self._hist[: self._n_hist].tolist())
                m = len(h) // 2
                med = h[m] if len(h) % 2 else (h[m - 1] + h[m]) / 2.0
            bad = not (lo <= v <= hi)
            if med is not None and abs(v - med) > self.tolerance * med:
                bad = True
            if bad:
                corrected[i] = True
                self._consecutive += 1
                if self._consecutive >= self.max_consecutive and lo <= v <= hi:
                    self._hist[0] = v
                    self._n_hist = 1
                    self._consecutive = 0
            else:
                self._consecutive = 0
                if self._n_hist < self.median_len:
                    self._hist[self._n_hist] = v
                    self._n_hist += 1
                else:
                    self._hist[:-1] = self._hist[1:]
                    self._hist[-1] = v
        return corrected

    def _store(self, beats: np.ndarray, rr: np.ndarray, corrected: np.ndarray) -> None:
        n = beats.size
        if n == 0:
            return
        if n > self._cap:
            beats, rr, corrected = (a[-self._cap :] for a in (beats, rr, corrected))
            self._count += n - self._cap
            n = self._cap
        if not np.isfinite(self._t_origin):
            self._t_origin = float(beats[0])
        idx = (self._count + np.arange(n)) % self._cap
        self._times[idx] = beats
        self._rr[idx] = rr
        self._corr[idx] = corrected
        self._lt[idx] = False
        wt = (beats - self._t_origin)[:, None] * self._w[None, :]  # per beat, not per tick
        c, sn = np.cos(wt), np.sin(wt)
        self._cos[idx] = c
        self._sin[idx] = sn
        self._cos2[idx] = c * c - sn * sn
        self._sin2[idx] = 2.0 * c * sn
        if self._iv_first < 0:
            fin = np.flatnonzero(np.isfinite(rr))
            if fin.size:
                self._iv_first = self._count + int(fin[0])
        self._count += n
        self._last_beat = float(beats[-1])
        self._version += 1
        self._classify()

    def _classify(self) -> None:
        """Lipponen-Tarvainen flags for the beats whose neighbourhood is now complete."""
        if self._iv_first < 0:
            return
        oldest = self._count - self._cap
        while self._lt_next + self.lt_after < self._count:  # per beat (~1/s)
            i = self._lt_next
            self._lt_next += 1
            if i < max(self._iv_first, oldest):
                continue
            lo = max(self._iv_first, i - self.lt_before, oldest)
            if i + self.lt_after + 1 - lo < self.lt_min_intervals:
                continue
            seg = self._rr.take(np.arange(lo, i + self.lt_after + 1), mode="wrap")
            if not np.isfinite(seg).all():
                continue
            if _rr_artifact_at(seg, i - lo):
                self._lt[i % self._cap] = True
                self._version += 1

    def _advance(self, first: int, span_s: float) -> int:
        """Move a window's first-beat counter past the beats older than ``t - span_s``."""
        first = max(first, self._first)
        if math.isfinite(self._t):
            t0 = self._t - span_s
            times, cap, count = self._times, self._cap, self._count
            while first < count and times[first % cap] <= t0:
                first += 1  # beats leave in order (few per tick)
        return first

    @staticmethod
    def _interpolated(rr: np.ndarray, flags: np.ndarray) -> np.ndarray:
        """Intervals with flagged ones replaced by interpolation over the normal ones."""
        has = np.isfinite(rr)
        ok = has & ~flags
        out = rr[has].copy()
        if not ok.any():
            return out[:0]
        pos = np.flatnonzero(has)
        okpos = np.flatnonzero(ok)
        bad = flags[has]
        out[bad] = np.interp(pos[bad], okpos, rr[okpos])
        return out

    def _time_domain(self) -> tuple:
        """Time-domain features of the current window (recomputed on change only)."""
        key = (self._td_first, self._version)
        if key == self._td_key:
            return self._td
        n_beats = self._count - self._td_first
        a = self._td_first % self._cap
        # a slice (views, read only here) unless the window wraps around the ring
        idx = (
            slice(a, a + n_beats)
            if a + n_beats <= self._cap
            else (np.arange(self._td_first, self._count) % self._cap)
        )
        times = self._times[idx]
        coverage = float(times[-1] - times[0]) if n_beats >= 2 else 0.0
        raw = self._rr[idx]
        has = np.isfinite(raw)
        n_iv = int(np.count_nonzero(has))
        flags = (self._corr[idx] | self._lt[idx]) & has
        frac = float(np.count_nonzero(flags) / n_iv) if n_iv else 0.0
        ok = has & ~flags
        hr = ln_rmssd = rmssd = sdnn = pnn50 = None
        n_ok = int(np.count_nonzero(ok))
        if coverage >= self.min_hr_s and n_ok >= 2:
            hr = _beat_rate_bpm(raw[has]) if n_ok < n_iv else 60000.0 / (raw[has].sum() / n_iv)
            # Scalar reductions written out (sum / n is np.mean, math.sqrt is np.sqrt,
            # to the bit): NumPy's Python-level dispatch costs more than the arithmetic.
            pair = ok[1:] & ok[:-1]
            if pair.any():
                d = (raw[1:] - raw[:-1])[pair]
                rmssd = math.sqrt(float((d * d).sum()) / d.size)
                ln_rmssd = float(np.log(rmssd)) if rmssd > 0 else None
                if coverage >= self.min_sdnn_s:
                    pnn50 = float(np.count_nonzero(np.abs(d) > 50.0) / n_ok * 100)
            if coverage >= self.min_sdnn_s:
                sdnn = _sd(raw[ok])  # n_ok >= 2 here
        self._td_key = key
        self._td = (hr, ln_rmssd, rmssd, sdnn, pnn50, n_beats, coverage, frac, n_iv)
        return self._td

    def _spectral(self, new_beats: bool) -> tuple:
        """HF and LF power and the coverage they were computed on (throttled, cached).

        Recomputed on an update that brought new beats once ``spectral_every_s`` has
        passed since the last computation (so the work lands on the ticks that do the
        beat work anyway); beats that only left the window are taken into account at
        the next such update, or after ``spectral_stale_s`` without one.
        """
        since = self._t - self._sp_t
        if since < self.spectral_every_s:
            return self._sp
        changed = self._sp_key != (self._sp_first, self._version)
        if not changed or not (new_beats or since >= self.spectral_stale_s):
            return self._sp
        self._sp_key = (self._sp_first, self._version)
        self._sp_t = self._t
        first = max(self._sp_first, self._iv_first) if self._iv_first >= 0 else self._count
        n = self._count - self._sp_first
        s_cov = 0.0
        if n >= 2:
            s_cov = float(
                self._times[(self._count - 1) % self._cap] - self._times[self._sp_first % self._cap]
            )
        hf = lf = None
        if s_cov >= self.min_hf_s and self._count - first >= 8:
            sidx = np.arange(first, self._count) % self._cap
            sraw = self._rr[sidx]
            sflags = self._corr[sidx] | self._lt[sidx]
            sval = self._interpolated(sraw, sflags)
            if sval.size >= 8:
                y = sval - sval.sum() / sval.size  # = sval.mean()
                # contiguous ring slices: no copies of the (beats x frequencies) tables
                a, b = first % self._cap, self._count % self._cap
                parts = [(a, b)] if a < b else [(a, self._cap), (0, b)]
                nf = self._freqs.size
                yc, ys, c2, s2 = np.zeros(nf), np.zeros(nf), np.zeros(nf), np.zeros(nf)
                k = 0
                for lo, hi in parts:
                    yy = y[k : k + hi - lo]
                    k += hi - lo
                    yc = yc + yy @ self._cos[lo:hi]
                    ys = ys + yy @ self._sin[lo:hi]
                    c2 = c2 + self._cos2[lo:hi].sum(axis=0)
                    s2 = s2 + self._sin2[lo:hi].sum(axis=0)
                # sum cos^2 = (n + sum cos 2wt) / 2, sum cos sin = sum sin 2wt / 2
                p = _lomb_scargle_sums(yc, ys, 0.5 * (y.size + c2), 0.5 * s2, y.size)
                t_iv = self._times[sidx[[0, -1]]]
                psd = 2.0 * p * float(t_iv[1] - t_iv[0]) / y.size
                powers = _band_powers_tab(self._bands, psd)
                hf = powers["hf"]
                if s_cov >= self.min_lf_s:
                    lf = powers["lf"]
        self._sp = (hf, lf, s_cov)
        self._sp_ln = (
            float(np.log(hf)) if hf is not None and hf > 0 else None,
            float(np.log(lf)) if lf is not None and lf > 0 else None,
        )
        return self._sp

    def _plausible(
        self, name: str, value: float | None, bounds: tuple[float, float], unit: str
    ) -> tuple[float | None, tuple[str, ...]]:
        """``value`` if inside ``bounds``, else None; an event when that state changes."""
        if value is None:
            return None, ()
        lo, hi = bounds
        if lo <= value <= hi:
            if name in self._implausible:
                self._implausible.discard(name)
                return value, (f"info: {name} plausible again ({value:.3g} {unit}): used",)
            return value, ()
        if name in self._implausible:
            return None, ()
        self._implausible.add(name)
        return None, (
            f"warning: implausible {name} {value:.3g} {unit} (plausible {lo:g}-{hi:g} "
            f"{unit}): not used",
        )

    def _features(self, beats: np.ndarray, rr: np.ndarray, corrected: np.ndarray) -> HRVFeatures:
        self._first = self._advance(self._first, max(self.window_s, self.spectral_window_s))
        self._first = max(self._first, self._count - self._cap)
        self._td_first = self._advance(self._td_first, self.window_s)
        self._sp_first = self._advance(self._sp_first, self.spectral_window_s)
        hr, ln_rmssd, rmssd, sdnn, pnn50, n_beats, coverage, frac, n_iv = self._time_domain()
        hf, lf, s_cov = self._spectral(beats.size > 0)
        # ---- rhythm
        events: tuple[str, ...] = ()
        if n_iv >= self.rhythm_min_intervals:
            if self._rhythm_ok and frac > self.rhythm_bad:
                self._rhythm_ok = False
                events = (
                    f"warning: HRV not used: {100 * frac:.0f}% of beats irregular (ectopic "
                    "or artifacts); heart rate alone feeds the estimate",
                )
            elif not self._rhythm_ok and frac < self.rhythm_good:
                self._rhythm_ok = True
                events = (f"info: HRV used again: {100 * frac:.0f}% of beats irregular",)
        if not self._rhythm_ok:  # HRV meaningless: heart rate alone, at lower quality
            ln_rmssd = rmssd = sdnn = pnn50 = None
            hf = lf = None
            hf_ln = lf_ln = None
        else:
            hf_ln, lf_ln = self._sp_ln  # logs of hf, lf: cached with them
        # ---- physiological plausibility: an implausible value is an event, not a feature
        hr, ev_hr = self._plausible("heart rate", hr, self.hr_range_bpm, "bpm")
        rmssd, ev_rm = self._plausible("RMSSD", rmssd, self.rmssd_range_ms, "ms")
        if rmssd is None:
            ln_rmssd = None
        if ev_hr or ev_rm:
            events = events + ev_hr + ev_rm
        if self._rr_gaps:
            events = events + (
                f"warning: RR stream: {self._rr_gaps} interval(s) arrived more than "
                f"{self.rr_anchor_s:g} s after their beat (beats lost): beat times re-anchored",
            )
            self._rr_gaps = 0
        if self._rate_events:
            events = events + self._rate_events
            self._rate_events = ()
        if self._rhythm_ok:
            quality = 1.0 - frac if n_iv else 0.0
        else:
            quality = self.irregular_hr_quality if hr is not None else 0.0
        if "heart rate" in self._implausible or (self._rate is not None and not self._rate.ok):
            quality = 0.0
        return HRVFeatures(
            t=self._t,
            hr_bpm=hr,
            ln_rmssd=ln_rmssd,
            rmssd_ms=rmssd,
            sdnn_ms=sdnn,
            n_beats=n_beats,
            coverage_s=coverage,
            quality=float(quality),
            new_beat_times=np.array(beats, dtype=float) if beats.size else _EMPTY,
            new_rr_ms=np.array(rr, dtype=float) if rr.size else _EMPTY,
            new_corrected=corrected,
            pnn50=pnn50,
            hf_ms2=hf,
            lf_ms2=lf,
            hf_ln=hf_ln,
            lf_ln=lf_ln,
            spectral_coverage_s=s_cov,
            corrected_fraction=frac,
            rhythm_ok=self._rhythm_ok,
            events=events,
        )
