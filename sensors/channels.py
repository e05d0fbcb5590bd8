"""What a channel is, from its label, its declared type and its unit.

Pure helpers shared by the file readers (:mod:`attune.sensors.readers`): classify a channel
label as EEG, ECG, PPG, RR, EOG, trigger or something Attune does not use, normalise
unit strings, and give the factor that converts a unit to Attune's unit for a kind
(EEG uV, ECG mV, RR ms, PPG arbitrary units).
"""

from __future__ import annotations

import re

#: Kinds a channel can be classified as. ``"stim"`` channels become marker streams,
#: ``"eog"`` and ``"misc"`` channels are left out unless asked for by name.
CHANNEL_KINDS = ("eeg", "ecg", "ppg", "rr", "eog", "stim", "misc")

#: Attune's unit for each stream kind.
UNITS = {"eeg": "uV", "ecg": "mV", "ppg": "au", "rr": "ms", "markers": ""}

# 10-20 / 10-10 / 10-5 electrode names (Fp1, AF7, TP10, Cz, POO9h, ...) and old names (T3).
_TEN_TWENTY = re.compile(
    r"^(FP|AF|F|FC|FT|C|CP|TP|T|P|PO|O|I|OI|CB|N|NZ|IZ|FFC|FCC|CCP|CPP|PPO|POO|AFF|AFP|FTT|TTP|TPP|OI)(Z|\d{1,2})H?$"
)
_BAND_POWER = {"DELTA", "THETA", "ALPHA", "BETA", "GAMMA", "HSI", "HSIPRECISION"}
_STIM = {"STATUS", "TRIGGER", "TRIG", "DTRIG", "STIM", "STI", "EVENT", "EVENTS", "MARKER"}
_STIM_TEXT = {"MARKERS", "ELEMENTS", "ANNOTATION", "ANNOTATIONS", "LABEL", "LABELS"}
_MISC = {
    "AUX", "EXG", "REF", "GND", "EMG", "RESP", "RSP", "EDA", "GSR", "TEMP", "ACC", "GYRO",
    "BATTERY", "PHOTOSENSOR", "SPO2", "HR", "HR_BPM", "BPM", "M1", "M2", "A1", "A2",
}  # fmt: skip


def _tokens(label: str) -> list[str]:
    return [t for t in re.split(r"[^A-Z0-9]+", label.upper()) if t]


def kind_from_label(label: str) -> str | None:
    """Guess what a channel is from its label.

    Parameters
    ----------
    label : str
        Channel or column label, e.g. ``"EEG Fp1"``, ``"RAW_TP9"``, ``"ecg_mV"``,
        ``"rr_ms"``, ``"Status"``, ``"Delta_TP9"``.

    Returns
    -------
    str or None
        One of :data:`CHANNEL_KINDS`, or None when the label says nothing (``"ch1"``,
        ``"E12"``): the caller then falls back on the declared type.

    Notes
    -----
    Band-power columns (``Delta_TP9``, ``Alpha_AF7`` of Mind Monitor) and horseshoe
    fit values (``HSI_TP9``) are ``"misc"``, not EEG. ``"stim"`` covers numeric trigger
    channels (``Status``, ``TRIGGER``, ``DIG DTRIG``) and text marker columns
    (``Elements``, ``Markers``).
    """
    toks = _tokens(label)
    if not toks:
        return None
    head = toks[0]
    if head in _BAND_POWER:
        return "misc"
    # Explicit type prefixes of EDF labels ("EEG Fp1", "ECG ECG1", "EOG VEOG_I").
    if any(t.startswith(("ECG", "EKG")) for t in toks):
        return "ecg"
    if any(t.startswith(("PPG", "PLETH", "BVP")) for t in toks):
        return "ppg"
    if any(t in {"RR", "RRI", "IBI", "NN"} for t in toks):
        return "rr"
    if any(t.endswith("EOG") for t in toks):
        return "eog"
    if any(t in _STIM or t in _STIM_TEXT or t.startswith(("TRIG", "STI")) for t in toks):
        return "stim"
    if any(t in _MISC or re.fullmatch(r"(AUX|EXG|EMG)\d*", t) for t in toks):
        return "misc"
    if "EEG" in toks or any(_TEN_TWENTY.match(t) for t in toks):
        return "eeg"
    return None


