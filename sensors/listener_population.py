"""A population of simulated listeners in responder classes, with split seed spaces.

:func:`draw_population` draws ``n`` people, each with physiology
(:class:`~attune.sensors.simulated_listener.ListenerTraits`), a response to music
(:class:`~attune.sensors.listener_response.ResponseTraits`) and a responder class in the
proportions of :data:`CLASS_SHARES` (docs/science/listeners.md):

========== ===== ==============================================================
class      share arousal sensitivities (x the moderate responder's, per listener)
========== ===== ==============================================================
strong     0.20  x 1.4-2.2
moderate   0.35  x 0.75-1.3
weak       0.20  x 0.25-0.6
none       0.18  x 0-0.08 (valence too): music moves neither affect nor physiology
paradoxical 0.07 tempo, loudness, density and register reversed (x -0.6 to -1.2);
                 they dislike slow, quiet music: "calming" music arouses them
========== ===== ==============================================================

Within a class every cue's sensitivity is drawn around its mean (log-normal, SD 0.35)
and is absent (0) with probability 0.15, so two listeners of one class can answer
different cues. The class is known to each member for evaluation only; nothing in the
loop may read it.

Seeds: the listener seed of member ``i`` of population ``seed`` is ``2 (seed N + i)`` for
the ``"tuning"`` split and ``2 (seed N + i) + 1`` for ``"heldout"`` (``N = 1_000_003``),
so the two splits never share a listener, whatever ``seed`` and ``n``. Everything a
member is (class, traits, response, intake rating error) is drawn from its listener
seed alone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from attune.sensors.listener_response import (
    AROUSAL_SENS_MEAN,
    VALENCE_SENS_MEAN,
    ResponseTraits,
)
from attune.sensors.simulated_listener import ListenerTraits, SimulatedListener
from attune.sensors.types import SensorError

#: Responder classes and their shares of the population [E] (docs/science/listeners.md).
CLASS_SHARES: dict[str, float] = {
    "strong": 0.20,
    "moderate": 0.35,
    "weak": 0.20,
    "none": 0.18,
    "paradoxical": 0.07,
}
#: Classes whose arousal moves the usual way with the music.
RESPONDERS: frozenset[str] = frozenset({"strong", "moderate", "weak"})

_SCALE = {  # class: (lo, hi) of the arousal-sensitivity multiplier
    "strong": (1.4, 2.2),
    "moderate": (0.75, 1.3),
    "weak": (0.25, 0.6),
    "none": (0.0, 0.08),
    "paradoxical": (0.6, 1.2),
}
_N = 1_000_003
_ABSENT_P = 0.15
_CUE_SD_LN = 0.35

Split = Literal["tuning", "heldout"]


@dataclass(frozen=True)
class PopulationMember:
    """One drawn listener.

    Attributes
    ----------
    index : int
        Position in the population.
    split : str
        ``"tuning"`` or ``"heldout"``.
    seed : int
        Listener seed (disjoint between splits; see the module docstring).
    listener_class : str
        Key of :data:`CLASS_SHARES` (for evaluation only).
    traits : ListenerTraits
        Physiology and affect dynamics, artifact rates included.
    response : ResponseTraits
        The response to music.
    intake_error : float
        Error of this person's intake self-rating of arousal (SD 0.1), arousal units.
    """

    index: int
    split: str
    seed: int
    listener_class: str
    traits: ListenerTraits
    response: ResponseTraits
    intake_error: float

    @property
    def responder(self) -> bool:
        """True for strong, moderate and weak responders."""
        return self.listener_class in RESPONDERS

    def listener(self, **kwargs) -> SimulatedListener:
        """Build this member's :class:`SimulatedListener` (keywords: rates, channels, t0)."""
        return SimulatedListener(
            seed=self.seed, traits=self.traits, response=self.response, **kwargs
        )


def listener_seed(seed: int, index: int, split: Split) -> int:
    """Return the listener seed of member ``index`` of population ``seed`` in ``split``."""
    if split not in ("tuning", "heldout"):
        raise SensorError(f"split must be 'tuning' or 'heldout', got {split!r}")
    if seed < 0 or index < 0:
        raise SensorError(f"population seed and index must be >= 0, got {seed!r}, {index!r}")
    return 2 * (int(seed) * _N + int(index)) + (1 if split == "heldout" else 0)


