"""Attune's own LSL outlets: estimate, target, music parameters and markers, per tick."""

from __future__ import annotations

import pylsl

import attune.sensors  # noqa: F401  (sets LSLAPICFG before liblsl is used)
from attune.synthesis.params import PARAM_NAMES


class StateOutlets:
    """Attune's own LSL streams, so LabRecorder records them beside the raw signals.

    Three outlets, each with channel labels and units in its description:

    - ``<prefix>-state`` (type ``AttuneState``, 4 Hz at the default tick): arousal,
      valence, confidence, valence_confidence, target_arousal, target_valence;
    - ``<prefix>-music`` (type ``AttuneMusic``): every music parameter;
    - ``<prefix>-markers`` (type ``Markers``, strings): phase changes, holds,
      overrides, warnings.

    Parameters
    ----------
    prefix : str
        Stream name prefix, e.g. the session name.
    tick_s : float
        Control tick, seconds (the nominal rate of the state and music streams).
    source_id : str
        Base source id (each outlet appends its role).
    """

    STATE = (
        ("arousal", "au"),
        ("valence", "au"),
        ("confidence", "au"),
        ("valence_confidence", "au"),
        ("target_arousal", "au"),
        ("target_valence", "au"),
    )

    def __init__(self, *, prefix: str, tick_s: float, source_id: str) -> None:
        self.param_names = PARAM_NAMES
        music_units = {"tempo_bpm": "BPM", "loudness_db": "dBFS", "register_st": "semitones"}
        self.state = self._outlet(
            f"{prefix}-state", "AttuneState", self.STATE, 1.0 / tick_s, f"{source_id}-state"
        )
        self.music = self._outlet(
            f"{prefix}-music",
            "AttuneMusic",
            [(n, music_units.get(n, "au")) for n in PARAM_NAMES],
            1.0 / tick_s,
            f"{source_id}-music",
        )
        info = pylsl.StreamInfo(
            f"{prefix}-markers", "Markers", 1, 0.0, "string", f"{source_id}-markers"
        )
        self.markers = pylsl.StreamOutlet(info)

    @staticmethod
    def _outlet(name, type_, channels, fs, source_id) -> pylsl.StreamOutlet:
        info = pylsl.StreamInfo(name, type_, len(channels), fs, "double64", source_id)
        info.set_channel_labels([c for c, _ in channels])
        info.set_channel_units([u for _, u in channels])
        return pylsl.StreamOutlet(info)

    def publish(self, result, *, lsl_time: float) -> None:
        """Push one tick (a :class:`attune.engine.loop.TickResult`) stamped ``lsl_time``."""
        e, d = result.estimate, result.decision
        nan = float("nan")
        self.state.push_sample(
            [
                e.arousal,
                e.valence,
                e.confidence,
                e.valence_confidence,
                nan if d.target_arousal is None else d.target_arousal,
                nan if d.target_valence is None else d.target_valence,
            ],
            lsl_time,
        )
        self.music.push_sample([float(getattr(d.params, n)) for n in self.param_names], lsl_time)
        for text in d.events:
            self.markers.push_sample([text], lsl_time)

    def marker(self, text: str, *, lsl_time: float) -> None:
        """Push one marker string."""
        self.markers.push_sample([text], lsl_time)
