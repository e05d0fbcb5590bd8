from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.signal

from engine.eeg import DEFAULT_BANDS, EEGFeatures, EEGStage
from sensors.types import Chunk, StreamInfo

DATA = Path(__file__).parent / "data"
MUSE = ("TP9", "AF7", "AF8", "TP10")


def _feed(
    stage: EEGStage, info: StreamInfo, x: np.ndarray, sizes, t0: float = 0.0, every: bool = False
):
    ts = t0 + np.arange(x.shape[1]) / info.fs
    out: list[EEGFeatures] = []
    i = 0
    for n in sizes:
        if i >= x.shape[1]:
            break
        f = stage.update(Chunk(info, x[:, i : i + n], ts[i : i + n]))
        if every:
            out.append(f)
        i += n
    return out if every else f


def _random_sizes(seed: int, hi: int):
    rng = np.random.default_rng(seed)
    while True:
        yield int(rng.integers(1, hi))


def _fixed(n: int):
    while True:
        yield n


def _window_bounds(stage: EEGStage) -> tuple[int, int]:
    """Sample range [start, end) of the window of the newest completed segments."""
    end = (stage._n_seg - 1) * stage.hop + stage.nperseg
    k = min(stage._n_seg, stage.n_window)
    return end - ((k - 1) * stage.hop + stage.nperseg), end


@pytest.mark.parametrize("fs", [256.0, 125.0])
def test_cached_segments_equal_scipy_welch(fs):
    rng = np.random.default_rng(0)
    chans = ("C3", "C4", "Pz")
    x = rng.normal(0, 10, (3, int(23.3 * fs)))
    x[1] += 20 * np.sin(2 * np.pi * 10 * np.arange(x.shape[1]) / fs)  # alpha
    info = StreamInfo("eeg", "eeg", fs, chans, "uV")
    stage = EEGStage(fs=fs, channels=chans)
    sizes = _random_sizes(1, int(fs))
    ts = np.arange(x.shape[1]) / fs
    i = checked = 0
    while i < x.shape[1]:
        n = next(sizes)
        feats = stage.update(Chunk(info, x[:, i : i + n], ts[i : i + n]))
        i += n
        if stage._n_seg >= stage.n_window and (checked == 0 or i >= x.shape[1] or n % 5 == 0):
            start, end = _window_bounds(stage)
            f_ref, p_ref = scipy.signal.welch(
                x[:, start:end],
                fs=fs,
                window="hann",
                nperseg=stage.nperseg,
                noverlap=stage.noverlap,
                detrend="constant",
                scaling="density",
            )
            f, p = stage.psd()
            np.testing.assert_allclose(f, f_ref)
            np.testing.assert_allclose(p, p_ref, rtol=1e-9, atol=0)
            # band power = density integrated over the band bins
            lo, hi = DEFAULT_BANDS["alpha"]
            m = (f_ref >= lo) & (f_ref < hi)
            alpha_ref = p_ref[:, m].sum(axis=1) * (f_ref[1] - f_ref[0])
            np.testing.assert_allclose(
                feats.band_power[:, stage.bands.index("alpha")], alpha_ref, rtol=1e-9
            )
            checked += 1
    assert checked >= 3
    assert stage.n_window == 3 and feats.n_segments == 3 and feats.coverage_s == 4.0
    assert feats.clean_fraction == 1.0


def test_nothing_before_first_segment():
    info = StreamInfo("eeg", "eeg", 256.0, ("Cz",), "uV")
    stage = EEGStage(fs=256.0, channels=("Cz",))
    x = np.random.default_rng(0).normal(0, 10, (1, 511))
    f = _feed(stage, info, x, _fixed(64))
    assert f.n_segments == 0
    assert all(v is None for v in f.as_features().values())
    f = stage.update(Chunk(info, np.zeros((1, 1)) + 3.0, np.array([2.0])))
    assert f.n_segments == 1
    feats = f.as_features()
    assert all(v is not None and np.isfinite(v) for k, v in feats.items() if k != "faa")
    assert feats["faa"] is None


def _relative_alpha(name: str) -> float:
    x = np.loadtxt(DATA / "biosppy" / f"{name}.txt")[None, :]
    fs = 125.0
    info = StreamInfo(name, "eeg", fs, ("EEG",), "au")
    # raw ADC units of unknown scale: amplitude rules off, only the flat rule
    stage = EEGStage(fs=fs, channels=("EEG",), max_abs_uv=None, max_ptp_uv=None)
    feats = _feed(stage, info, x, _fixed(int(0.25 * fs)), every=True)
    rel = [f.band_power[0, 2] / f.band_power[0].sum() for f in feats if f.n_segments == 3]
    return float(np.median(rel))


def test_eyes_closed_has_more_relative_alpha():
    closed, opened = _relative_alpha("eeg_ec"), _relative_alpha("eeg_eo")
    print(f"relative alpha: eyes closed {closed:.3f}, eyes open {opened:.3f}")
    assert closed > 1.5 * opened