def kind_from_type(declared: str | None) -> str | None:
    """Map a declared stream or channel type (XDF ``type``, mne channel type) to a kind.

    Parameters
    ----------
    declared : str or None
        e.g. ``"EEG"``, ``"ECG"``, ``"PPG"``, ``"RR"``, ``"HRV"``, ``"Markers"``,
        ``"stim"``, ``"misc"``.

    Returns
    -------
    str or None
        A stream kind (``"eeg"``, ``"ecg"``, ``"ppg"``, ``"rr"``, ``"markers"``), a
        channel kind (``"eog"``, ``"stim"``, ``"misc"``) or None if unknown.
    """
    if not declared:
        return None
    t = declared.strip().lower()
    table = {
        "eeg": "eeg",
        "ecg": "ecg",
        "ekg": "ecg",
        "ppg": "ppg",
        "pleth": "ppg",
        "bvp": "ppg",
        "rr": "rr",
        "rri": "rr",
        "ibi": "rr",
        "hrv": "rr",
        "eog": "eog",
        "stim": "stim",
        "trigger": "stim",
        "markers": "markers",
        "marker": "markers",
        "stringmarker": "markers",
        "events": "markers",
        "event": "markers",
        "misc": "misc",
        "aux": "misc",
        "emg": "misc",
        "resp": "misc",
        "bio": "misc",
    }
    return table.get(t)


def normalise_unit(unit: str | None) -> str | None:
    """Normalise a unit string to ``"V"``, ``"mV"``, ``"uV"``, ``"s"``, ``"ms"`` or None.

    Accepts the spellings seen in XDF metadata and column suffixes: ``microvolts``,
    ``µV``, ``uV``, ``millivolts``, ``mV``, ``volts``, ``V``, ``seconds``, ``s``,
    ``milliseconds``, ``ms``. Anything else (including ``None``) is None (unknown).
    """
    if not unit:
        return None
    u = unit.strip().replace("µ", "u").replace("μ", "u").lower()
    table = {
        "v": "V",
        "volt": "V",
        "volts": "V",
        "mv": "mV",
        "millivolt": "mV",
        "millivolts": "mV",
        "uv": "uV",
        "microvolt": "uV",
        "microvolts": "uV",
        "s": "s",
        "sec": "s",
        "second": "s",
        "seconds": "s",
        "ms": "ms",
        "millisecond": "ms",
        "milliseconds": "ms",
    }
    return table.get(u)


def unit_from_label(label: str) -> str | None:
    """Return the unit in a column label's suffix (``ecg_mV``: ``"mV"``, ``rr_ms``: ``"ms"``)."""
    m = re.search(r"[_ \-(\[]([a-zA-Zµμ]{1,12})[)\]]?$", label.strip())
    return normalise_unit(m.group(1)) if m else None


def unit_scale(kind: str, unit: str | None) -> float | None:
    """Factor converting ``unit`` to Attune's unit for ``kind``.

    Parameters
    ----------
    kind : str
        Stream kind.
    unit : str or None
        Normalised unit (see :func:`normalise_unit`).

    Returns
    -------
    float or None
        Multiply by this; 1.0 when already in Attune's unit; None when the unit is
        unknown or does not fit the kind (values are then taken as they are).
    """
    factors = {
        "eeg": {"V": 1e6, "mV": 1e3, "uV": 1.0},
        "ecg": {"V": 1e3, "mV": 1.0, "uV": 1e-3},
        "rr": {"s": 1e3, "ms": 1.0},
    }
    if unit is None:
        return None
    return factors.get(kind, {}).get(unit)
