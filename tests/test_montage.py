from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attune.engine.eeg import EEGStage
from attune.sensors.montage import BIOSEMI64, classify_channels, position_name
from attune.sensors.types import Chunk, StreamInfo

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("label", "kind", "pos"),
    [
        ("FP1", "eeg", "Fp1"),
        ("fpz", "eeg", "Fpz"),
        ("CZ", "eeg", "Cz"),
        ("T3", "eeg", "T7"),
        ("EEG T6", "eeg", "P8"),
        ("EEG Fpz-Cz", "eeg", "Fpz"),
        ("EEG Pz-Oz", "eeg", "Pz"),
        ("EEG Fp1-REF", "eeg", "Fp1"),
        ("F3 (LE)", "eeg", "F3"),
        ("TP9", "eeg", "TP9"),
        ("RAW_AF7", "eeg", "AF7"),
        ("RAW_TP10", "eeg", "TP10"),
        ("Alpha_AF7", "aux", None),
        ("Right AUX", "aux", None),
        ("AUX_RIGHT", "aux", None),
        ("Accelerometer_X", "aux", None),
        ("EEG 001", "eeg", None),
        ("EEG", "eeg", None),
        ("Ch7", "eeg", None),
        ("12", "eeg", None),
        ("EXG1", "exg", None),
        ("Status", "stim", None),
        ("TRIGGER", "stim", None),
        ("STI 014", "stim", None),
        ("DIG DTRIG", "stim", None),
        ("vEOG", "eog", None),
        ("EOG VEOG_I", "eog", None),
        ("ECG ECG1", "ecg", None),
        ("EKG", "ecg", None),
        ("EMG chin", "emg", None),
        ("REF_EEG REF_EEG", "ref", None),
        ("Resp", "aux", None),
        ("HeadBandOn", "aux", None),
        ("timestamps", "aux", None),
        ("foo", "other", None),
    ],
)
def test_labels(label, kind, pos):
    (c,) = classify_channels([label])
    assert (c.kind, c.position) == (kind, pos)


def test_biosemi_64_abc_layout_maps_to_10_10():
    import mne

    labels = [f"A{i}" for i in range(1, 33)] + [f"B{i}" for i in range(1, 33)]
    labels += [f"EXG{i}" for i in range(1, 9)] + ["Status"]
    out = classify_channels(labels)
    mne_names = mne.channels.make_standard_montage("biosemi64").ch_names
    assert [c.position for c in out[:64]] == list(BIOSEMI64) == mne_names
    assert all(c.system == "biosemi" for c in out[:64])
    assert [c.kind for c in out[64:]] == ["exg"] * 8 + ["stim"]
    # 128-channel layout: recognised BioSemi positions without 10-10 names
    out = classify_channels([f"{c}{i}" for c in "ABCD" for i in range(1, 33)])
    assert all(c.kind == "eeg" and c.system == "biosemi" and c.position is None for c in out)
    # plain 10-20 sets with ear references are not BioSemi
    out = classify_channels(["C3", "C4", "A1", "A2", "F3"])
    assert [c.position for c in out] == ["C3", "C4", "A1", "A2", "F3"]
    # EGI numbering is not BioSemi
    assert all(c.system == "numbered" for c in classify_channels(["E1", "E2", "E33"]))
    assert position_name("Fp2") == "Fp2" and position_name("XYZ") is None


def test_muse_mind_monitor_names_feed_faa_and_rereference():
    fs = 256.0
    names = ("RAW_TP9", "RAW_AF7", "RAW_AF8", "RAW_TP10", "AUX_RIGHT")
    stage = EEGStage(fs=fs, channels=names)
    assert stage.eeg_channels == ("TP9", "AF7", "AF8", "TP10")
    assert stage._ref is not None and [p[:2] for p in stage._faa] == [("AF8", "AF7")]


def _read_mne(path: Path):
    import mne

    raw = mne.io.read_raw(path, preload=True, verbose="ERROR")
    return raw.get_data(), raw.info["sfreq"], tuple(raw.ch_names), "V"


def _read_xdf(path: Path):
    import pyxdf

    streams, _ = pyxdf.load_xdf(str(path))
    (s,) = [s for s in streams if s["info"]["type"][0].lower() == "eeg"]
    n = int(s["info"]["channel_count"][0])
    desc = s["info"]["desc"][0] if s["info"]["desc"] else None
    labels = None
    if desc and desc.get("channels"):
        labels = tuple(c["label"][0] for c in desc["channels"][0]["channel"])
    labels = labels or tuple(f"Ch{i + 1}" for i in range(n))  # no labels stored
    return np.asarray(s["time_series"], float).T, float(s["info"]["nominal_srate"][0]), labels, "au"


def _read_biosppy(path: Path):
    return np.loadtxt(path)[None, :], 125.0, ("EEG",), "au"


# file -> (reader, EEG channels expected by name)
FILES = {
    "eeg_mne/sample-eeg-ant-raw.fif": (_read_mne, 63),  # 61 10-10 + M1, M2; no EOG/ECG/trigger
    "eeg_mne/sample-ant-aux-raw.fif": (_read_mne, 0),  # AUX1-3 + TRIGGER: no EEG
    "eeg_mne/test.bdf": (_read_mne, 66),  # 64 + M1, M2; EXG/EOG/Status out
    "eeg_mne/test_bdf_stim_channel.bdf": (_read_mne, 3),
    "eeg_mne/test_edf_stim_channel.edf": (_read_mne, 19),
    "xdf/clock_resets.xdf": (_read_xdf, 8),
    "biosppy/eeg_ec.txt": (_read_biosppy, 1),
    "biosppy/eeg_eo.txt": (_read_biosppy, 1),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_eeg_file_runs_through_the_stage(name):
    """Must-show 3."""
    reader, n_eeg = FILES[name]
    x, fs, labels, units = reader(DATA / name)
    labs = classify_channels(labels)
    assert all(c.kind != "other" for c in labs), [c.label for c in labs if c.kind == "other"]
    stage = EEGStage(fs=fs, channels=labels)
    assert len(stage.eeg_channels) == n_eeg
    info = StreamInfo(name, "eeg", fs, labels, units)
    step = max(1, int(0.25 * fs))
    ts = np.arange(x.shape[1]) / fs
    for i in range(0, x.shape[1], step):
        f = stage.update(Chunk(info, x[:, i : i + step], ts[i : i + step]))
    assert f.band_power.shape == (n_eeg, 5)
    feats = f.as_features()
    if n_eeg and x.shape[1] >= stage.nperseg:
        assert f.n_segments >= 1
        assert all(v is None or np.isfinite(v) for v in feats.values())
    else:
        assert all(v is None for v in feats.values())
    print(name, f"{fs} Hz", x.shape, "EEG:", n_eeg, "quality", feats["eeg_quality"])
