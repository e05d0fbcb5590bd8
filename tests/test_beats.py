"""Beat detectors on real recordings (vs neurokit2) and on synthetic perturbations."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from chunking import feed, fixed, random_sizes

from engine.beats import EcgBeatDetector, PpgPulseDetector

DATA = Path(__file__).parent / "data"


def _csv(name: str, column: str | int) -> np.ndarray:
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(DATA / "neurokit2" / name)
    col = df.iloc[:, column] if isinstance(column, int) else df[column]
    return col.to_numpy(dtype=float)


def _load(which: str) -> tuple[np.ndarray, float]:
    if which == "ant_aux2":
        mne = pytest.importorskip("mne")
        raw = mne.io.read_raw(DATA / "eeg_mne" / "sample-ant-aux-raw.fif", verbose=False)
        return raw.get_data(picks=["AUX2"])[0], float(raw.info["sfreq"])
    if which == "biosppy":
        return np.loadtxt(DATA / "biosppy" / "ecg.txt"), 1000.0
    if which == "ecg_1000hz":
        return _csv("ecg_1000hz.csv", 0), 1000.0
    return _csv(f"{which}.csv", "ECG"), 100.0


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    j = np.clip(np.searchsorted(b, a), 1, b.size - 1)
    return np.minimum(np.abs(b[j] - a), np.abs(b[j - 1] - a))


def _score(ref: np.ndarray, det: np.ndarray, t0: float, t1: float, tol: float = 0.05):
    ref = ref[(ref >= t0) & (ref < t1)]
    det = det[(det >= t0) & (det < t1)]
    return float(np.mean(_nearest(ref, det) <= tol)), float(np.mean(_nearest(det, ref) <= tol))


def _nk_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    nk = pytest.importorskip("neurokit2")
    _, info = nk.ecg_peaks(nk.ecg_clean(x, sampling_rate=fs), sampling_rate=fs)
    return np.asarray(info["ECG_R_Peaks"]) / fs


RECORDINGS = [
    "bio_resting_5min_100hz",
    "bio_resting_8min_100hz",
    "bio_eventrelated_100hz",
    "ecg_1000hz",
    "biosppy",
    "ant_aux2",
]


@pytest.mark.parametrize("which", RECORDINGS)
def test_ecg_detector_matches_neurokit_on_recordings(which):
    x, fs = _load(which)
    ref = _nk_peaks(x, fs)
    det = feed(EcgBeatDetector(fs=fs), x, fixed(round(0.1 * fs)))
    # first 2 s excluded (learning); a beat in the last delay_s cannot be decided yet
    se, ppv = _score(ref, det, 2.0, x.size / fs - EcgBeatDetector(fs=fs).delay_s)
    print(f"{which}: sensitivity {se:.4f} PPV {ppv:.4f}")
    assert se >= 0.99
    assert ppv >= 0.99


@pytest.mark.parametrize("which", ["bio_resting_5min_100hz", "ant_aux2"])
def test_ecg_detector_chunked_equals_whole(which):
    x, fs = _load(which)
    # 90 s at 100 Hz; 30 s at 1 kHz (same number of samples order, ~35 beats past learning)
    x = x[: int((90 if fs < 500 else 30) * fs)]
    whole = feed(EcgBeatDetector(fs=fs), x, [x.size])
    assert whole.size > (80 if fs < 500 else 30)
    for sizes in (fixed(1), fixed(7), fixed(256), random_sizes(11, int(fs)), fixed(4096)):
        np.testing.assert_array_equal(feed(EcgBeatDetector(fs=fs), x, sizes), whole)


# ----------------------------------------------------------------------- noisy ECG


def _perturbed(kind: str, x: np.ndarray, fs: float, rng) -> np.ndarray:
    t = np.arange(x.size) / fs
    amp = np.percentile(x, 99) - np.percentile(x, 1)
    if kind == "inverted":
        return -x
    if kind == "wander":
        return x + 0.8 * amp * np.sin(2 * np.pi * 0.25 * t) + 0.5 * amp * np.sin(0.05 * t)
    if kind == "mains":
        return x + 0.3 * amp * np.sin(2 * np.pi * 50.0 * t)
    if kind == "white":
        return x + rng.normal(0, 0.08 * amp, x.size)
    if kind == "amplitude":
        return x * np.interp(t, [0, 30, 60, 90], [1.0, 0.3, 2.5, 0.6])
    raise ValueError(kind)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["inverted", "wander", "mains", "white", "amplitude"])
def test_ecg_detector_robust_to_perturbations(kind):
    """Perturbed 1 kHz ECG: at least neurokit2's offline accuracy on the same signal."""
    x, fs = _load("ant_aux2")
    x = x[: int(90 * fs)]
    ref = _nk_peaks(x, fs)  # on the clean signal
    y = _perturbed(kind, x, fs, np.random.default_rng(5))
    det = feed(EcgBeatDetector(fs=fs), y, fixed(102))
    se, ppv = _score(ref, det, 2.0, 89.5)
    nk_se, nk_ppv = _score(ref, _nk_peaks(y, fs), 2.0, 89.5)
    print(f"{kind}: stream se {se:.3f} ppv {ppv:.3f}; neurokit2 se {nk_se:.3f} ppv {nk_ppv:.3f}")
    assert se >= min(0.98, nk_se) and ppv >= min(0.98, nk_ppv)


