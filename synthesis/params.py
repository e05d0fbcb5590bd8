"""What the engine may ask of the music: :class:`MusicParams` and its bounds.

The cue model (:func:`music_arousal`, :func:`music_valence`) is linear and additive
(Eerola, Friberg & Bresin 2013; Wallis et al. 2011; docs/music.md): each parameter is
normalised to [-1, 1] around a neutral value and weighted by its importance. Arousal
and valence are separate levers: arousal moves tempo, loudness, density and register
(the synth derives attack sharpness from density); valence moves mode, consonance
(``tension``) and brightness. The controller inverts the model; the simulated listener
does not use it (it hears the parameters through its own response model,
docs/science/listeners.md).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

#: Modes ordered from brightest to darkest (Wallis et al. 2011): index = round(3 - 3 v).
MODES: tuple[str, ...] = (
    "lydian",
    "ionian",
    "mixolydian",
    "dorian",
    "aeolian",
    "phrygian",
    "locrian",
)

#: Semitone steps of each mode from its tonic.
MODE_STEPS: dict[str, tuple[int, ...]] = {
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}


def clip(x: float, lo: float, hi: float) -> float:
    """Clip a scalar to ``[lo, hi]`` (a tenth of the cost of ``np.clip`` on a scalar)."""
    return lo if x < lo else hi if x > hi else x


#: Absolute bounds of every parameter (lo, hi); a session's safety envelope is inside.
BOUNDS: dict[str, tuple[float, float]] = {
    "tempo_bpm": (40.0, 160.0),
    "mode": (0.0, 6.0),
    "tension": (0.0, 1.0),
    "brightness": (0.0, 1.0),
    "loudness_db": (-60.0, -6.0),
    "density": (0.0, 1.0),
    "register_st": (-12.0, 12.0),
    "fade": (0.0, 1.0),
}

#: Neutral value and half-range used to normalise each arousal cue to [-1, 1].
_AROUSAL_CUES: dict[str, tuple[float, float, float]] = {
    # name: (neutral, half_range, weight); weights sum to 1 (tempo > loudness > density
    # = register, after Eerola et al. 2013).
    "tempo_bpm": (85.0, 25.0, 0.35),
    "loudness_db": (-26.0, 8.0, 0.25),
    "density": (0.5, 0.5, 0.20),
    "register_st": (0.0, 7.0, 0.20),
}
AROUSAL_CUES = _AROUSAL_CUES
#: Weights of the valence cues: mode (strongest), consonance, brightness; they sum to 1.
VALENCE_WEIGHTS: dict[str, float] = {"mode": 0.6, "tension": 0.25, "brightness": 0.15}


@dataclass(frozen=True)
class MusicParams:
    """One set of music parameters.

    Attributes
    ----------
    tempo_bpm : float
        Tempo in beats per minute.
    mode : int
        Index into :data:`MODES`, 0 (Lydian, brightest) to 6 (Locrian, darkest).
    tension : float
        Harmonic dissonance, 0 (consonant triads) to 1 (added seconds, tritones).
    brightness : float
        Timbre brightness, 0 (dark, low cutoff, few harmonics) to 1 (bright).
    loudness_db : float
        Program loudness of the output in LUFS (ITU-R BS.1770 integrated loudness,
        i.e. dB relative to a full-scale K-weighted sine), before the master fade.
    density : float
        Rhythmic density: probability of a note on each subdivision, 0 to 1.
    register_st : float
        Pitch register offset in semitones around the key's home octave.
    fade : float
        Master fade gain, 0 (silent) to 1 (full program level).
    """

    tempo_bpm: float = 85.0
    mode: int = 1
    tension: float = 0.3
    brightness: float = 0.5
    loudness_db: float = -26.0
    density: float = 0.5
    register_st: float = 0.0
    fade: float = 1.0

    def clipped(self, bounds: dict[str, tuple[float, float]] | None = None) -> MusicParams:
        """Return a copy with every field clipped to ``bounds`` (default :data:`BOUNDS`).

        A NaN field takes the neutral default (:class:`MusicParams` ``()``) before
        clipping, so nothing downstream sees a NaN.

        Called several times per tick (controller, composer): plain scalar code over
        the instance dict, no :func:`dataclasses.fields` walk.
        """
        b = BOUNDS if bounds is None else bounds
        d = self.__dict__
        values = {}
        for name in PARAM_NAMES:
            lo, hi = b.get(name) or BOUNDS[name]
            v = float(d[name])
            if v != v:  # NaN (from upstream): the neutral default, then the bounds
                v = _DEFAULTS[name]
            v = lo if v < lo else hi if v > hi else v
            values[name] = int(round(v)) if name == "mode" else v
        return make_params(values)

    def with_(self, **changes: float) -> MusicParams:
        """Return a copy with some fields changed.

        Raises
        ------
        TypeError
            If a name in ``changes`` is not a field (as :func:`dataclasses.replace`).
        """
        if not changes.keys() <= _FIELD_SET:
            return replace(self, **changes)  # type: ignore[arg-type]  # raises TypeError
        values = self.__dict__.copy()
        values.update(changes)
        return make_params(values)

    @property
    def mode_name(self) -> str:
        """Name of the mode, e.g. ``"ionian"``."""
        return MODES[int(self.mode)]


PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(MusicParams))
_FIELD_SET = frozenset(PARAM_NAMES)
_DEFAULTS: dict[str, float] = dict(MusicParams().__dict__)


def make_params(values: dict[str, float]) -> MusicParams:
    """Build a :class:`MusicParams` from a complete ``{field: value}`` dict, fast.

    The frozen dataclass ``__init__`` sets each field through ``object.__setattr__``;
    in the tick path (several instances per tick) filling the instance dict directly
    costs a fraction of that. ``values`` must hold every field of :data:`PARAM_NAMES`
    (in that order); there is no ``__post_init__`` to skip.
    """
    p = object.__new__(MusicParams)
    p.__dict__.update(values)
    return p


def music_arousal(p: MusicParams) -> float:
    """Arousal the music expresses, in [-1, 1] (linear cue sum, docs/music.md).

    Silence (``fade == 0``) expresses nothing; the simulated listener handles silence
    separately through :attr:`MusicParams.fade`.
    """
    total = 0.0
    d = p.__dict__
    for name, (neutral, half, weight) in _AROUSAL_CUES.items():
        x = (d[name] - neutral) / half
        total += weight * (-1.0 if x < -1.0 else 1.0 if x > 1.0 else x)
    return total


def music_valence(p: MusicParams) -> float:
    """Valence the music expresses, in [-1, 1].

    Mode dominates (Lydian +1 ... Locrian -1); consonance (low ``tension``) and a
    brighter timbre add to it (docs/music.md). Tempo, loudness, density and register
    are left to arousal.
    """
    w = VALENCE_WEIGHTS
    v = (
        w["mode"] * (1.0 - p.mode / 3.0)
        - w["tension"] * (2.0 * p.tension - 1.0)
        + w["brightness"] * (2.0 * p.brightness - 1.0)
    )
    return clip(v, -1.0, 1.0)


def params_for(arousal: float, valence: float, *, base: MusicParams | None = None) -> MusicParams:
    """Music expressing ``(arousal, valence)``: the inverse of the cue model.

    Arousal sets tempo, loudness, density and register (``value = neutral + a *
    half_range``); valence sets the mode (``round(3 - 3 v)``, Wallis et al. 2011),
    the consonance (``tension = 0.5 - 0.5 v``) and the brightness (``0.5 + 0.5 v``).
    The two levers touch disjoint parameters, so they can be heard separately.

    Parameters
    ----------
    arousal, valence : float
        Desired expressed state in [-1, 1].
    base : MusicParams, optional
        Parameters not covered by the cue model (``fade``) are taken from it.
    """
    a = clip(float(arousal), -1.0, 1.0)
    v = clip(float(valence), -1.0, 1.0)
    values = {name: neutral + a * half for name, (neutral, half, _) in _AROUSAL_CUES.items()}
    values["tension"] = clip(0.5 - 0.5 * v, 0.0, 1.0)
    values["brightness"] = clip(0.5 + 0.5 * v, 0.0, 1.0)
    values["mode"] = int(clip(round(3.0 - 3.0 * v), 0, 6))
    values["fade"] = 1.0 if base is None else base.fade
    return make_params({name: values[name] for name in PARAM_NAMES})
