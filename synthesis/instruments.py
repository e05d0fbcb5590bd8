"""The instruments of the synth and the palettes a session can choose (data only, no pyo).

Each voice of the composer (``melody``, ``arp``, ``pad``, ``bass``) is played by one
:class:`Instrument`: an additive wavetable (harmonic amplitudes), an ADSR envelope, an
optional bell-like "tine" partial whose level follows brightness, an optional detuned
second oscillator (chorus, pads), an optional vibrato (leads), a level and stereo
positions. A :data:`PALETTES` entry assigns one instrument to every voice; the MIDI
file carries the same choice as General MIDI programs. See docs/music.md.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Voices of the composer, in MIDI channel order (pad 0, arp 1, melody 2, bass 3).
VOICES: tuple[str, ...] = ("pad", "arp", "melody", "bass")


@dataclass(frozen=True)
class Instrument:
    """One synthesized instrument.

    Attributes
    ----------
    name : str
        What a listener would call it, e.g. ``"electric piano"``.
    gm_program : int
        General MIDI program (0-based) that plays the voice in a MIDI synth.
    harmonics : tuple of float
        Amplitudes of harmonics 1, 2, ... of the wavetable (no DC component).
    attack_s, decay_s, sustain, release_s : float
        Envelope: attack and decay in seconds, sustain level (0..1), release in seconds.
        With ``sustain == 0`` the note decays (piano-like) over its written length.
    level : float
        Peak amplitude at velocity 127 and unity master gain.
    n_voices : int
        Polyphony (voices are reused oldest first).
    tine_ratio : float
        Frequency ratio (integer: a harmonic) of a fast-decaying partial; 0 = none.
    tine_level : float
        Level of that partial relative to ``level`` at full brightness.
    detune : float
        Relative detuning of a second oscillator (0 = none), e.g. 0.006 = 10 cents.
    vibrato : float
        Relative depth of a 5 Hz vibrato (0 = none).
    pans : tuple of float
        Stereo positions (0 = left, 1 = right) of successive voices.
    """

    name: str
    gm_program: int
    harmonics: tuple[float, ...]
    attack_s: float
    decay_s: float
    sustain: float
    release_s: float
    level: float
    n_voices: int
    tine_ratio: float = 0.0
    tine_level: float = 0.0
    detune: float = 0.0
    vibrato: float = 0.0
    pans: tuple[float, ...] = (0.5,)


FLUTE = Instrument(
    "flute", 73, (1.0, 0.18, 0.08, 0.03, 0.01), 0.06, 0.25, 0.85, 0.18, 0.40, 3,
    vibrato=0.004, pans=(0.55,),
)  # fmt: skip
CELESTA = Instrument(
    "celesta", 8, (1.0, 0.1, 0.05), 0.004, 2.0, 0.0, 0.35, 0.66, 4,
    tine_ratio=4.0, tine_level=0.35, pans=(0.55,),
)  # fmt: skip
ELECTRIC_PIANO = Instrument(
    "electric piano", 4, (1.0, 0.35, 0.1, 0.05, 0.02), 0.005, 1.6, 0.0, 0.25, 0.19, 8,
    tine_ratio=7.0, tine_level=0.25, pans=(0.32, 0.46),
)  # fmt: skip
HARP = Instrument(
    "harp", 46, (1.0, 0.45, 0.22, 0.12, 0.06, 0.03), 0.003, 1.8, 0.0, 0.4, 0.233, 8,
    pans=(0.3, 0.44),
)  # fmt: skip
WARM_PAD = Instrument(
    "warm pad", 89, (1.0, 0.45, 0.25, 0.15, 0.09, 0.06, 0.04, 0.03), 1.2, 0.8, 0.8, 1.4,
    0.0425, 10, detune=0.006, pans=(0.2, 0.8),
)  # fmt: skip
SLOW_PAD = Instrument(
    "slow string pad", 88, (1.0, 0.5, 0.3, 0.2, 0.12, 0.08, 0.05, 0.03), 2.2, 1.0, 0.85,
    1.8, 0.074, 10, detune=0.008, pans=(0.15, 0.85),
)  # fmt: skip
ROUND_BASS = Instrument(
    "round bass", 32, (1.0, 0.35, 0.12, 0.04), 0.015, 0.9, 0.55, 0.3, 0.40, 2, pans=(0.5,)
)
SOFT_BASS = Instrument(
    "soft synth bass", 38, (1.0, 0.2, 0.05), 0.04, 1.2, 0.6, 0.5, 0.53, 2, pans=(0.5,)
)

#: Palettes a session can choose: voice -> instrument.
PALETTES: dict[str, dict[str, Instrument]] = {
    "piano": {"melody": FLUTE, "arp": ELECTRIC_PIANO, "pad": WARM_PAD, "bass": ROUND_BASS},
    "ambient": {"melody": CELESTA, "arp": HARP, "pad": SLOW_PAD, "bass": SOFT_BASS},
}
#: Palette used when none is chosen.
DEFAULT_PALETTE: str = "piano"


def palette(name: str) -> dict[str, Instrument]:
    """Instruments of palette ``name``.

    Raises
    ------
    ValueError
        One line naming the palette and the available ones.
    """
    try:
        return PALETTES[name]
    except KeyError:
        raise ValueError(
            f"unknown palette {name!r}; available: {', '.join(sorted(PALETTES))}"
        ) from None


def gm_programs(name: str = DEFAULT_PALETTE) -> dict[str, tuple[int, int]]:
    """``{voice: (General MIDI program, channel)}`` of palette ``name``."""
    pal = palette(name)
    return {v: (pal[v].gm_program, ch) for ch, v in enumerate(VOICES)}