# ----------------------------------------------------------------------- PPG


@pytest.mark.parametrize("which", ["biosppy_1000hz", "neurokit2_100hz"])
def test_ppg_detector_matches_neurokit(which):
    nk = pytest.importorskip("neurokit2")
    if which == "biosppy_1000hz":
        x, fs = np.loadtxt(DATA / "biosppy" / "ppg.txt"), 1000.0
    else:
        x, fs = _csv("bio_resting_5min_100hz.csv", "PPG"), 100.0
    ref = np.asarray(
        nk.ppg_peaks(nk.ppg_clean(x, sampling_rate=fs), sampling_rate=fs)[1]["PPG_Peaks"]
    )
    ref = ref / fs
    whole = feed(PpgPulseDetector(fs=fs), x, [x.size])
    for sizes in (fixed(1), fixed(7), fixed(256), random_sizes(3, int(fs))):
        np.testing.assert_array_equal(feed(PpgPulseDetector(fs=fs), x, sizes), whole)
    se, ppv = _score(ref, whole, 1.5, x.size / fs - 1.0, tol=0.05)
    assert se >= 0.97 and ppv >= 0.97
    hr_ref = 60.0 / np.mean(np.diff(ref))
    assert 60.0 / np.mean(np.diff(whole)) == pytest.approx(hr_ref, abs=1.0)
    # matched intervals agree beat by beat
    r = ref[(ref > 1.5) & (ref < x.size / fs - 1.0)]
    j = np.clip(np.searchsorted(whole, r), 1, whole.size - 1)
    m = np.where(np.abs(whole[j] - r) < np.abs(whole[j - 1] - r), whole[j], whole[j - 1])
    assert np.median(np.abs(np.diff(m) - np.diff(r))) < 0.02


# ----------------------------------------------------------------------- known truth
#
# Synthetic ECG built from known beat times, so the truth is exact: sinus beats are
# Gaussian P-Q-R-S-T waves (ECGSYN-like, McSharry et al. 2003), premature ventricular
# beats are wide (QRS sd 35 ms, ~140 ms wide), have no P wave and a discordant T wave,
# come at 50-65 % of the sinus interval and are followed by a full compensatory pause.


