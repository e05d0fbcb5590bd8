"""Recognise EEG channels from their labels: 10-20/10-10 names, Muse, BioSemi, EDF styles.

Every label of a stream is classified once, at set-up, into a :class:`ChannelLabel`: its
kind (EEG, or one of the kinds excluded from EEG features: EOG, ECG, EMG, EXG, stimulus /
trigger / status, reference, auxiliary, other), and for EEG its canonical 10-10 position
when the label names one (``"Fp1"``, ``"AF8"``, ``"Cz"``; case-insensitive, old 10-20
names T3/T4/T5/T6 mapped to T7/T8/P7/P8).

Recognised label styles:

* plain 10-20/10-10 names in any case: ``FP1``, ``fpz``, ``Cz``, ``M1``, ``A2``;
* type prefixes and bipolar/reference suffixes as written by EDF and other exporters:
  ``EEG Fpz-Cz``, ``EEG Fp1-REF``, ``Fp1-A1``, ``EEG F3 (LE)``;
* the Muse headband (``TP9``, ``AF7``, ``AF8``, ``TP10``) and Mind Monitor CSV columns
  (``RAW_TP9``; band-power columns such as ``Alpha_AF7`` and the ``AUX``/``Right AUX``
  inputs are not raw EEG and are excluded);
* numbered labels (``EEG 001``, ``Ch7``, ``E12``, ``3``) and a bare ``EEG``: EEG of
  unknown position;
* BioSemi electrode labels ``A1`` .. ``H32``: when a set contains labels that can only
  be BioSemi (``A5``, ``B12``, ...), all such labels are read as BioSemi. The 32-channel
  (A only) and 64-channel (A and B) ABC layouts are mapped to their 10-10 names
  (BioSemi head caps; orders as in MNE's ``biosemi32``/``biosemi64`` montages); larger
  layouts are reported as BioSemi positions without a 10-10 name;
* excluded by name: ``EXG1``-``EXG8``, ``Status``, ``TRIGGER``, ``STI 014``, ``DIG``,
  anything with EOG/ECG/EKG/EMG/AUX/RESP/GSR/EDA/PPG/ACC/GYRO, and ``REF``.

Labels that match none of these are classified ``"other"`` (excluded, listed by
:func:`classify_channels` callers as unrecognised) rather than guessed to be EEG.

References
----------
.. [1] Oostenveld, R., & Praamstra, P. (2001). The five percent electrode system for
   high-resolution EEG and ERP measurements. Clinical Neurophysiology, 112(4), 713-719.
.. [2] BioSemi head cap layouts, https://www.biosemi.com/headcap.htm.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BIOSEMI32",
    "BIOSEMI64",
    "ChannelKind",
    "ChannelLabel",
    "classify_channels",
    "is_frontal",
    "position_name",
]

ChannelKind = Literal["eeg", "eog", "ecg", "emg", "exg", "stim", "ref", "aux", "other"]
System = Literal["10-10", "biosemi", "numbered", "none"]

#: BioSemi 32-channel ABC layout: A1..A32 in order.
BIOSEMI32: tuple[str, ...] = tuple(
    (
        "Fp1 AF3 F7 F3 FC1 FC5 T7 C3 CP1 CP5 P7 P3 Pz PO3 O1 Oz "
        "O2 PO4 P4 P8 CP6 CP2 C4 T8 FC6 FC2 F4 F8 AF4 Fp2 Fz Cz"
    ).split()
)
#: BioSemi 64-channel ABC layout: A1..A32 then B1..B32 in order.
BIOSEMI64: tuple[str, ...] = tuple(
    (
        "Fp1 AF7 AF3 F1 F3 F5 F7 FT7 FC5 FC3 FC1 C1 C3 C5 T7 TP7 CP5 CP3 CP1 P1 P3 P5 P7 P9 "
        "PO7 PO3 O1 Iz Oz POz Pz CPz Fpz Fp2 AF8 AF4 AFz Fz F2 F4 F6 F8 FT8 FC6 FC4 FC2 FCz "
        "Cz C2 C4 C6 T8 TP8 CP6 CP4 CP2 P2 P4 P6 P8 P10 PO8 PO4 O2"
    ).split()
)


def _positions() -> dict[str, str]:
    """Lower-case label -> canonical 10-10 (extended) position name."""
    numbers = {
        "Fp": ["z", "1", "2"],
        "AF": ["z", *map(str, range(1, 11))],
        "F": ["z", *map(str, range(1, 11))],
        "FT": ["7", "8", "9", "10"],
        "FC": ["z", *map(str, range(1, 7))],
        "C": ["z", *map(str, range(1, 7))],
        "T": ["7", "8", "9", "10"],
        "TP": ["7", "8", "9", "10"],
        "CP": ["z", *map(str, range(1, 7))],
        "P": ["z", *map(str, range(1, 11))],
        "PO": ["z", *map(str, range(1, 11))],
        "O": ["z", "1", "2", "9", "10"],
        "I": ["z", "1", "2"],
        "N": ["z"],
    }
    out = {f"{p}{n}".lower(): f"{p}{n}" for p, ns in numbers.items() for n in ns}
    out.update({"a1": "A1", "a2": "A2", "m1": "M1", "m2": "M2"})
    # old 10-20 names -> 10-10
    out.update({"t3": "T7", "t4": "T8", "t5": "P7", "t6": "P8"})
    return out


_POS = _positions()
_EXCLUDE: list[tuple[re.Pattern[str], ChannelKind]] = [
    (re.compile(r"^(status|trig|stim|sti\b|sti[ _]?\d+|dig\b|event|marker|counter)"), "stim"),
    (re.compile(r"(^|[^a-z])(d?trig|status)($|[^a-z])"), "stim"),
    (re.compile(r"^exg\d*$"), "exg"),
    (re.compile(r"[hvli]?eog|^eog"), "eog"),
    (re.compile(r"ecg|ekg"), "ecg"),
    (re.compile(r"emg"), "emg"),
    (
        re.compile(
            r"aux|resp|gsr|eda|ppg|spo2|temp|acc|gyro|battery|hsi|headband|elements|"
            r"timestamp|time|sample|photo|light|x_dir|y_dir|z_dir"
        ),
        "aux",
    ),
    (re.compile(r"^(ref|gnd|ground|cms|drl)\b|ref_eeg"), "ref"),
]
#: Mind Monitor band-power columns (not raw EEG).
_BANDCOL = re.compile(r"^(delta|theta|alpha|beta|gamma)_")
_PREFIX = re.compile(r"^(eeg|raw)[ _:-]*", re.IGNORECASE)
_NUMBERED = re.compile(r"^(eeg|e|ch|chan|channel|electrode)?[ _-]*0*(\d+)$")
_BIOSEMI = re.compile(r"^([a-h])([1-9]|[12]\d|3[0-2])$")


@dataclass(frozen=True)
class ChannelLabel:
    """How one channel label was read.

    Attributes
    ----------
    label : str
        The label as given.
    kind : {"eeg", "eog", "ecg", "emg", "exg", "stim", "ref", "aux", "other"}
        ``"eeg"`` channels enter EEG features; every other kind is excluded.
    position : str or None
        Canonical 10-10 name (``"Fp1"``) for EEG at a known site; None otherwise.
    system : {"10-10", "biosemi", "numbered", "none"}
        Which naming scheme recognised the label.
    """

    label: str
    kind: ChannelKind
    position: str | None
    system: System

    @property
    def name(self) -> str:
        """Display name: the 10-10 position if known, else the label."""
        return self.position or self.label


def position_name(label: str) -> str | None:
    """Return the canonical 10-10 position a single label names, or None.

    Parameters
    ----------
    label : str
        A channel label such as ``"FP1"``, ``"EEG Fpz-Cz"`` or ``"RAW_AF7"``.

    Returns
    -------
    str or None
        ``"Fp1"``, ``"Fpz"``, ``"AF7"``; None if the label names no 10-10 site.
    """
    s = label.strip()
    s = _PREFIX.sub("", s)
    # bipolar or referenced: keep the first electrode ("Fpz-Cz", "Fp1-REF", "F3 (LE)")
    s = re.split(r"[-/:( ]", s, maxsplit=1)[0].strip()
    return _POS.get(s.lower())


def _classify_one(label: str, biosemi: dict[str, str] | None) -> ChannelLabel:
    low = label.strip().lower()
    if biosemi is not None and _BIOSEMI.match(low):
        return ChannelLabel(label, "eeg", biosemi.get(low), "biosemi")
    if _BANDCOL.match(low):
        return ChannelLabel(label, "aux", None, "none")
    pos = position_name(label)
    body = _PREFIX.sub("", low).strip()
    for pattern, kind in _EXCLUDE:
        if pattern.search(body) or pattern.search(low):
            # "REF_EEG REF_EEG", "ECG ECG1", "EOG VEOG_I", "DIG DTRIG", "EXG3" ...
            return ChannelLabel(label, kind, None, "none")
    if pos is not None:
        return ChannelLabel(label, "eeg", pos, "10-10")
    if _NUMBERED.match(low) or low in ("eeg", "raw", "raw_eeg", "eeg_raw"):
        return ChannelLabel(label, "eeg", None, "numbered")
    return ChannelLabel(label, "other", None, "none")


def classify_channels(labels: Sequence[str]) -> tuple[ChannelLabel, ...]:
    """Classify every label of one stream.

    Parameters
    ----------
    labels : sequence of str
        Channel labels in stream order.

    Returns
    -------
    tuple of ChannelLabel
        One per label, same order.

    Notes
    -----
    BioSemi labels are decided for the whole set: if the set has ``A``-labels and any
    label matching ``[A-H]1..32`` is not also a 10-10 name (``A1``, ``A2`` are ear sites;
    EGI ``E1``... labels never start with A), all ``[A-H]n`` labels are
    read as BioSemi electrodes. With letters A only the 32-channel layout is used, with A
    and B the 64-channel layout; otherwise the positions stay unknown.
    """
    lows = [s.strip().lower() for s in labels]
    bios = [s for s in lows if _BIOSEMI.match(s)]
    biosemi: dict[str, str] | None = None
    if any(s.startswith("a") for s in bios) and any(s not in _POS for s in bios):
        letters = {s[0] for s in bios}
        if letters <= {"a"}:
            layout = {f"a{i + 1}": p for i, p in enumerate(BIOSEMI32)}
        elif letters <= {"a", "b"}:
            layout = {f"{'ab'[i // 32]}{i % 32 + 1}": p for i, p in enumerate(BIOSEMI64)}
        else:
            layout = {}
        biosemi = layout
    return tuple(_classify_one(s, biosemi) for s in labels)


def is_frontal(position: str | None) -> bool:
    """Return True for frontal-pole / anterior-frontal / frontal sites (Fp*, AF*, F*).

    Blinks are strongest there. Unknown positions return False.
    """
    if position is None:
        return False
    return position.startswith(("Fp", "AF", "F")) and not position.startswith(("FC", "FT"))
