"""Beat detectors on real recordings (vs neurokit2) and on synthetic perturbations."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from chunking import feed, fixed, random_sizes

import attune.benchmarks.noisy_ecg as necg
from attune.benchmarks.bench_beats_noise import (
    CASES,
    SEEDS,
    compare,
    neurokit_peaks,
    streaming_peaks,
)
from attune.engine.heartbeats import EcgBeatDetector, PpgPulseDetector

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
    ref = neurokit_peaks(x, fs)
    det = feed(EcgBeatDetector(fs=fs), x, fixed(round(0.1 * fs)))
    # first 2 s excluded (learning); a beat in the last delay_s cannot be decided yet
    se, ppv = necg.score(ref, det, 2.0, x.size / fs - EcgBeatDetector(fs=fs).delay_s)
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
    ref = neurokit_peaks(x, fs)  # on the clean signal
    y = _perturbed(kind, x, fs, np.random.default_rng(5))
    det = feed(EcgBeatDetector(fs=fs), y, fixed(102))
    se, ppv = necg.score(ref, det, 2.0, 89.5)
    nk_se, nk_ppv = necg.score(ref, neurokit_peaks(y, fs), 2.0, 89.5)
    print(f"{kind}: stream se {se:.3f} ppv {ppv:.3f}; neurokit2 se {nk_se:.3f} ppv {nk_ppv:.3f}")
    assert se >= min(0.98, nk_se) and ppv >= min(0.98, nk_ppv)


# ----------------------------------------------------------------------- PPG


@pytest.mark.parametrize(
    "which", ["biosppy_1000hz", pytest.param("neurokit2_100hz", marks=pytest.mark.slow)]
)
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
    se, ppv = necg.score(ref, whole, 1.5, x.size / fs - 1.0, tol_s=0.05)
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


@pytest.mark.parametrize("fs", [250.0, 360.0])
@pytest.mark.parametrize("pvc_sign", [1.0, -1.0])
@pytest.mark.parametrize("rhythm", ["pvc", "bigeminy"])
def test_ecg_detector_on_premature_beats_and_bigeminy(rhythm, pvc_sign, fs):
    """Wide premature beats (either polarity) with compensatory pauses, vs the truth."""
    rng = np.random.default_rng(7)
    times, kinds = necg.make_rhythm(rhythm, 120.0, rng)
    x = necg.synth_ecg(times, kinds, fs, 120.0, rng, pvc_sign=pvc_sign)
    det, delay_s = streaming_peaks(x, fs)
    se, ppv = necg.score(times, det, 2.0, 120.0 - delay_s)
    pvc_se, _ = necg.score(times[kinds == 1], det, 2.0, 120.0 - delay_s)
    print(f"{rhythm} sign {pvc_sign:+.0f} {fs:.0f} Hz: se {se:.4f} ppv {ppv:.4f} PVC se {pvc_se}")
    assert (kinds == 1).sum() >= (10 if rhythm == "pvc" else 40)
    assert se >= 0.99 and ppv >= 0.99
    assert pvc_se >= 0.99  # the premature beats themselves, at their main deflection


@pytest.mark.parametrize("fs", [250.0, 360.0])
def test_ecg_detector_with_motion_noise_bursts(fs):
    """Electrode-motion bursts: clean stretches stay exact, bursts do not derail it."""
    rng = np.random.default_rng(8)
    times, kinds = necg.make_rhythm("pvc", 120.0, rng)
    x, spans = necg.motion_bursts(necg.synth_ecg(times, kinds, fs, 120.0, rng), fs, rng, 8)
    det, delay_s = streaming_peaks(x, fs)
    t1 = 120.0 - delay_s
    se, ppv = necg.score(times, det, 2.0, t1)

    def clear(t):  # farther than 0.5 s from any burst
        return np.array([all(v < a - 0.5 or v > b + 0.5 for a, b in spans) for v in t], bool)

    se_clear, _ = necg.score(times[clear(times)], det, 2.0, t1)
    _, ppv_clear = necg.score(times, det[clear(det)], 2.0, t1)
    print(f"{fs:.0f} Hz: overall se {se:.3f} ppv {ppv:.3f}; clear se {se_clear} ppv {ppv_clear}")
    assert se_clear == 1.0 and ppv_clear == 1.0  # recovers right after every burst
    # ~10 s of 0.6 mV bursts in 120 s; neurokit2 offline on the same signal. Measured:
    # 250 Hz se 0.932 ppv 0.945 (neurokit2 0.939 0.972), 360 Hz 0.939 0.958 (0.925 0.958)
    nk_se, nk_ppv = necg.score(times, neurokit_peaks(x, fs), 2.0, t1)
    print(f"  neurokit2 se {nk_se:.3f} ppv {nk_ppv:.3f}")
    assert se >= max(0.9, nk_se - 0.01)
    assert ppv >= max(0.88, nk_ppv - 0.04)  # open gap: PPV inside the bursts


@pytest.mark.parametrize("seed", [1, 3])
def test_ecg_detector_on_simulated_listener_with_ectopy(seed):
    """The simulator's ECG with 5 % ectopic, missed and extra beats, vs its beat times."""
    from attune.sensors.simulated_listener import ListenerTraits, SimulatedListener

    sim = SimulatedListener(seed=seed, traits=ListenerTraits(ectopic_rate=0.05), ecg_fs=250.0)
    src = next(s for s in sim.sources() if s.info.kind == "ecg")
    det = EcgBeatDetector(fs=250.0)
    chunks = [src.pull(0.1 * k) for k in range(1, 1201)]  # 0.1 s chunks, 120 s
    got = np.concatenate([det.update(c.data[0], c.timestamps) for c in chunks])
    truth, kinds = sim.beat_times(120.0), sim.beat_kinds(120.0)
    se, ppv = necg.score(truth, got, 2.0, 120.0 - det.delay_s)
    assert np.count_nonzero(kinds == 1) >= 2
    assert se >= 0.99 and ppv >= 0.99