def _rhythm(kind: str, dur_s: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Beat times (s) and kinds (0 sinus, 1 PVC) of a sinus rhythm with RSA.

    ``kind``: ``sinus``; ``pvc`` (12 % of beats premature); ``bigeminy`` (every second
    beat); ``trigeminy`` (every third); ``couplets`` (pairs of PVCs after 20 % of sinus beats).
    """
    t, times, kinds = 0.5, [], []
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


def _synth_ecg(times, kinds, fs: float, dur_s: float, rng, pvc_sign: float = 1.0):
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


def _motion_bursts(x, fs: float, rng, n_bursts: int) -> tuple[np.ndarray, list]:
    """Add bursts (0.5-2 s) of 1-25 Hz noise with 0.6 mV RMS (electrode motion)."""
    import scipy.signal

    sos = scipy.signal.butter(2, [1.0, 25.0], btype="bandpass", fs=fs, output="sos")
    y, spans = x.copy(), []
    for _ in range(n_bursts):
        m = int(rng.uniform(0.5, 2.0) * fs)
        s0 = int(rng.integers(int(3 * fs), x.size - m))
        w = scipy.signal.sosfilt(sos, rng.normal(0, 1, m + int(fs)))[int(fs) :]
        y[s0 : s0 + m] += w * (0.6 / w.std()) * np.hanning(m) ** 0.3
        spans.append((s0 / fs, (s0 + m) / fs))
    return y, spans


def _detect(x: np.ndarray, fs: float) -> tuple[np.ndarray, float]:
    det = EcgBeatDetector(fs=fs)
    return feed(det, x, fixed(round(0.1 * fs))), det.delay_s


@pytest.mark.parametrize("fs", [250.0, 360.0])
@pytest.mark.parametrize("pvc_sign", [1.0, -1.0])
@pytest.mark.parametrize("rhythm", ["pvc", "bigeminy"])
def test_ecg_detector_on_premature_beats_and_bigeminy(rhythm, pvc_sign, fs):
    """Wide premature beats (either polarity) with compensatory pauses, vs the truth."""
    rng = np.random.default_rng(7)
    times, kinds = _rhythm(rhythm, 120.0, rng)
    x = _synth_ecg(times, kinds, fs, 120.0, rng, pvc_sign=pvc_sign)
    det, delay_s = _detect(x, fs)
    se, ppv = _score(times, det, 2.0, 120.0 - delay_s)
    pvc_se, _ = _score(times[kinds == 1], det, 2.0, 120.0 - delay_s)
    print(f"{rhythm} sign {pvc_sign:+.0f} {fs:.0f} Hz: se {se:.4f} ppv {ppv:.4f} PVC se {pvc_se}")
    assert (kinds == 1).sum() >= (10 if rhythm == "pvc" else 40)
    assert se >= 0.99 and ppv >= 0.99
    assert pvc_se >= 0.99  # the premature beats themselves, at their main deflection


@pytest.mark.parametrize("fs", [250.0, 360.0])
def test_ecg_detector_with_motion_noise_bursts(fs):
    """Electrode-motion bursts: clean stretches stay exact, bursts do not derail it."""
    rng = np.random.default_rng(8)
    times, kinds = _rhythm("pvc", 120.0, rng)
    x, spans = _motion_bursts(_synth_ecg(times, kinds, fs, 120.0, rng), fs, rng, 8)
    det, delay_s = _detect(x, fs)
    t1 = 120.0 - delay_s
    se, ppv = _score(times, det, 2.0, t1)

    def clear(t):  # farther than 0.5 s from any burst
        return np.array([all(v < a - 0.5 or v > b + 0.5 for a, b in spans) for v in t], bool)

    se_clear, _ = _score(times[clear(times)], det, 2.0, t1)
    _, ppv_clear = _score(times, det[clear(det)], 2.0, t1)
    print(f"{fs:.0f} Hz: overall se {se:.3f} ppv {ppv:.3f}; clear se {se_clear} ppv {ppv_clear}")
    assert se_clear == 1.0 and ppv_clear == 1.0  # recovers right after every burst
    # ~10 s of 0.6 mV bursts in 120 s; neurokit2 offline on the same signal. Measured:
    # 250 Hz se 0.932 ppv 0.945 (neurokit2 0.939 0.972), 360 Hz 0.918 0.951 (0.925 0.958)
    nk_se, nk_ppv = _score(times, _nk_peaks(x, fs), 2.0, t1)
    print(f"  neurokit2 se {nk_se:.3f} ppv {nk_ppv:.3f}")
    assert se >= max(0.9, nk_se - 0.01)
    assert ppv >= max(0.88, nk_ppv - 0.04)  # open gap: PPV inside the bursts


@pytest.mark.parametrize("seed", [1, 3])
def test_ecg_detector_on_simulated_listener_with_ectopy(seed):
    """The simulator's ECG with 5 % ectopic, missed and extra beats, vs its beat times."""
    from sensors.simulate import ListenerTraits, SimulatedListener

    sim = SimulatedListener(seed=seed, traits=ListenerTraits(ectopic_rate=0.05), ecg_fs=250.0)
    src = next(s for s in sim.sources() if s.info.kind == "ecg")
    det = EcgBeatDetector(fs=250.0)
    chunks = [src.pull(0.1 * k) for k in range(1, 1201)]  # 0.1 s chunks, 120 s
    got = np.concatenate([det.update(c.data[0], c.timestamps) for c in chunks])
    truth, kinds = sim.beat_times(120.0), sim.beat_kinds(120.0)
    se, ppv = _score(truth, got, 2.0, 120.0 - det.delay_s)
    assert np.count_nonzero(kinds == 1) >= 2
    assert se >= 0.99 and ppv >= 0.99


def test_ecg_detector_chunked_equals_whole_on_ectopy_and_noise():
    """Look-ahead, search-back and discordant beats decide the same in any chunking."""
    rng = np.random.default_rng(9)
    fs = 250.0
    times, kinds = _rhythm("pvc", 60.0, rng)
    x, _ = _motion_bursts(_synth_ecg(times, kinds, fs, 60.0, rng, pvc_sign=-1.0), fs, rng, 4)
    whole = feed(EcgBeatDetector(fs=fs), x, [x.size])
    assert whole.size > 60
    for sizes in (fixed(1), fixed(7), fixed(256), random_sizes(2, int(fs))):
        np.testing.assert_array_equal(feed(EcgBeatDetector(fs=fs), x, sizes), whole)


# ----------------------------------------------------------------------- noise vs neurokit2
#
# Realistic noise with known truth, each type against neurokit2 (``ecg_clean`` +
# ``ecg_peaks`` offline on the whole noisy signal), scored on the same beats.


def _noise(kind: str, x: np.ndarray, fs: float, rng, snr_db: float = 6.0) -> np.ndarray:
    """Add one type of realistic ECG noise (x in mV) and return the noisy signal.

    ``motion_band``: bursts of 3-10 s, one per 30 s, of 0.5-20 Hz electrode-motion noise
    (0.6 mV RMS); ``motion_broad``: the same bursts of broadband noise (0.4 mV RMS);
    ``pops``: 20 electrode pops (0.5-2 mV steps decaying with 0.3 s); ``emg``: 20-150 Hz
    muscle noise at ``snr_db`` (power relative to the ECG), 2.5 times stronger in
    periodic contractions; ``wander``: respiratory and drifting baseline (~1 mV);
    ``mix``: all of them together.
    """
    import scipy.signal

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
            y = _noise(k, y, fs, rng, snr_db)
    else:
        raise ValueError(kind)
    return y


def _noisy_record(kind: str, rhythm: str, snr_db: float, fs: float, seed: int, dur: float):
    rng = np.random.default_rng(seed)
    times, kinds = _rhythm(rhythm, dur, rng)
    return times, _noise(kind, _synth_ecg(times, kinds, fs, dur, rng), fs, rng, snr_db)


@functools.cache
def _vs_neurokit(kind: str, rhythm: str, snr_db: float) -> tuple[float, float, float, float]:
    """Mean (se, ppv) of the streaming detector and of neurokit2 over four records."""
    out = []
    for fs in (250.0, 360.0):
        for seed in (1, 2):
            times, y = _noisy_record(kind, rhythm, snr_db, fs, seed, 120.0)
            det, delay_s = _detect(y, fs)
            t1 = 120.0 - delay_s
            out.append((*_score(times, det, 2.0, t1), *_score(times, _nk_peaks(y, fs), 2.0, t1)))
    se, ppv, nk_se, nk_ppv = np.mean(out, axis=0)
    print(
        f"{kind} {rhythm} {snr_db} dB: ours se {se:.3f} ppv {ppv:.3f}; "
        f"neurokit2 se {nk_se:.3f} ppv {nk_ppv:.3f}"
    )
    return se, ppv, nk_se, nk_ppv


# (noise, rhythm, SNR dB for EMG, allowed shortfall vs neurokit2 in se and in PPV).
# Measured (ours / neurokit2, se/PPV, seeds 1-2 at 250 and 360 Hz): motion_broad
# 0.993/0.993 vs 0.991/0.993; pops 0.976/0.998 vs 0.968/0.937; emg pvc 0.998/0.998 vs
# 1.000/0.992; emg bigeminy 0.993/0.961 vs 0.905/0.915; wander 0.998/0.998 vs
# 1.000/1.000; motion_band 0.886/0.956 vs 0.872/0.952; mix bigeminy 0.866/0.899 vs
# 0.857/0.910; mix pvc 0.864/0.919 vs 0.845/0.895. Held out (seeds 3-6, not tuned on):
# mean over the eight cases 0.934/0.957 vs neurokit2 0.920/0.950; motion_band
# 0.849/0.930 vs 0.840/0.947, mix bigeminy 0.839/0.895 vs 0.838/0.902.
# 0.01 where the goal is reached; a larger value is the measured open gap, stated
# honestly (PPV inside 0.5-20 Hz motion bursts, which overlap the QRS band).
_GOAL = 0.01
NOISE_CASES = [
    ("motion_broad", "pvc", 6.0, _GOAL, _GOAL),
    ("pops", "sinus", 6.0, _GOAL, _GOAL),
    ("emg", "pvc", 0.0, _GOAL, _GOAL),
    ("emg", "bigeminy", -3.0, _GOAL, _GOAL),
    ("wander", "bigeminy", 6.0, _GOAL, _GOAL),
    ("motion_band", "pvc", 6.0, _GOAL, _GOAL),
    ("mix", "bigeminy", 6.0, _GOAL, 0.015),
    ("mix", "pvc", 3.0, _GOAL, _GOAL),
]


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "rhythm", "snr_db", "tol_se", "tol_ppv"), NOISE_CASES)
def test_ecg_detector_vs_neurokit_under_noise(kind, rhythm, snr_db, tol_se, tol_ppv):
    """At least neurokit2's offline accuracy minus the stated shortfall, per noise type."""
    se, ppv, nk_se, nk_ppv = _vs_neurokit(kind, rhythm, snr_db)
    assert se >= nk_se - tol_se
    assert ppv >= nk_ppv - tol_ppv


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="open gap vs neurokit2, see NOISE_CASES")
@pytest.mark.parametrize(
    ("kind", "rhythm", "snr_db"), [c[:3] for c in NOISE_CASES if max(c[3:]) > _GOAL]
)
def test_ecg_detector_reaches_neurokit_under_noise(kind, rhythm, snr_db):
    """The goal (neurokit2 minus 0.01) where it is not reached yet; passes once it is."""
    se, ppv, nk_se, nk_ppv = _vs_neurokit(kind, rhythm, snr_db)
    assert se >= nk_se - _GOAL and ppv >= nk_ppv - _GOAL


