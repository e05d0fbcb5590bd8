"""The closed loop: one tick from samples to music, on a virtual or live clock."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from attune.engine.affect import AffectEstimate, AffectEstimator, ModalityStatus, sam_to_unit
from attune.engine.controller import Controller, Decision, SelfReport
from attune.sensors.types import Chunk, Source
from attune.synthesis.composer import Composer, NoteEvent
from attune.synthesis.params import MusicParams

#: Which stage each stream kind feeds.
STAGE_OF_KIND = {"ecg": "hrv", "ppg": "hrv", "rr": "hrv", "eeg": "eeg"}


#: No new heartbeats: shape (0, 3), read-only (shared by every tick without a beat).
NO_HEARTBEATS = np.empty((0, 3))
NO_HEARTBEATS.flags.writeable = False


class StageResult(Protocol):
    """What a feature stage hands the loop each tick, whatever the modality.

    :class:`attune.engine.hrv.HRVFeatures` and :class:`attune.engine.eeg.EEGFeatures`
    satisfy it; a new modality only has to provide these members.

    Attributes
    ----------
    quality : float
        Fraction of good data in the window, in [0, 1].
    coverage_s : float
        Seconds of data the window features rest on.
    events : tuple of str
        Things that happened in this update, recorded in the session's events.
    heartbeats : ndarray, shape (n, 3)
        Heartbeats new in this update: time (s), RR (ms), corrected (0/1); shape (0, 3)
        for a modality without heartbeats or a tick without one.
    """

    @property
    def quality(self) -> float: ...  # noqa: D102 - documented above

    @property
    def coverage_s(self) -> float: ...  # noqa: D102

    @property
    def events(self) -> tuple[str, ...]: ...  # noqa: D102

    @property
    def heartbeats(self) -> np.ndarray: ...  # noqa: D102

    def as_features(self) -> dict[str, float | None]:
        """Return the features for the affect estimator (None where not available)."""
        ...


class Stage(Protocol):
    """A stateful feature stage: one ``update(chunk) -> result`` per tick."""

    def update(self, chunk: Chunk) -> StageResult:  # noqa: D102 - protocol
        ...


class SynthBackend(Protocol):
    """Where the music goes: the pyo renderer, a live synth, or the silent backend."""

    def send(self, t_end_s: float, params: MusicParams, notes: list[NoteEvent]) -> None:  # noqa: D102
        ...


@dataclass(frozen=True)
class TickResult:
    """Everything one tick produced.

    Attributes
    ----------
    t : float
        Tick time, seconds.
    features : dict of str to float or None
        Feature values (None where not available, and for every feature of a modality
        with no sample for the estimator's ``stale_s``).
    estimate : AffectEstimate
        The affect estimate.
    decision : Decision
        Target, parameters, hold state and events.
    n_notes : int
        Notes composed for ``[t, t + tick)``.
    newest_sample_t : float
        Timestamp of the newest sample used, seconds (``-inf`` if none yet).
    compute_ms : float
        Wall time spent in the tick, milliseconds (varies run to run).
    latency_ms : float
        Handoff time minus newest sample time: the data age at the tick plus the
        compute time, milliseconds (varies run to run).
    beats : ndarray, shape (n, 3)
        New beats: time (s), RR (ms), corrected (0/1).
    events : tuple of str
        Events raised by the stages this tick (e.g. the HRV stage's warning that the
        rhythm makes HRV meaningless) and by the affect estimator (short baseline,
        saturated or flat estimate), recorded in the session's events.
    self_reports : tuple of SelfReport
        The listener's ratings applied at this tick (recorded in ``selfreports``).
    status : dict of str to ModalityStatus
        Signal state of each modality (``"hrv"``, ``"eeg"``) at this tick: quality,
        coverage and seconds since its newest sample (for displays such as the console).
    """

    t: float
    features: dict[str, float | None]
    estimate: AffectEstimate
    decision: Decision
    n_notes: int
    newest_sample_t: float
    compute_ms: float
    latency_ms: float
    beats: np.ndarray = field(repr=False)
    events: tuple[str, ...] = ()
    self_reports: tuple[SelfReport, ...] = ()
    status: dict[str, ModalityStatus] = field(default_factory=dict)


class Engine:
    """Run the closed loop one tick at a time.

    Parameters
    ----------
    sources : sequence of Source
        Streams to pull each tick; each feeds the stage for its kind
        (:data:`STAGE_OF_KIND`).
    stages : dict of str to Stage
        ``"hrv"`` and/or ``"eeg"`` stage.
    estimator : AffectEstimator
        Features to affect.
    controller : Controller
        Affect to music parameters.
    composer : Composer
        Music parameters to note events.
    synths : sequence of SynthBackend
        Each receives the parameters and notes every tick (synth, MIDI log, ...).
    tick_s : float
        Tick period, seconds.
    listeners : sequence of callable
        Called as ``f(t, params)`` after each tick (e.g. the simulated listener hearing
        the music).
    """

    def __init__(
        self,
        *,
        sources: Sequence[Source],
        stages: dict[str, Stage],
        estimator: AffectEstimator,
        controller: Controller,
        composer: Composer,
        synths: Sequence[SynthBackend],
        tick_s: float,
        listeners: Sequence[Callable[[float, MusicParams], None]] = (),
    ) -> None:
        for src in sources:
            kind = src.info.kind
            if STAGE_OF_KIND.get(kind) not in stages:
                raise ValueError(f"stream {src.info.name!r} of kind {kind!r} has no stage to feed")
        self.sources = list(sources)
        self.stages = stages
        self.estimator = estimator
        self.controller = controller
        self.composer = composer
        self.synths = list(synths)
        self.tick_s = tick_s
        self.listeners = list(listeners)
        self._last_sample_t = {name: -np.inf for name in stages}
        self._results: dict[str, StageResult] = {}

    def step(self, t: float) -> TickResult:
        """Run the tick at time ``t`` (seconds) and hand its parameters to the synth."""
        t_start = time.perf_counter()
        beats = NO_HEARTBEATS
        events: tuple[str, ...] = ()
        for src in self.sources:
            chunk = src.pull(t)
            stage_name = STAGE_OF_KIND[src.info.kind]
            self._results[stage_name] = self.stages[stage_name].update(chunk)
            if chunk.n_samples:
                self._last_sample_t[stage_name] = max(
                    self._last_sample_t[stage_name], float(chunk.timestamps[-1])
                )
        features: dict[str, float | None] = {}
        status: dict[str, ModalityStatus] = {}
        for name, res in self._results.items():
            age = t - self._last_sample_t[name]
            feats = res.as_features()
            if age > self.estimator.stale_s:  # stale: missing (NULL), never frozen values
                feats = dict.fromkeys(feats)
            features.update(feats)
            status[name] = ModalityStatus(res.quality, res.coverage_s, age)
            new_beats = res.heartbeats
            if new_beats.size:  # most ticks bring no heartbeat
                beats = np.concatenate([beats, new_beats]) if beats.size else new_beats
            events += res.events
        # Commands queued for this tick (skip, pause) decide whether the baseline runs.
        phase = self.controller.begin_tick(t)
        reports = self.controller.take_self_reports()
        for rep in reports:  # the listener's own rating: intake or anchor of the estimate
            events += self.estimator.self_report(
                t, rep.kind, sam_to_unit(rep.arousal), sam_to_unit(rep.valence)
            )
        estimate = self.estimator.update(t, features, status, baseline=phase == "baseline")
        events += estimate.events  # short baseline, saturated or flat estimate ...
        decision = self.controller.update(estimate)
        notes = self.composer.advance(decision.params, t + self.tick_s)
        for synth in self.synths:
            synth.send(t + self.tick_s, decision.params, notes)
        for listen in self.listeners:
            listen(t, decision.params)
        newest = max(self._last_sample_t.values(), default=-np.inf)
        compute_ms = (time.perf_counter() - t_start) * 1e3
        return TickResult(
            t=t,
            features=features,
            estimate=estimate,
            decision=decision,
            n_notes=len(notes),
            newest_sample_t=newest,
            compute_ms=compute_ms,
            latency_ms=(t - newest) * 1e3 + compute_ms,
            beats=beats,
            events=events,
            self_reports=reports,
            status=status,
        )
