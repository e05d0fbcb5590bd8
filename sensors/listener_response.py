"""How one simulated listener's core affect answers the music it hears.

This is the listener's own model of music, written apart from the controller: it reads
the played parameters as plain numbers (``tempo_bpm``, ``loudness_db``, ``density``,
``register_st``, ``tension``, ``brightness``, ``mode``, ``fade``, the fields of
:class:`attune.synthesis.params.MusicParams` given as a mapping), never through
``music_arousal`` or the controller's cue table, and it differs from that table on
purpose: perceived tempo is ratio-scaled (octaves of tempo around a personal reference),
loudness is heard in 10 dB steps around a personal comfortable level, mode is heard as
major or minor (the third), and every sensitivity is personal, sometimes absent,
sometimes reversed (docs/science/listeners.md).

Model [E] (forms are engineering choices; the sizes are anchored in the literature
cited in docs/science/listeners.md):

* Cue features ``x_c`` (:func:`cue_features`), each 0 at the listener's reference.
* Static drive (:func:`static_drive`): ``d_A = sum_c s_A[c] x_c``, ``d_V = sum_c s_V[c]
  x_c``, and liking ``l = like0 + like_tempo x_tempo + like_mode x_mode - like_rough
  x_rough``; all scaled by the presence of the music (0 in silence).
* Dynamics (:class:`ResponseDynamics`, per step): habituation ``h`` follows the drive
  with time constant ``hab_tau_s`` (minutes) and removes the share ``hab_depth`` of a
  sustained drive; familiarity ``f`` grows while music plays (``fam_tau_s``) and adds
  ``fam_gain f`` to liking; liked music calms and pleases, disliked music arouses and
  displeases; the result saturates, ``r = sat tanh(d / sat)``.

The returned ``(r_A, r_V)`` is the displacement of the listener's equilibrium of arousal
and valence; the first-order relaxation toward it (time constants of tens of seconds to
minutes) and the dead time belong to :mod:`attune.sensors.simulated_listener`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import signal

#: Cues the listener hears, in the order of the sensitivity tuples.
CUES: tuple[str, ...] = ("tempo", "loudness", "density", "register", "roughness", "brightness")

#: Major/minor reading of each mode index 0..6 (Lydian .. Locrian): the third decides
#: (major +1, minor -1); Locrian's diminished fifth sounds darker still.
MODE_MAJOR: tuple[float, ...] = (1.0, 1.0, 0.8, -0.6, -1.0, -1.0, -1.2)

#: Mean arousal sensitivities of a moderate responder, arousal units per cue unit:
#: tempo per octave, loudness per 10 dB, density per unit (0..1), register per octave,
#: roughness per unit of ``tension``, brightness per unit (docs/science/listeners.md).
AROUSAL_SENS_MEAN: tuple[float, ...] = (0.5, 0.22, 0.35, 0.12, 0.4, 0.15)
#: Mean valence sensitivities, same units (mode handled separately).
VALENCE_SENS_MEAN: tuple[float, ...] = (0.12, -0.05, 0.0, 0.05, -0.45, 0.05)


@dataclass(frozen=True)
class ResponseTraits:
    """One listener's response to music (see the module docstring).

    Attributes
    ----------
    tempo_ref_bpm : float
        Tempo that neither raises nor lowers arousal, bpm.
    loudness_ref_db : float
        Comfortable program loudness (LUFS) that neither raises nor lowers arousal.
    arousal_sens : tuple of float
        Arousal per cue unit for :data:`CUES` (tempo per octave, loudness per 10 dB,
        density per unit, register per octave, roughness per unit, brightness per unit).
    valence_sens : tuple of float
        Valence per cue unit for :data:`CUES`.
    mode_valence : float
        Valence per unit of major-ness (:data:`MODE_MAJOR`).
    like0 : float
        Liking of this kind of music before familiarity, in [-1, 1].
    like_tempo, like_mode, like_rough : float
        How liking changes with the tempo feature (per octave), major-ness and roughness.
    like_arousal, like_valence : float
        Arousal lowered and valence raised per unit of liking.
    hab_tau_s : float
        Habituation time constant, s (minutes).
    hab_depth : float
        Share of a sustained drive removed by habituation, in [0, 1).
    fam_tau_s : float
        Familiarity time constant while music plays, s.
    fam_gain : float
        Liking gained at full familiarity.
    sat_arousal, sat_valence : float
        Saturation levels of the displacement (``r = sat tanh(d / sat)``), > 0.
    """

    tempo_ref_bpm: float = 95.0
    loudness_ref_db: float = -28.0
    arousal_sens: tuple[float, ...] = AROUSAL_SENS_MEAN
    valence_sens: tuple[float, ...] = VALENCE_SENS_MEAN
    mode_valence: float = 0.3
    like0: float = 0.2
    like_tempo: float = 0.0
    like_mode: float = 0.1
    like_rough: float = 0.3
    like_arousal: float = 0.12
    like_valence: float = 0.3
    hab_tau_s: float = 300.0
    hab_depth: float = 0.25
    fam_tau_s: float = 600.0
    fam_gain: float = 0.2
    sat_arousal: float = 1.0
    sat_valence: float = 0.8

    def __post_init__(self) -> None:
        from attune.sensors.types import SensorError

        n = len(CUES)
        if len(self.arousal_sens) != n or len(self.valence_sens) != n:
            raise SensorError(f"ResponseTraits: sensitivities need {n} values ({', '.join(CUES)})")
        rules = [
            ("tempo_ref_bpm", 30.0 <= self.tempo_ref_bpm <= 200.0, "in [30, 200] bpm"),
            ("hab_tau_s", self.hab_tau_s > 0, "> 0"),
            ("hab_depth", 0.0 <= self.hab_depth < 1.0, "in [0, 1)"),
            ("fam_tau_s", self.fam_tau_s > 0, "> 0"),
            ("sat_arousal", self.sat_arousal > 0, "> 0"),
            ("sat_valence", self.sat_valence > 0, "> 0"),
        ]
        for name, ok, rule in rules:
            if not ok:
                raise SensorError(
                    f"ResponseTraits.{name} must be {rule}, got {getattr(self, name)!r}"
                )

    @property
    def strength(self) -> float:
        """Signed size of the arousal response: tempo+loudness+density sensitivity sum.

        Positive for listeners whom faster, louder, denser music arouses; about 1.07
        for the mean moderate responder, near 0 for non-responders, negative for
        paradoxical ones.
        """
        return float(sum(self.arousal_sens[:3]))


def cue_features(music: Mapping[str, float], traits: ResponseTraits) -> tuple[float, ...]:
    """Read the music as this listener does: one value per :data:`CUES` (0 at reference).

    Parameters
    ----------
    music : mapping of str to float
        Played parameters (``tempo_bpm``, ``loudness_db``, ``density``, ``register_st``,
        ``tension``, ``brightness``, ``fade``); missing ones take neutral values.
    traits : ResponseTraits
        The listener.

    Returns
    -------
    tuple of float
        tempo in octaves from ``tempo_ref_bpm``; loudness in 10 dB from
        ``loudness_ref_db`` (the fade included, floored at -60 dB); density - 0.5;
        register in octaves; ``tension - 0.3``; ``brightness - 0.5``.
    """
    g = music.get
    tempo = max(float(g("tempo_bpm", traits.tempo_ref_bpm)), 1.0)
    fade = max(float(g("fade", 1.0)), 1e-3)
    level = max(float(g("loudness_db", traits.loudness_ref_db)) + 20.0 * math.log10(fade), -60.0)
    return (
        math.log2(tempo / traits.tempo_ref_bpm),
        (level - traits.loudness_ref_db) / 10.0,
        float(g("density", 0.5)) - 0.5,
        float(g("register_st", 0.0)) / 12.0,
        float(g("tension", 0.3)) - 0.3,
        float(g("brightness", 0.5)) - 0.5,
    )


def presence(music: Mapping[str, float] | None) -> float:
    """How much music there is to respond to, in [0, 1] (0: silence, 1 above fade 0.25)."""
    if music is None:
        return 0.0
    return min(1.0, max(0.0, float(music.get("fade", 1.0)) / 0.25))


def static_drive(
    music: Mapping[str, float] | None, traits: ResponseTraits
) -> tuple[float, float, float]:
    """Unsaturated arousal and valence drive and liking of ``music`` (silence: zeros).

    Returns
    -------
    (float, float, float)
        ``(d_A, d_V, liking)`` before habituation, familiarity and saturation, each
        scaled by :func:`presence`.
    """
    p = presence(music)
    if p == 0.0 or music is None:
        return 0.0, 0.0, 0.0
    x = cue_features(music, traits)
    mode = int(min(6, max(0, round(float(music.get("mode", 1))))))
    major = MODE_MAJOR[mode]
    d_a = sum(s * xc for s, xc in zip(traits.arousal_sens, x, strict=True))
    d_v = sum(s * xc for s, xc in zip(traits.valence_sens, x, strict=True))
    d_v += traits.mode_valence * major
    like = traits.like0 + traits.like_tempo * x[0] + traits.like_mode * major
    like -= traits.like_rough * x[4]
    return p * d_a, p * d_v, p * like


@dataclass
class ResponseDynamics:
    """Habituation, familiarity and saturation of one listener (see the module docstring).

    Call :meth:`step` once per integration step, or :meth:`run` on a run of steps, with
    the static drive of the music heard (already delayed by the listener's dead time).
    Both give the same values; :meth:`run` is vectorized and gives bit-identical results
    however the steps are split into runs.
    """

    traits: ResponseTraits
    hab_a: float = 0.0
    hab_v: float = 0.0
    familiarity: float = 0.0
    _k: dict[str, float] = field(default_factory=dict, repr=False)

    def step(self, dt: float, d_a: float, d_v: float, like: float, p: float) -> tuple[float, float]:
        """Advance ``dt`` seconds; return the displacement ``(r_A, r_V)`` of the equilibrium.

        Parameters
        ----------
        dt : float
            Step, s.
        d_a, d_v, like, p : float
            :func:`static_drive` output and :func:`presence` of the music heard now.
        """
        tr = self.traits
        k = self._k
        if k.get("dt") != dt:
            k["dt"] = dt
            k["hab"] = 1.0 - math.exp(-dt / tr.hab_tau_s)
            k["fam"] = 1.0 - math.exp(-dt / tr.fam_tau_s)
        liking = max(-1.0, min(1.0, like + tr.fam_gain * self.familiarity * p))
        a = d_a - tr.like_arousal * liking * p
        v = d_v + tr.like_valence * liking * p
        self.hab_a += k["hab"] * (a - self.hab_a)
        self.hab_v += k["hab"] * (v - self.hab_v)
        self.familiarity += k["fam"] * p * (1.0 - self.familiarity)
        a -= tr.hab_depth * self.hab_a
        v -= tr.hab_depth * self.hab_v
        return (
            tr.sat_arousal * math.tanh(a / tr.sat_arousal),
            tr.sat_valence * math.tanh(v / tr.sat_valence),
        )

    def run(
        self, dt: float, d_a: np.ndarray, d_v: np.ndarray, like: np.ndarray, p: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Advance ``len(d_a)`` steps of ``dt`` s; return ``(r_A, r_V)`` per step.

        Parameters
        ----------
        dt : float
            Step, s.
        d_a, d_v, like, p : ndarray, shape (n,)
            :func:`static_drive` and :func:`presence` of the music heard at each step.
        """
        tr = self.traits
        kh = 1.0 - math.exp(-dt / tr.hab_tau_s)
        kf = 1.0 - math.exp(-dt / tr.fam_tau_s)
        # familiarity at each step: 1 - f[k] = (1 - f0) prod_{j<k} (1 - kf p_j)
        rest = np.cumprod(np.concatenate([[1.0 - self.familiarity], 1.0 - kf * p]))
        fam = 1.0 - rest[:-1]
        self.familiarity = float(1.0 - rest[-1])
        liking = np.clip(like + tr.fam_gain * fam * p, -1.0, 1.0)
        a = d_a - tr.like_arousal * liking * p
        v = d_v + tr.like_valence * liking * p
        b, den = [kh], [1.0, -(1.0 - kh)]
        h_a, _ = signal.lfilter(b, den, a, zi=[(1.0 - kh) * self.hab_a])
        h_v, _ = signal.lfilter(b, den, v, zi=[(1.0 - kh) * self.hab_v])
        if a.size:
            self.hab_a, self.hab_v = float(h_a[-1]), float(h_v[-1])
        a = a - tr.hab_depth * h_a
        v = v - tr.hab_depth * h_v
        return (
            tr.sat_arousal * np.tanh(a / tr.sat_arousal),
            tr.sat_valence * np.tanh(v / tr.sat_valence),
        )