@pytest.mark.parametrize("pvc_sign", [1.0, -1.0])
@pytest.mark.parametrize(
    ("rhythm", "noise"), [("bigeminy", "emg"), ("trigeminy", "emg"), ("couplets", "motion_broad")]
)
def test_ecg_detector_keeps_premature_beats_in_noise(rhythm, noise, pvc_sign):
    """PVC-rich rhythms in noise: wide ectopic beats unlike the sinus template stay found.

    A QRS-likeness score built on running sinus templates could reject premature
    ventricular beats in noisy stretches; their sensitivity must not collapse. Muscle
    noise at 6 dB SNR (2.5 times stronger in contractions) or broadband motion bursts.
    Measured (250 Hz, seed 3): se 0.986-1.0, PPV 0.986-1.0, PVC se 0.917-1.0.
    """
    fs, dur = 250.0, 60.0
    rng = np.random.default_rng(3)
    times, kinds = _rhythm(rhythm, dur, rng)
    y = _noise(noise, _synth_ecg(times, kinds, fs, dur, rng, pvc_sign=pvc_sign), fs, rng, 6.0)
    det, delay_s = _detect(y, fs)
    se, ppv = _score(times, det, 2.0, dur - delay_s)
    pvc_se, _ = _score(times[kinds == 1], det, 2.0, dur - delay_s)
    print(f"{rhythm} {noise} sign {pvc_sign:+.0f}: se {se:.3f} ppv {ppv:.3f} PVC se {pvc_se:.3f}")
    assert (kinds == 1).sum() >= 8
    assert se >= 0.97 and ppv >= 0.97
    assert pvc_se >= 0.9


def test_ecg_detector_chunked_equals_whole_on_mixed_noise():
    """Noise gating, QRS evidence and their buffer history decide the same in any chunking."""
    fs = 250.0
    times, y = _noisy_record("mix", "bigeminy", 3.0, fs, 4, 60.0)
    whole = feed(EcgBeatDetector(fs=fs), y, [y.size])
    assert whole.size > 50
    for sizes in (fixed(1), fixed(7), fixed(256), random_sizes(5, int(fs))):
        np.testing.assert_array_equal(feed(EcgBeatDetector(fs=fs), y, sizes), whole)


def test_detectors_reject_bad_fs():
    with pytest.raises(ValueError, match="fs"):
        EcgBeatDetector(fs=50.0)
    with pytest.raises(ValueError, match="fs"):
        PpgPulseDetector(fs=10.0)
