"""Synthetic ECG with exactly known beats, ectopy and realistic noise.

For testing and benchmarking beat detectors where the truth must be exact: sinus beats
are Gaussian P-Q-R-S-T waves (ECGSYN-like, McSharry et al. 2003); premature
ventricular beats (PVCs) are wide (QRS sd 35 ms, ~140 ms wide), have no P wave and a
discordant T wave, come at 50-65 % of the sinus interval and are followed by a full
compensatory pause. Noise types follow the MIT-BIH Noise Stress Test Database's
(electrode motion, muscle, baseline wander) plus electrode pops.

References
----------
McSharry, P. E., Clifford, G. D., Tarassenko, L., & Smith, L. A. (2003). A dynamical
model for generating synthetic electrocardiogram signals. IEEE TBME 50(3), 289-294.
Moody, G. B., Muldrow, W., & Mark, R. G. (1984). A noise stress test for arrhythmia
detectors. Computers in Cardiology 11, 381-384.
"""

from __future__ import annotations

import numpy as np
import scipy.signal


def make_rhythm(kind: str, dur_s: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Beat times (s) and kinds (0 sinus, 1 PVC) of a sinus rhythm with RSA.

    ``kind``: ``sinus``; ``pvc`` (12 % of beats premature); ``bigeminy`` (every second
    beat); ``trigeminy`` (every third); ``couplets`` (pairs of PVCs after 20 % of sinus beats).
    """
    t = 0.5
    times: list[float] = []
    kinds: list[int] = []
    k = 0
    while t < dur_s:
        rr = 0.8 * (1 + 0.05 * np.sin(2 * np.pi * t / 4.0)) + rng.normal(0, 0.01)
        pvc = (kind == "pvc" and rng.random() < 0.12) or (kind == "bigeminy" and k % 2 == 1)
        pvc = pvc or (kind == "trigeminy" and k % 3 == 2)
        if kind == "couplets" and k > 3 and kinds[-1] == 0 and rng.random() < 0.2:
            first = t + rng.uniform(0.5, 0.65) * rr
            times += [first, first + rng.uniform(0.5, 0.6) * rr]
            kinds += [1, 1]
            t += 2 * rr
        elif pvc and k > 3 and kinds[-1] == 0:
            times.append(t + rng.uniform(0.5, 0.65) * rr)
            kinds.append(1)
            t += 2 * rr  # compensatory pause: the next sinus beat stays on the sinus grid
        else:
            t += rr
        if t < dur_s:
            times.append(t)
            kinds.append(0)
        k += 1
    return np.array(times), np.array(kinds)


def synth_ecg(times, kinds, fs: float, dur_s: float, rng, pvc_sign: float = 1.0):
    """ECG in mV from beat times and kinds, with baseline wander and white noise."""
    n = int(dur_s * fs)
    t = np.arange(n) / fs
    x = np.zeros(n)
    rr = np.diff(times, prepend=times[0] - 0.8)
    for b, kind, r in zip(times, kinds, rr, strict=True):  # per beat
        s = np.sqrt(np.clip(r, 0.4, 1.6))
        if kind == 0:  # (amplitude mV, centre s from R, sd s)
            waves = [(0.15, -0.19 * s, 0.025 * s), (-0.12, -0.03, 0.010), (1.0, 0.0, 0.011)]
            waves += [(-0.25, 0.03, 0.010), (0.30, 0.27 * s, 0.055 * s)]
        else:
            waves = [(1.4 * pvc_sign, 0.0, 0.035), (-0.5 * pvc_sign, 0.075, 0.03)]
            waves += [(-0.45 * pvc_sign, 0.32, 0.08)]
        lo, hi = max(int((b - 0.45) * fs), 0), min(int((b + 0.7) * fs), n)
        d = t[lo:hi] - b
        for a, mu, sd in waves:
            x[lo:hi] += a * np.exp(-0.5 * ((d - mu) / sd) ** 2)
    x += 0.1 * np.sin(2 * np.pi * 0.25 * t) + 0.05 * np.sin(2 * np.pi * 0.05 * t)
    return x + rng.normal(0, 0.02, n)


def motion_bursts(x, fs: float, rng, n_bursts: int) -> tuple[np.ndarray, list]:
    """Add bursts (0.5-2 s) of 1-25 Hz noise with 0.6 mV RMS (electrode motion)."""
    sos = scipy.signal.butter(2, [1.0, 25.0], btype="bandpass", fs=fs, output="sos")
    y, spans = x.copy(), []
    for _ in range(n_bursts):
        m = int(rng.uniform(0.5, 2.0) * fs)
        s0 = int(rng.integers(int(3 * fs), x.size - m))
        w = scipy.signal.sosfilt(sos, rng.normal(0, 1, m + int(fs)))[int(fs) :]
        y[s0 : s0 + m] += w * (0.6 / w.std()) * np.hanning(m) ** 0.3
        spans.append((s0 / fs, (s0 + m) / fs))
    return y, spans


def add_noise(kind: str, x: np.ndarray, fs: float, rng, snr_db: float = 6.0) -> np.ndarray:
    """Add one type of realistic ECG noise (x in mV) and return the noisy signal.

    ``motion_band``: bursts of 3-10 s, one per 30 s, of 0.5-20 Hz electrode-motion noise
    (0.6 mV RMS); ``motion_broad``: the same bursts of broadband noise (0.4 mV RMS);
    ``pops``: 20 electrode pops (0.5-2 mV steps decaying with 0.3 s); ``emg``: 20-150 Hz
    muscle noise at ``snr_db`` (power relative to the ECG), 2.5 times stronger in
    periodic contractions; ``wander``: respiratory and drifting baseline (~1 mV);
    ``mix``: all of them together.
    """
    n = x.size
    t = np.arange(n) / fs
    y = x.copy()
    if kind in ("motion_band", "motion_broad"):
        sos = scipy.signal.butter(2, [0.5, 20.0], btype="bandpass", fs=fs, output="sos")
        for s in np.arange(5.0, t[-1] - 12.0, 30.0):
            m = int(rng.uniform(3.0, 10.0) * fs)
            s0 = int((s + rng.uniform(0.0, 10.0)) * fs)
            if kind == "motion_band":
                w = scipy.signal.sosfilt(sos, rng.normal(0, 1, m + int(fs)))[int(fs) :]
                w *= 0.6 / w.std()
            else:
                w = rng.normal(0, 0.4, m)
            y[s0 : s0 + m] += w * np.hanning(m) ** 0.3
    elif kind == "pops":
        for s in rng.uniform(3.0, t[-1] - 1.0, 20):
            s0 = int(s * fs)
            step = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.0)
            y[s0:] += step * np.exp(-(t[s0:] - t[s0]) / 0.3)
    elif kind == "emg":
        band = [20.0, min(150.0, 0.45 * fs)]
        sos = scipy.signal.butter(4, band, btype="bandpass", fs=fs, output="sos")
        env = 1.0 + 1.5 * (np.sin(2 * np.pi * t / 17.0) > 0.5)
        w = scipy.signal.sosfilt(sos, rng.normal(0, 1, n))
        w *= env / w.std() / np.sqrt(np.mean(env**2))
        y += w * np.sqrt(np.mean(x**2) / 10 ** (snr_db / 10))
    elif kind == "wander":
        y += np.sin(2 * np.pi * 0.3 * t) + 0.8 * np.sin(2 * np.pi * 0.07 * t + 1.0)
        y += np.cumsum(rng.normal(0, 0.02, n)) * np.sqrt(250.0 / fs)
    elif kind == "mix":
        for k in ("motion_band", "emg", "wander", "pops"):
            y = add_noise(k, y, fs, rng, snr_db)
    else:
        raise ValueError(kind)
    return y


def noisy_record(
    noise: str, rhythm: str, snr_db: float, fs: float, seed: int, dur_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One seeded record: a rhythm with ``noise`` added.

    Parameters
    ----------
    noise : str
        A noise type of :func:`add_noise`.
    rhythm : str
        A rhythm of :func:`make_rhythm`.
    snr_db : float
        Muscle-noise SNR, dB.
    fs : float
        Sampling rate, Hz.
    seed : int
        Seed of everything random in the record.
    dur_s : float
        Length, s.

    Returns
    -------
    times : ndarray, shape (n_beats,)
        True R times, s.
    kinds : ndarray, shape (n_beats,)
        0 sinus, 1 PVC.
    ecg : ndarray, shape (round(dur_s * fs),)
        The noisy ECG, mV.
    """
    rng = np.random.default_rng(seed)
    times, kinds = make_rhythm(rhythm, dur_s, rng)
    x = synth_ecg(times, kinds, fs, dur_s, rng)
    return times, kinds, add_noise(noise, x, fs, rng, snr_db)


def score(
    ref_s: np.ndarray, det_s: np.ndarray, t0_s: float, t1_s: float, tol_s: float = 0.05
) -> tuple[float, float]:
    """Sensitivity and positive predictivity of detected beats against reference beats.

    Beats in ``[t0_s, t1_s)`` count; a reference beat is found when a detected beat lies
    within ``tol_s`` of it, and a detected beat is true when a reference beat lies within
    ``tol_s`` (50 ms: the tolerance used against annotations and neurokit2).

    Returns
    -------
    sensitivity, ppv : float
        Fractions in [0, 1].
    """

    def nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        j = np.clip(np.searchsorted(b, a), 1, b.size - 1)
        return np.minimum(np.abs(b[j] - a), np.abs(b[j - 1] - a))

    ref = ref_s[(ref_s >= t0_s) & (ref_s < t1_s)]
    det = det_s[(det_s >= t0_s) & (det_s < t1_s)]
    return float(np.mean(nearest(ref, det) <= tol_s)), float(np.mean(nearest(det, ref) <= tol_s))