def test_ecg_detector_chunked_equals_whole_on_ectopy_and_noise():
    """Look-ahead, search-back and discordant beats decide the same in any chunking."""
    rng = np.random.default_rng(9)
    fs = 250.0
    times, kinds = necg.make_rhythm("pvc", 60.0, rng)
    x, _ = necg.motion_bursts(
        necg.synth_ecg(times, kinds, fs, 60.0, rng, pvc_sign=-1.0), fs, rng, 4
    )
    whole = feed(EcgBeatDetector(fs=fs), x, [x.size])
    assert whole.size > 60
    for sizes in (fixed(1), fixed(7), fixed(256), random_sizes(2, int(fs))):
        np.testing.assert_array_equal(feed(EcgBeatDetector(fs=fs), x, sizes), whole)


# ----------------------------------------------------------------------- noise vs neurokit2
#
# Realistic noise with known truth, each type against neurokit2 (``ecg_clean`` +
# ``ecg_peaks`` offline on the whole noisy signal), scored on the same beats.


@functools.cache
def _vs_neurokit(kind: str, rhythm: str, snr_db: float) -> tuple[float, float, float, float]:
    """Mean (se, ppv) of the streaming detector and of neurokit2 over four records."""
    m = compare(kind, rhythm, snr_db, seeds=(1, 2))
    print(
        f"{kind} {rhythm} {snr_db} dB: ours se {m['se']:.3f} ppv {m['ppv']:.3f}; "
        f"neurokit2 se {m['nk_se']:.3f} ppv {m['nk_ppv']:.3f}"
    )
    return m["se"], m["ppv"], m["nk_se"], m["nk_ppv"]