def _muse_signal(
    right_alpha: float, left_alpha: float, seconds: float = 20.0, fs: float = 256.0, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    x = rng.normal(0, 5, (4, n))
    x[1] += left_alpha * np.sin(2 * np.pi * 10 * t)
    x[2] += right_alpha * np.sin(2 * np.pi * 10 * t + 1.0)
    common = 15 * np.sin(2 * np.pi * 10 * t + 2.0)  # reference alpha seen by all sites
    x += common
    return x


def test_faa_sign_follows_the_side_with_more_alpha():
    fs = 256.0
    info = StreamInfo("muse", "eeg", fs, MUSE, "uV")
    right = _feed(EEGStage(fs=fs, channels=MUSE), info, _muse_signal(20.0, 5.0), _fixed(64))
    left = _feed(EEGStage(fs=fs, channels=MUSE), info, _muse_signal(5.0, 20.0), _fixed(64))
    assert right.faa is not None and right.faa > 0.5
    assert left.faa is not None and left.faa < -0.5
    # lower-case names work too
    lower = tuple(c.lower() for c in MUSE)
    info_l = StreamInfo("muse", "eeg", fs, lower, "uV")
    again = _feed(EEGStage(fs=fs, channels=lower), info_l, _muse_signal(20.0, 5.0), _fixed(64))
    assert again.faa == pytest.approx(right.faa)


def test_muse_rereference_to_mastoids():
    fs = 256.0
    x = _muse_signal(20.0, 5.0)
    info = StreamInfo("muse", "eeg", fs, MUSE, "uV")
    stage = EEGStage(fs=fs, channels=MUSE)
    _feed(stage, info, x, _random_sizes(2, 100))
    y = x.copy()
    y[1:3] -= x[[0, 3]].mean(axis=0)
    start, end = _window_bounds(stage)
    _, p_ref = scipy.signal.welch(
        y[:, start:end], fs=fs, nperseg=stage.nperseg, noverlap=stage.noverlap
    )
    np.testing.assert_allclose(stage.psd()[1], p_ref, rtol=1e-9)
    # without re-referencing the common alpha stays in AF7
    plain = EEGStage(fs=fs, channels=MUSE, reference=())
    _feed(plain, info, x, _fixed(64))
    assert plain.psd()[1][1, 20] > 2 * stage.psd()[1][1, 20]


def test_pop_artifact_is_flagged_and_left_out():
    fs = 256.0
    chans = ("F3", "F4")
    rng = np.random.default_rng(7)
    x = rng.normal(0, 10, (2, int(12 * fs)))
    pop_at = int(6.0 * fs)
    x[0, pop_at : pop_at + 5] += 500.0  # electrode pop on F3
    info = StreamInfo("eeg", "eeg", fs, chans, "uV")
    stage = EEGStage(fs=fs, channels=chans)
    feats = _feed(stage, info, x, _fixed(64), every=True)
    ts_pop = pop_at / fs
    # segments [5, 7) and [6, 8) s hold the pop: in the window from t = 7 s until t = 11 s
    during = [f for f in feats if ts_pop + 1.0 <= f.t < ts_pop + 5.0 - 0.01]
    assert len(during) >= 15
    assert during and all(f.clean_fraction < 1.0 for f in during)
    f = during[0]  # window [3, 7) s: the pop sits mid-segment in [5, 7)
    assert np.all(np.isfinite(f.band_power))
    # F3's band power comes from its clean segments only: no 500 uV energy in it
    assert f.band_power[0].sum() < 3 * f.band_power[1].sum()
    assert f.as_features()["eeg_quality"] == f.clean_fraction
    assert feats[-1].clean_fraction == 1.0  # pop has left the window
    # with the rules disabled the pop dominates F3's power
    loose = EEGStage(fs=fs, channels=chans, max_abs_uv=None, max_ptp_uv=None)
    g = [h for h in _feed(loose, info, x, _fixed(64), every=True) if h.t == f.t][0]
    assert g.clean_fraction == 1.0
    assert g.band_power[0].sum() > 3 * g.band_power[1].sum()


def test_flat_channel_is_bad():
    fs = 128.0
    chans = ("F7", "F8")
    x = np.random.default_rng(3).normal(0, 10, (2, int(8 * fs)))
    x[1] = 0.01 * x[1] + 800.0  # flat (disconnected) channel with DC offset
    info = StreamInfo("eeg", "eeg", fs, chans, "uV")
    f = _feed(EEGStage(fs=fs, channels=chans), info, x, _fixed(32))
    assert f.clean_fraction == 0.5
    assert np.all(np.isnan(f.band_power[1])) and np.all(np.isfinite(f.band_power[0]))
    assert f.faa is None  # F8 has no clean data
    assert f.alpha_ln == pytest.approx(np.log(f.band_power[0, 2]))


def test_bad_configuration_is_reported():
    with pytest.raises(ValueError, match="window_s"):
        EEGStage(fs=256.0, channels=("Cz",), window_s=1.0)
    with pytest.raises(ValueError, match="reference"):
        EEGStage(fs=256.0, channels=("Cz", "Pz"), reference=("M1",))
    stage = EEGStage(fs=256.0, channels=("Cz",))
    with pytest.raises(ValueError, match="fs"):
        stage.update(
            Chunk(StreamInfo("e", "eeg", 250.0, ("Cz",), "uV"), np.zeros((1, 4)), np.arange(4.0))
        )
