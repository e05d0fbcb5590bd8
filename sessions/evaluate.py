"""Evaluation harness: the closed loop against a scripted ramp and frozen calm music.

``attune evaluate`` draws simulated listeners of known response classes
(:func:`draw_subject`, members of
:func:`attune.sensors.listener_population.draw_population`: strong, moderate and weak
responders, non-responders ``none``, paradoxical) and runs each one, on the same seed
(same physiology, same noise), under three conditions:

* **closed**: the session's controller (iso principle, music leads, response learning);
* **ramp**: a scripted feed-forward ramp without feedback: the music goes from the
  intake state to ``goal - k_ramp (intake - goal)`` along the protocol's transition
  and stays there; the estimator is not consulted (the same protocol fades);
* **frozen**: the neutral calm preset throughout (``control.enabled = false``);
* **oracle**: the closed loop fed the listener's true state instead of the estimator's
  (shifted by the intake rating's error, so it agrees with the intake; confidence 1):
  what a perfect sensor would give. The gap between ``oracle`` and ``closed`` is the
  estimator's share; what ``oracle`` misses is the controller's and the population's
  (a goal that the envelope's strongest music cannot reach).

Splits
    Listener ``i`` of population ``seed`` in split ``s`` has the population's listener
    seed for ``s``: the ``tuning`` split (for choosing gains and thresholds) never
    shares a listener with the ``heldout`` split (for figures).

Protocol (:class:`EvalProtocol`, [E])
    Baseline 60 s (silent) -> match 60 s -> transition 300 s (cosine) -> maintain 300 s:
    12 minutes. The goal is relative to each listener's intake rating:
    ``goal = intake - 0.5``, the intake rating being the true mean arousal of the
    baseline plus rating error (SD 0.1). Control tick 0.5 s.

Measures (on the listener's true arousal, not the estimate; ``true_goal = start - 0.5``)
    * **success**: the mean true arousal over the last :data:`END_WINDOW_S` of the
      maintain phase lies within :data:`TARGET_BAND` of the goal (the listener is
      where the session wanted them at its end, not merely passing through);
    * **time to target**: from the start of the transition until the true arousal
      entered the band and stayed :data:`TARGET_HOLD_S` (None: never);
    * **end error**: ``|mean end arousal - goal|``; **overshoot**: the largest excursion
      past the goal in the direction of travel after the transition began;
    * **alarms**: every ``ALARM`` event, with its time; true when its code matches the
      listener's class (``paradoxical-response`` for paradoxical, ``no-response`` for
      non-responders), false on responders;
    * **paradoxical listeners**: the time the response showed (true arousal first
      :data:`SHOW_WRONG_WAY` away from the goal direction, from the transition start),
      the time the music stopped moving further toward calm (its most goal-ward
      expressed arousal), and whether it ended at a tempo or loudness bound;
    * **non-responders**: the alarm time, and whether the music ended at the neutral
      preset (expressed arousal within :data:`NEUTRAL_TOL`);
    * **estimator**: Pearson correlation of estimate and truth per axis, after the
      baseline (closed loop);
    * **envelope**: every tick of every run against the bounds, slew limits and the
      one-mode-step-per-phrase rule (:func:`check_run`).

Runs use the silent backend, no session folders, and a process pool (one task per
listener; results in listener order, so identical for any number of workers).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context

import numpy as np

from attune.sensors.types import Chunk, Source, empty_chunk

#: |mean end arousal - goal| below this counts as success (arousal units).
TARGET_BAND = 0.2
#: The band must be held this long for the time to target, seconds.
TARGET_HOLD_S = 60.0
#: Window at the end of the session over which the end arousal is averaged, seconds.
END_WINDOW_S = 60.0
#: True movement away from the goal that marks a paradoxical response as showing.
SHOW_WRONG_WAY = 0.1
#: Music within this of the neutral preset's expressed arousal "rests at neutral".
NEUTRAL_TOL = 0.15
#: The two listener seed spaces.
SPLITS = ("tuning", "heldout")
CONDITIONS = ("closed", "ramp", "frozen", "oracle")
#: Classes in report order; the first three are responders.
CLASSES = ("strong", "moderate", "weak", "none", "paradoxical")
RESPONDERS = frozenset({"strong", "moderate", "weak"})
TRUE_ALARM = {"paradoxical": "paradoxical-response", "none": "no-response"}


@dataclass(frozen=True)
class EvalProtocol:
    """How each evaluation session runs (see the module docstring).

    Attributes
    ----------
    baseline_s, match_s, transition_s, maintain_s : float
        Phase durations, seconds.
    goal_delta : float
        Goal arousal relative to the intake rating.
    intake_error_sd : float
        SD of the intake rating around the true set point.
    tick_s : float
        Control tick, seconds.
    artifacts : bool
        Draw random artifact rates (ectopic beats, blinks, EMG).
    ramp_gain : float
        ``k_ramp`` of the scripted ramp: its end point is ``goal - k_ramp (intake - goal)``
        (the lead bounded by ``control.max_lead``). Chosen on the tuning split as the best
        fixed ramp (responder success 8%, 19%, 44%, 60% for 0.25, 0.5, 1, 2 on 60 tuning
        listeners): the ramp the closed loop is compared with is the strongest one.
    """

    baseline_s: float = 60.0
    match_s: float = 60.0
    transition_s: float = 300.0
    maintain_s: float = 300.0
    goal_delta: float = -0.5
    intake_error_sd: float = 0.1
    tick_s: float = 0.5
    artifacts: bool = True
    ramp_gain: float = 2.0

    @property
    def total_s(self) -> float:
        """Session length, seconds."""
        return self.baseline_s + self.match_s + self.transition_s + self.maintain_s

    @property
    def lead_start_s(self) -> float:
        """Start of the transition, seconds."""
        return self.baseline_s + self.match_s


@dataclass(frozen=True)
class RunResult:
    """One listener under one condition.

    Attributes
    ----------
    listener : int
        Listener index.
    cls : str
        Response class of the listener (one of :data:`CLASSES`).
    condition : str
        One of :data:`CONDITIONS`.
    goal : float
        Goal in the listener's true units.
    start_arousal, end_arousal : float
        True arousal at the start of the transition and its mean over the last
        :data:`END_WINDOW_S`.
    success : bool
        ``|end_arousal - goal| < TARGET_BAND``.
    time_to_target_s : float or None
        Seconds from the transition start to the held band; None if never.
    end_error : float
        ``|end_arousal - goal|``.
    overshoot : float
        Largest excursion past the goal after the transition began (>= 0).
    violations : int
        Ticks with a bound, slew or phrase-rule violation.
    first_violation : str
        Description of the first violation ("" if none).
    alarms : list of (float, str)
        ``(seconds from the transition start, code)`` of every ALARM event.
    show_s : float or None
        Paradoxical: seconds from the transition start until the true arousal moved
        :data:`SHOW_WRONG_WAY` away from the goal (None: never).
    stop_s : float or None
        Seconds from the transition start to the music's most goal-ward point.
    end_music : float
        Arousal the music expressed at the end.
    at_bound : bool
        The music ended at a tempo or loudness bound of the envelope.
    corr_arousal, corr_valence : float or None
        Estimate-truth correlation after the baseline (closed loop only).
    cpu_s : float
        CPU seconds of the run.
    """

    listener: int
    cls: str
    condition: str
    goal: float
    start_arousal: float
    end_arousal: float
    success: bool
    time_to_target_s: float | None
    end_error: float
    overshoot: float
    violations: int
    first_violation: str = ""
    alarms: list[tuple[float, str]] = field(default_factory=list)
    show_s: float | None = None
    stop_s: float | None = None
    end_music: float = 0.0
    at_bound: bool = False
    corr_arousal: float | None = None
    corr_valence: float | None = None
    cpu_s: float = 0.0


@dataclass
class EvalReport:
    """Results of a population evaluation.

    Attributes
    ----------
    protocol : EvalProtocol
        The protocol.
    seed : int
        Population seed.
    split : str
        ``"tuning"`` or ``"heldout"``.
    runs : list of RunResult
        Every run, in listener then condition order.
    summary : dict
        See :func:`summarize`.
    """

    protocol: EvalProtocol
    seed: int
    split: str
    runs: list[RunResult] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def to_json(self) -> str:
        """Return the report as JSON text."""
        return json.dumps(
            {
                "protocol": asdict(self.protocol),
                "seed": self.seed,
                "split": self.split,
                "summary": self.summary,
                "runs": [asdict(r) for r in self.runs],
            },
            indent=2,
        )

    def format(self) -> str:
        """Return the per-class table as markdown."""
        return format_summary(self.summary, self.protocol, self.seed, self.split)


def format_summary(s: dict, protocol: EvalProtocol, seed: int, split: str) -> str:
    """Return the markdown tables of a :func:`summarize` result."""
    n = s["n_listeners"]
    lines = [
        f"{n} simulated listeners, split {split}, seed {seed}; goal = start "
        f"{protocol.goal_delta:+.2f}; success: mean true arousal over the last "
        f"{END_WINDOW_S:.0f} s within {TARGET_BAND} of the goal; session "
        f"{protocol.total_s / 60:.0f} min",
        "",
        "| class | n | condition | success | median time to target | median end error "
        "| median overshoot |",
        "|---|---|---|---|---|---|---|",
    ]
    for cls in (*CLASSES, "responders", "all"):
        for cond in CONDITIONS:
            c = s["by_class"].get(cls, {}).get(cond)
            if not c or not c["n"]:
                continue
            mt = c["median_time_to_target_s"]
            lines.append(
                f"| {cls} | {c['n']} | {cond} | {c['success_rate'] * 100:.0f}% | "
                f"{'-' if mt is None else f'{mt:.0f} s'} | {c['median_end_error']:.3f} | "
                f"{c['median_overshoot']:.3f} |"
            )
    a = s["alarms"]
    lines += [
        "",
        "Closed loop, alarms and stops:",
        f"- paradoxical: alarm in {a['paradoxical_alarmed']}/{a['paradoxical_n']}; music "
        f"stopped moving toward calm within 180 s of the response showing in "
        f"{a['paradoxical_stopped_3min']}/{a['paradoxical_n']}; ended at a tempo or "
        f"loudness bound: {a['paradoxical_at_bound']}",
        f"- non-responders: flagged within 300 s in {a['nonresponder_flagged_5min']}/"
        f"{a['nonresponder_n']}; music at the neutral preset at the end in "
        f"{a['nonresponder_at_neutral']}/{a['nonresponder_n']}",
        f"- false alarms on responders: {a['responder_false']}/{a['responder_n']} "
        f"({a['responder_false_rate'] * 100:.1f}%)",
        f"- alarms by code and class: {json.dumps(a['by_class'], sort_keys=True)}",
        "",
        f"Estimator r(estimate, truth) after the baseline, median over listeners: arousal "
        f"{_fmt(s['estimator']['arousal'])}, valence {_fmt(s['estimator']['valence'])}",
        f"Envelope violations (ticks, all runs): {s['violations']}",
        f"CPU: {s['cpu_s']:.0f} s in all ({s['cpu_s_per_listener']:.1f} s per listener)",
    ]
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


class DropoutSource:
    """Wrap a source so it delivers nothing during time windows (a sensor dropout).

    The wrapped source is still pulled (its data during the window are lost, as when a
    wearable loses contact); the engine sees empty chunks and its staleness rules apply.

    Parameters
    ----------
    source : Source
        The source to wrap.
    windows : sequence of (float, float)
        ``[start_s, end_s)`` windows of session time without data.
    """

    def __init__(self, source: Source, windows) -> None:
        self.source = source
        self.info = source.info
        self.windows = [(float(a), float(b)) for a, b in windows]

    def pull(self, t: float) -> Chunk:
        """Pull the wrapped source up to ``t``; drop the samples stamped inside a window."""
        chunk = self.source.pull(t)
        if not chunk.n_samples or not self.windows:
            return chunk
        ts = chunk.timestamps
        keep = np.ones(ts.size, dtype=bool)
        for a, b in self.windows:
            keep &= ~((ts >= a) & (ts < b))
        if keep.all():
            return chunk
        if not keep.any():
            return empty_chunk(self.info)
        kw = {}
        if chunk.labels:
            kw["labels"] = tuple(lab for lab, k in zip(chunk.labels, keep, strict=True) if k)
        return Chunk(data=chunk.data[:, keep], timestamps=ts[keep], info=self.info, **kw)


def eval_config(
    protocol: EvalProtocol, *, goal: float, intake: float, closed: bool, condition: str = ""
):
    """Return the config of one evaluation run (session defaults apart from the protocol).

    ``condition`` ``"ramp"`` sets the law to pure feedforward (no proportional or
    integral term, ``feedforward = ramp_gain``, no response learning); ``"frozen"`` (or
    ``closed=False``) freezes the neutral calm preset; ``"closed"`` and ``"oracle"``
    keep the session's law.
    """
    from attune.sessions.config import SessionConfig

    condition = condition or ("closed" if closed else "frozen")
    base = SessionConfig()
    control: dict = {"command_channel": False, "open_loop_music": "neutral"}
    if condition == "frozen":
        control["enabled"] = False
    elif condition == "ramp":
        control.update(
            lead_gain=0.0,
            integral_per_s=0.0,
            feedforward=protocol.ramp_gain,
            learn_response=False,
        )
    return base.model_copy(
        update={
            "tick_s": protocol.tick_s,
            "render_audio": False,
            "goal": base.goal.model_copy(update={"arousal": goal}),
            "phases": base.phases.model_copy(
                update={
                    "baseline_s": protocol.baseline_s,
                    "match_s": protocol.match_s,
                    "transition_s": protocol.transition_s,
                    "maintain_s": protocol.maintain_s,
                    "recovery_s": 0.0,
                }
            ),
            "estimator": base.estimator.model_copy(update={"prior_arousal": intake}),
            "control": base.control.model_copy(update=control),
        }
    )


@dataclass
class Subject:
    """One simulated listener drawn for the evaluation.

    Attributes
    ----------
    listener : object
        The simulated listener (``sources()``, ``state_at(t)``), its silent baseline
        already integrated.
    hear : callable
        ``hear(t, params)``: play ``params`` to the listener from ``t``.
    cls : str
        Response class (one of :data:`CLASSES`).
    intake : float
        Intake rating of arousal (the estimator's anchor).
    goal : float
        The goal the engine is given, ``intake + goal_delta``.
    true_goal : float
        The goal in the listener's true units, ``start + goal_delta``.
    """

    listener: object
    hear: Callable
    cls: str
    intake: float
    goal: float
    true_goal: float


def draw_subject(seed: int, index: int, protocol: EvalProtocol, split: str = "heldout") -> Subject:
    """Draw listener ``index`` of population ``seed`` in ``split`` (deterministic)."""
    from attune.sensors.listener_population import draw_member
    from attune.sessions.simulated_run import hear_music

    member = draw_member(seed, index, split, artifacts=protocol.artifacts)  # type: ignore[arg-type]
    listener = member.listener()
    listener.state_at(protocol.baseline_s)  # silence: music cannot act before it ends
    h = listener.history
    start = float(np.mean(h.arousal[h.t <= protocol.baseline_s]))
    intake = float(np.clip(start + member.intake_error, -1.0, 1.0))
    goal = float(np.clip(intake + protocol.goal_delta, -1.0, 1.0))
    true_goal = float(np.clip(start + protocol.goal_delta, -1.0, 1.0))
    return Subject(
        listener,
        lambda t, p: hear_music(listener, t, p),
        member.listener_class,
        intake,
        goal,
        true_goal,
    )


def draw_listener(seed: int, index: int, protocol: EvalProtocol, split: str = "heldout"):
    """Return ``(listener, intake, goal, true_goal)`` of :func:`draw_subject`."""
    s = draw_subject(seed, index, protocol, split)
    return s.listener, s.intake, s.goal, s.true_goal


def check_run(decisions, envelope, dt: float) -> tuple[int, str]:
    """Count ticks breaking the envelope or the one-mode-step-per-phrase rule.

    Parameters
    ----------
    decisions : sequence of attune.engine.controller.Decision
        Every tick of a run, in order.
    envelope : attune.engine.controller.Envelope
        The session's envelope.
    dt : float
        Tick length, seconds.

    Returns
    -------
    (int, str)
        Ticks with a violation, and the first one described.
    """
    from attune.engine.controller import phrase_s

    n, first = 0, ""
    prev, prev_over = None, ()
    last_mode_t = -np.inf
    for i, d in enumerate(decisions):
        exempt = tuple(set(d.overridden) | set(prev_over))
        bad = envelope.violations(prev, d.params, dt, exempt=exempt)
        if prev is not None and d.params.mode != prev.mode and "mode" not in exempt:
            if i * dt - last_mode_t < phrase_s(prev.tempo_bpm) - 1e-9:
                bad.append(f"mode stepped {i * dt - last_mode_t:.2f} s after the last step")
            last_mode_t = i * dt
        if bad:
            n += 1
            first = first or f"tick {i}: " + "; ".join(bad)
        prev, prev_over = d.params, d.overridden
    return n, first


class _TrueStateEstimator:
    """The listener's true state as the estimate, with confidence 1 (the oracle condition).

    ``offset`` is the intake rating's error (intake minus the true start), so the oracle
    agrees with the intake the goal was set from. During the baseline it reports the
    intake with confidence 0, as the real estimator does.
    """

    def __init__(self, listener, intake: float, offset: float, baseline_s: float) -> None:
        self.listener = listener
        self.intake = intake
        self.offset = offset
        self.baseline_s = baseline_s

    def update(self, t: float, features, status, *, baseline: bool | None = None):
        from attune.engine.affect import AffectEstimate

        if (t < self.baseline_s) if baseline is None else baseline:
            return AffectEstimate(self.intake, 0.0, 0.0, t)
        a, v = self.listener.state_at(t)
        return AffectEstimate(float(np.clip(a + self.offset, -1.0, 1.0)), float(v), 1.0, t)


class _BlindEstimator:
    """An estimator that reports the intake rating, confidently (the ramp and frozen music).

    The scripted conditions do not consult the listener's physiology, so their runs
    need no sensor streams at all.
    """

    def __init__(self, intake: float, baseline_s: float) -> None:
        self.intake = intake
        self.baseline_s = baseline_s

    def update(self, t: float, features, status, *, baseline: bool | None = None):
        from attune.engine.affect import AffectEstimate

        base = (t < self.baseline_s) if baseline is None else baseline
        return AffectEstimate(self.intake, 0.0, 0.0 if base else 1.0, t)


def _corr(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 10 or np.std(x) < 1e-9 or np.std(y) < 1e-9:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def run_one(
    seed: int, index: int, condition: str, protocol: EvalProtocol, split: str = "heldout"
) -> RunResult:
    """Run one listener under one condition (one of :data:`CONDITIONS`)."""
    from attune.engine.clocks import VirtualClock
    from attune.sessions.build import build_engine, make_envelope
    from attune.sessions.simulated_run import time_to_band
    from attune.synthesis.params import music_arousal
    from attune.synthesis.synth import SilentBackend

    cpu0 = time.process_time()
    sub = draw_subject(seed, index, protocol, split)
    listener = sub.listener
    cfg = eval_config(protocol, goal=sub.goal, intake=sub.intake, closed=True, condition=condition)
    closed = condition == "closed"
    engine = build_engine(
        cfg,
        sources=listener.sources() if closed else [],  # type: ignore[attr-defined]
        synths=[SilentBackend()],
        listeners=[sub.hear],
    )
    if condition == "oracle":
        offset = sub.goal - sub.true_goal  # intake - start: the two goals differ by it
        engine.estimator = _TrueStateEstimator(  # type: ignore[assignment]
            listener, sub.intake, offset, protocol.baseline_s
        )
    elif not closed:
        engine.estimator = _BlindEstimator(sub.intake, protocol.baseline_s)  # type: ignore[assignment]
    clock = VirtualClock(tick_s=cfg.tick_s)
    n = int(round(protocol.total_s / cfg.tick_s))
    t = np.empty(n)
    true_a = np.empty(n)
    true_v = np.empty(n)
    est_a = np.empty(n)
    est_v = np.empty(n)
    music = np.empty(n)
    decisions = []
    alarms: list[tuple[float, str]] = []
    lead0 = protocol.lead_start_s
    for i in range(n):
        r = engine.step(clock.next_tick())
        t[i] = r.t
        true_a[i], true_v[i] = listener.state_at(r.t)  # type: ignore[attr-defined]
        est_a[i], est_v[i] = r.estimate.arousal, r.estimate.valence
        d = r.decision
        music[i] = music_arousal(d.params)
        decisions.append(d)
        for e in d.events:
            if e.startswith("ALARM "):
                alarms.append((r.t - lead0, e.split()[2].rstrip(":")))
    env = make_envelope(cfg.safety)
    n_bad, first = check_run(decisions, env, cfg.tick_s)
    sel = t >= lead0
    ttt = time_to_band(t[sel], true_a[sel], sub.true_goal, band=TARGET_BAND, hold_s=TARGET_HOLD_S)
    ttt = None if ttt is None else ttt - lead0
    i0 = int(np.argmax(sel))
    start = float(true_a[i0])
    direction = float(np.sign(protocol.goal_delta)) or -1.0
    past = direction * (true_a[sel] - sub.true_goal)
    end = float(np.mean(true_a[t >= protocol.total_s - END_WINDOW_S]))
    wrong = np.nonzero(-direction * (true_a[sel] - start) >= SHOW_WRONG_WAY)[0]
    show_s = float(t[sel][wrong[0]] - lead0) if wrong.size else None
    goalward = direction * music[sel]
    stop_s = float(t[sel][int(np.argmax(goalward))] - lead0)
    last = decisions[-1].params
    tempo_lo, tempo_hi = env.bounds_of("tempo_bpm")
    loud_lo, loud_hi = env.bounds_of("loudness_db")
    at_bound = bool(
        min(last.tempo_bpm - tempo_lo, tempo_hi - last.tempo_bpm) < 0.5
        or min(last.loudness_db - loud_lo, loud_hi - last.loudness_db) < 0.25
    )
    post = t >= protocol.baseline_s
    return RunResult(
        listener=index,
        cls=sub.cls,
        condition=condition,
        goal=sub.true_goal,
        start_arousal=start,
        end_arousal=end,
        success=bool(abs(end - sub.true_goal) < TARGET_BAND),
        time_to_target_s=ttt,
        end_error=abs(end - sub.true_goal),
        overshoot=float(max(0.0, np.max(past))) if past.size else 0.0,
        violations=n_bad,
        first_violation=first,
        alarms=alarms,
        show_s=show_s,
        stop_s=stop_s,
        end_music=float(music[-1]),
        at_bound=at_bound,
        corr_arousal=_corr(est_a[post], true_a[post]) if closed else None,
        corr_valence=_corr(est_v[post], true_v[post]) if closed else None,
        cpu_s=time.process_time() - cpu0,
    )


def run_listener(seed: int, index: int, protocol: EvalProtocol, split: str) -> list[RunResult]:
    """Run one listener under every condition (one pool task)."""
    return [run_one(seed, index, c, protocol, split) for c in CONDITIONS]


def _run_args(args: tuple) -> list[RunResult]:
    return run_listener(*args)


def _median(xs: list[float]) -> float | None:
    return float(np.median(xs)) if xs else None


def _cond_summary(rs: list[RunResult]) -> dict:
    times = [np.inf if r.time_to_target_s is None else r.time_to_target_s for r in rs]
    med_t = float(np.median(times)) if rs else np.inf
    return {
        "n": len(rs),
        "success_rate": float(np.mean([r.success for r in rs])) if rs else 0.0,
        # failures count as never (infinite time): the median over everyone
        "median_time_to_target_s": med_t if np.isfinite(med_t) else None,
        "median_end_error": _median([r.end_error for r in rs]) or 0.0,
        "median_overshoot": _median([r.overshoot for r in rs]) or 0.0,
        "max_overshoot": float(max((r.overshoot for r in rs), default=0.0)),
        "violations": int(sum(r.violations for r in rs)),
    }


def summarize(runs: list[RunResult], neutral_arousal: float | None = None) -> dict:
    """Per class and condition: success, times, errors; closed-loop alarms; estimator."""
    from attune.sessions.config import SessionConfig
    from attune.synthesis.params import music_arousal, params_for

    if neutral_arousal is None:
        ct = SessionConfig().control
        neutral_arousal = music_arousal(params_for(ct.neutral_arousal, ct.neutral_valence))
    groups: dict[str, frozenset[str]] = {c: frozenset({c}) for c in CLASSES}
    groups["responders"] = RESPONDERS
    groups["all"] = frozenset(CLASSES)
    by_class = {
        g: {
            c: _cond_summary([r for r in runs if r.condition == c and r.cls in m])
            for c in CONDITIONS
        }
        for g, m in groups.items()
    }
    closed = [r for r in runs if r.condition == "closed"]
    par = [r for r in closed if r.cls == "paradoxical"]
    non = [r for r in closed if r.cls == "none"]
    resp = [r for r in closed if r.cls in RESPONDERS]

    def has(r: RunResult, code: str, within: float = np.inf) -> bool:
        return any(c == code and s <= within for s, c in r.alarms)

    def stopped(r: RunResult) -> bool:
        if r.show_s is None:  # the wrong-way response never showed: nothing to stop
            return True
        return r.stop_s is not None and r.stop_s <= r.show_s + 180.0

    by_code: dict[str, dict[str, int]] = {}
    for r in closed:
        for _, code in r.alarms:
            by_code.setdefault(code, {}).setdefault(r.cls, 0)
            by_code[code][r.cls] += 1
    false_resp = sum(1 for r in resp if r.alarms)
    alarms = {
        "paradoxical_n": len(par),
        "paradoxical_alarmed": sum(has(r, "paradoxical-response") for r in par),
        "paradoxical_stopped_3min": sum(stopped(r) for r in par),
        "paradoxical_at_bound": sum(r.at_bound for r in par),
        "nonresponder_n": len(non),
        "nonresponder_flagged_5min": sum(has(r, "no-response", 300.0) for r in non),
        "nonresponder_at_neutral": sum(
            abs(r.end_music - neutral_arousal) <= NEUTRAL_TOL for r in non
        ),
        "responder_n": len(resp),
        "responder_false": false_resp,
        "responder_false_rate": false_resp / len(resp) if resp else 0.0,
        "by_class": by_code,
    }
    cpu = float(sum(r.cpu_s for r in runs))
    n_listeners = len({r.listener for r in runs})
    return {
        "n_listeners": n_listeners,
        "by_class": by_class,
        "alarms": alarms,
        "estimator": {
            "arousal": _median([r.corr_arousal for r in closed if r.corr_arousal is not None]),
            "valence": _median([r.corr_valence for r in closed if r.corr_valence is not None]),
        },
        "violations": int(sum(r.violations for r in runs)),
        "cpu_s": cpu,
        "cpu_s_per_listener": cpu / n_listeners if n_listeners else 0.0,
    }


def evaluate(
    n_listeners: int,
    *,
    seed: int = 0,
    split: str = "heldout",
    protocol: EvalProtocol | None = None,
    jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> EvalReport:
    """Run ``n_listeners`` simulated listeners under the three conditions.

    Parameters
    ----------
    n_listeners : int
        Population size (>= 1).
    seed : int
        Population seed.
    split : {"tuning", "heldout"}
        Which listeners (disjoint seeds, see the module docstring).
    protocol : EvalProtocol, optional
        Default :class:`EvalProtocol()`.
    jobs : int, optional
        Worker processes (default: every CPU); 1 runs in-process.
    progress : callable, optional
        ``progress(done, total)`` after each listener.

    Returns
    -------
    EvalReport
        Identical for any ``jobs`` (results are gathered in listener order).
    """
    if n_listeners < 1:
        raise ValueError(f"n_listeners must be >= 1, got {n_listeners!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    protocol = protocol or EvalProtocol()
    tasks = [(seed, i, protocol, split) for i in range(n_listeners)]
    jobs = max(1, min(jobs or os.cpu_count() or 1, n_listeners))
    runs: list[RunResult] = []
    if jobs == 1:
        for k, a in enumerate(tasks):
            runs += _run_args(a)
            if progress is not None:
                progress(k + 1, n_listeners)
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as ex:
            for k, rs in enumerate(ex.map(_run_args, tasks)):
                runs += rs
                if progress is not None:
                    progress(k + 1, n_listeners)
    return EvalReport(protocol=protocol, seed=seed, split=split, runs=runs, summary=summarize(runs))