# Measured (ours / neurokit2, se/PPV, seeds 1-2 at 250 and 360 Hz): motion_broad
# 0.995/0.993 vs 0.991/0.993; pops 0.986/0.998 vs 0.968/0.937; emg pvc 1.000/1.000 vs
# 1.000/0.992; emg bigeminy 0.993/0.961 vs 0.905/0.915; wander bigeminy 1.000/1.000 vs
# 1.000/1.000; motion_band 0.893/0.954 vs 0.872/0.952; mix bigeminy 0.883/0.910 vs
# 0.857/0.910; mix pvc 0.862/0.914 vs 0.845/0.895; emg trigeminy 1.000/0.993 vs
# 0.997/0.974; wander trigeminy 1.000/1.000 both; mix trigeminy 0.861/0.907 vs
# 0.842/0.884. Held out (seeds 3-6, not tuned on): mean over the eleven cases
# 0.945/0.964 vs neurokit2 0.927/0.951.
_GOAL = 0.01  #: allowed shortfall vs neurokit2 in sensitivity and in PPV


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "rhythm", "snr_db"), CASES)
def test_ecg_detector_vs_neurokit_under_noise(kind, rhythm, snr_db):
    """At least neurokit2's offline sensitivity and PPV minus 0.01, per noise type."""
    se, ppv, nk_se, nk_ppv = _vs_neurokit(kind, rhythm, snr_db)
    assert se >= nk_se - _GOAL
    assert ppv >= nk_ppv - _GOAL


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "rhythm", "snr_db"), [c for c in CASES if c[1] in ("bigeminy", "trigeminy")]
)
def test_ecg_detector_f1_reaches_neurokit_on_bigeminy_and_trigeminy(kind, rhythm, snr_db):
    """Issue 15: beat F1 >= neurokit2's on every bigeminy and trigeminy case of the
    benchmark's default run (``python -m attune.benchmarks.bench_beats_noise``, seeds 3-6).

    Measured F1 (ours / neurokit2): emg bigeminy 0.9696 / 0.9099, wander bigeminy
    1.0000 / 0.9992, mix bigeminy 0.8821 / 0.8688, emg trigeminy 0.9966 / 0.9807,
    wander trigeminy 1.0000 / 1.0000, mix trigeminy 0.8816 / 0.8655.
    """
    m = compare(kind, rhythm, snr_db, seeds=SEEDS)
    print(f"{kind} {rhythm} {snr_db} dB: F1 {m['f1']:.4f}, neurokit2 {m['nk_f1']:.4f}")
    assert m["f1"] >= m["nk_f1"]


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
    times, kinds = necg.make_rhythm(rhythm, dur, rng)
    y = necg.add_noise(
        noise, necg.synth_ecg(times, kinds, fs, dur, rng, pvc_sign=pvc_sign), fs, rng, 6.0
    )
    det, delay_s = streaming_peaks(y, fs)
    se, ppv = necg.score(times, det, 2.0, dur - delay_s)
    pvc_se, _ = necg.score(times[kinds == 1], det, 2.0, dur - delay_s)
    print(f"{rhythm} {noise} sign {pvc_sign:+.0f}: se {se:.3f} ppv {ppv:.3f} PVC se {pvc_se:.3f}")
    assert (kinds == 1).sum() >= 8
    assert se >= 0.97 and ppv >= 0.97
    assert pvc_se >= 0.9


def test_ecg_detector_chunked_equals_whole_on_mixed_noise():
    """Noise gating, QRS evidence and their buffer history decide the same in any chunking."""
    fs = 250.0
    _, _, y = necg.noisy_record("mix", "bigeminy", 3.0, fs, 4, 60.0)
    whole = feed(EcgBeatDetector(fs=fs), y, [y.size])
    assert whole.size > 50
    for sizes in (fixed(1), fixed(7), fixed(256), random_sizes(5, int(fs))):
        np.testing.assert_array_equal(feed(EcgBeatDetector(fs=fs), y, sizes), whole)


def test_detectors_reject_bad_fs():
    with pytest.raises(ValueError, match="fs"):
        EcgBeatDetector(fs=50.0)
    with pytest.raises(ValueError, match="fs"):
        PpgPulseDetector(fs=10.0)
