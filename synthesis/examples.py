"""Short example renders across the arousal-valence plane (``attune render-examples``).

Each example holds the music that :func:`attune.synthesis.params.params_for` gives for one
corner of the plane, composed with a fixed seed and rendered offline through the same
pyo graph as a session (in its own process), with a MIDI file of the same notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from attune.synthesis.composer import Composer
from attune.synthesis.midi import MidiRecorder
from attune.synthesis.params import MusicParams, params_for
from attune.synthesis.synth import OfflineRenderer

#: ``name: (arousal, valence)`` of each example.
QUADRANTS: dict[str, tuple[float, float]] = {
    "calm_positive": (-0.7, 0.7),
    "calm_negative": (-0.7, -0.7),
    "aroused_positive": (0.7, 0.7),
    "aroused_negative": (0.7, -0.7),
}


@dataclass(frozen=True)
class Example:
    """One rendered example.

    Attributes
    ----------
    name : str
        Quadrant name, e.g. ``"calm_positive"``.
    arousal, valence : float
        The expressed state.
    params : MusicParams
        Parameters played.
    wav, midi : Path
        Files written.
    """

    name: str
    arousal: float
    valence: float
    params: MusicParams
    wav: Path
    midi: Path


def render_examples(
    out_dir: Path | str,
    *,
    duration_s: float = 20.0,
    seed: int = 1,
    tick_s: float = 0.25,
    breathing_hz: float = 0.0,
) -> list[Example]:
    """Render one WAV (and ``.mid``) per quadrant of the arousal-valence plane.

    Parameters
    ----------
    out_dir : Path or str
        Directory to write into (created if missing).
    duration_s : float, default 20.0
        Length of each example in seconds (the first second fades in).
    seed : int, default 1
        Composer seed.
    tick_s : float, default 0.25
        Control tick in seconds.
    breathing_hz : float, default 0.0
        Resonance-breathing swell rate (0 = off).

    Returns
    -------
    list of Example
    """
    if duration_s < 2.0:
        raise ValueError(f"duration_s must be at least 2 s, got {duration_s!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    done: list[Example] = []
    n_ticks = int(round(duration_s / tick_s))
    for name, (a, v) in QUADRANTS.items():
        p = params_for(a, v).with_(fade=1.0)
        comp = Composer(seed=seed, breathing_hz=breathing_hz)
        rec = MidiRecorder()
        wav = out / f"{name}.wav"
        synth = OfflineRenderer(wav, breathing_hz=breathing_hz)
        synth.start()
        for k in range(1, n_ticks + 1):
            t = k * tick_s
            fade = 0.0 if t > duration_s - 1.5 else 1.0  # fade out over the last 1.5 s
            pk = p.with_(fade=fade)
            notes = comp.advance(pk, t)
            synth.send(t, pk, notes)
            rec.send(t, pk, notes)
        synth.close()
        midi = out / f"{name}.mid"
        rec.write(midi, comp.beats)
        done.append(Example(name, a, v, p, wav, midi))
    return done