def draw_response(rng: np.random.Generator, listener_class: str) -> ResponseTraits:
    """Draw the response to music of one listener of ``listener_class``."""
    if listener_class not in CLASS_SHARES:
        raise SensorError(f"unknown listener class {listener_class!r}")
    lo, hi = _SCALE[listener_class]
    scale = float(rng.uniform(lo, hi))
    n = len(AROUSAL_SENS_MEAN)
    spread = np.exp(rng.normal(0.0, _CUE_SD_LN, size=(2, n)))
    present = rng.uniform(size=(2, n)) >= _ABSENT_P
    a_sens = np.array(AROUSAL_SENS_MEAN) * spread[0] * present[0] * scale
    v_scale = {"none": scale, "weak": 0.6, "strong": 1.3}.get(listener_class, 1.0)
    v_sens = np.array(VALENCE_SENS_MEAN) * spread[1] * present[1] * v_scale
    like0 = float(np.clip(rng.normal(0.2, 0.3), -0.8, 0.8))
    like_tempo = float(rng.normal(0.0, 0.2))
    if listener_class == "paradoxical":
        # slow, soft, sparse, low music arouses them (disliked or trauma-linked).
        a_sens[:4] = -np.abs(a_sens[:4])
        like0 = float(rng.uniform(-0.7, -0.2))
        like_tempo = float(rng.uniform(0.3, 0.8))
    sat = 1.0 if listener_class != "none" else 0.2
    return ResponseTraits(
        tempo_ref_bpm=float(np.clip(rng.normal(95.0, 10.0), 75.0, 115.0)),
        loudness_ref_db=float(np.clip(rng.normal(-28.0, 3.0), -36.0, -20.0)),
        arousal_sens=tuple(float(x) for x in a_sens),
        valence_sens=tuple(float(x) for x in v_sens),
        mode_valence=float(rng.uniform(0.15, 0.45)) * v_scale,
        like0=like0,
        like_tempo=like_tempo,
        like_mode=float(rng.uniform(0.0, 0.2)),
        like_rough=float(rng.uniform(0.1, 0.5)),
        like_arousal=float(rng.uniform(0.05, 0.2)) * (scale if listener_class == "none" else 1.0),
        like_valence=float(rng.uniform(0.15, 0.4)) * (scale if listener_class == "none" else 1.0),
        hab_tau_s=float(rng.uniform(180.0, 600.0)),
        hab_depth=float(rng.uniform(0.1, 0.45)),
        fam_tau_s=float(rng.uniform(300.0, 1200.0)),
        fam_gain=float(rng.uniform(0.0, 0.3)),
        sat_arousal=sat * float(rng.uniform(0.7, 1.2)),
        sat_valence=sat * float(rng.uniform(0.5, 0.9)),
    )


def draw_member(seed: int, index: int, split: Split = "tuning", *, artifacts: bool = True):
    """Draw member ``index`` of population ``seed`` (see :func:`draw_population`)."""
    ls = listener_seed(seed, index, split)
    rng = np.random.default_rng([ls, 0xA77])
    names = list(CLASS_SHARES)
    cls = names[int(rng.choice(len(names), p=list(CLASS_SHARES.values())))]
    traits = ListenerTraits.draw(rng)
    if artifacts:
        traits = replace(
            traits,
            ectopic_rate=float(rng.uniform(0.0, 0.02)),
            blink_rate_hz=float(rng.uniform(0.05, 0.35)),
            emg_rate_hz=float(rng.uniform(0.0, 0.05)),
        )
    response = draw_response(rng, cls)
    return PopulationMember(
        index=index,
        split=split,
        seed=ls,
        listener_class=cls,
        traits=traits,
        response=response,
        intake_error=float(rng.normal(0.0, 0.1)),
    )


def draw_population(
    n: int, seed: int = 0, split: Split = "tuning", *, artifacts: bool = True
) -> list[PopulationMember]:
    """Draw ``n`` listeners of population ``seed`` from the ``split`` seed space.

    Parameters
    ----------
    n : int
        Population size (>= 0).
    seed : int
        Population seed (>= 0).
    split : {"tuning", "heldout"}
        Seed space: tune on ``"tuning"``, report on ``"heldout"``; they never share a
        listener.
    artifacts : bool, default True
        Draw artifact rates (ectopic/missed/extra beats 0-2 %, blinks 0.05-0.35 Hz, EMG
        bursts 0-0.05 Hz); False gives clean signals.

    Returns
    -------
    list of PopulationMember
        In index order; member ``i`` is the same whatever ``n``.
    """
    if n < 0:
        raise SensorError(f"population size must be >= 0, got {n!r}")
    return [draw_member(seed, i, split, artifacts=artifacts) for i in range(n)]
