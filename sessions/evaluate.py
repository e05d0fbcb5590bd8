"""Evaluation harness: the closed loop against open-loop calm music on simulated people.

``attune evaluate`` draws a population of simulated listeners
(:func:`attune.sensors.listener_population.draw_population`, held-out seed space:
responder classes, personal responses to music, physiology with real variability, random
artifact rates). Each listener is run twice on the same seed, so the same physiology and
noise meet both conditions:

* **closed loop**: the session's controller (iso principle, music leads);
* **open loop**: fixed calm music, the neutral calm preset of the controller's
  fallback (``control.enabled = false``, ``control.open_loop_music = "neutral"``),
  with the same protocol fades.

Protocol (:class:`EvalProtocol`, [E])
    Baseline 60 s (silent) -> match 60 s -> transition 300 s (cosine) -> maintain 300 s:
    12 minutes. The goal is relative to each listener's intake rating of arousal:
    ``goal = intake - 0.5`` ("calm down by half a unit from where you came in"), with
    the intake rating the true set point plus rating error (SD 0.1). A fixed absolute
    goal such as -0.5 is out of reach in steady state for listeners with a weak music
    gain and a high set point (equilibrium under the calmest music is ``(mu - g) /
    (1 + g)``), so it would measure the simulator, not the controller. The estimator is
    anchored on the intake rating exactly as in a real session. The control tick is
    0.5 s (the default session uses 0.25 s; slew limits are per second, so the
    envelope is the same) to keep 100 runs fast.

Measures (on the listener's true arousal, not the estimate)
    * success: ``|arousal - goal| < 0.2`` held for 60 s at some time
      (:func:`attune.sessions.simulated_run.time_to_band`), and the time when it began;
    * overshoot: the largest excursion past the goal, in the direction of travel,
      after the transition began;
    * safety violations: on every tick, every parameter against the envelope's bounds
      and slew limits (:meth:`attune.engine.controller.Envelope.violations`) and mode steps
      against the one-per-phrase rule.

Runs use ``render_audio = False`` and the silent backend, no session folders, and a
process pool.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context

import numpy as np

from attune.sensors.types import Chunk, Source, empty_chunk

TARGET_BAND = 0.2
TARGET_HOLD_S = 60.0


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
    """

    baseline_s: float = 60.0
    match_s: float = 60.0
    transition_s: float = 300.0
    maintain_s: float = 300.0
    goal_delta: float = -0.5
    intake_error_sd: float = 0.1
    tick_s: float = 0.5
    artifacts: bool = True

    @property
    def total_s(self) -> float:
        """Session length, seconds."""
        return self.baseline_s + self.match_s + self.transition_s + self.maintain_s


@dataclass(frozen=True)
class RunResult:
    """One listener under one condition.

    Attributes
    ----------
    listener : int
        Listener index.
    condition : str
        ``"closed"`` or ``"open"``.
    goal : float
        Goal arousal.
    start_arousal, end_arousal : float
        True arousal at the first and last tick.
    music_gain : float
        Signed size of the listener's arousal response to music
        (:attr:`attune.sensors.listener_response.ResponseTraits.strength`; negative for
        paradoxical listeners), for reading the results.
    time_to_target_s : float or None
        Session time at which the held band began; None if never.
    overshoot : float
        Largest excursion past the goal after the transition began (>= 0).
    violations : int
        Ticks with a bound, slew or phrase-rule violation.
    first_violation : str
        Description of the first violation ("" if none).
    """

    listener: int
    condition: str
    goal: float
    start_arousal: float
    end_arousal: float
    music_gain: float
    time_to_target_s: float | None
    overshoot: float
    violations: int
    first_violation: str = ""


@dataclass
class EvalReport:
    """Results of a population evaluation.

    Attributes
    ----------
    protocol : EvalProtocol
        The protocol.
    seed : int
        Population seed.
    runs : list of RunResult
        Every run.
    summary : dict
        Per condition: ``n``, ``success_rate``, ``median_time_to_target_s`` (over the
        successful runs; None if none), ``median_overshoot``, ``max_overshoot``,
        ``violations`` (ticks, all runs).
    """

    protocol: EvalProtocol
    seed: int
    runs: list[RunResult] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def to_json(self) -> str:
        """Return the report as JSON text."""
        return json.dumps(
            {
                "protocol": asdict(self.protocol),
                "seed": self.seed,
                "summary": self.summary,
                "runs": [asdict(r) for r in self.runs],
            },
            indent=2,
        )

    def format(self) -> str:
        """Return a short human-readable table."""
        lines = [
            f"{len(self.runs) // 2} simulated listeners, seed {self.seed}; goal = start "
            f"{self.protocol.goal_delta:+.2f}; band |a - goal| < {TARGET_BAND} held "
            f"{TARGET_HOLD_S:.0f} s; session {self.protocol.total_s / 60:.0f} min",
            f"{'condition':12s} {'success':>8s} {'median t':>9s} {'overshoot':>10s} "
            f"{'max over':>9s} {'violations':>10s}",
        ]
        for cond, label in (("closed", "closed loop"), ("open", "open loop")):
            s = self.summary[cond]
            mt = s["median_time_to_target_s"]
            lines.append(
                f"{label:12s} {s['success_rate'] * 100:7.0f}% "
                f"{'-' if mt is None else f'{mt:.0f} s':>9s} {s['median_overshoot']:10.3f} "
                f"{s['max_overshoot']:9.3f} {s['violations']:10d}"
            )
        return "\n".join(lines)


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


def eval_config(protocol: EvalProtocol, *, goal: float, intake: float, closed: bool):
    """Return the config of one evaluation run (session defaults apart from the protocol)."""
    from attune.sessions.config import SessionConfig

    base = SessionConfig()
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
            "control": base.control.model_copy(
                update={
                    "enabled": closed,
                    "open_loop_music": "neutral",
                    "command_channel": False,
                }
            ),
        }
    )


def draw_listener(seed: int, index: int, protocol: EvalProtocol, split: str = "heldout"):
    """Draw listener ``index`` of population ``seed`` and their start.

    The listener is member ``index`` of
    :func:`attune.sensors.listener_population.draw_population` (``split`` seed space:
    ``"tuning"`` for tuning, ``"heldout"`` for reported figures).

    Returns
    -------
    listener : SimulatedListener
        The listener (its silent baseline already integrated).
    intake : float
        Intake rating of arousal: the true mean arousal during the baseline plus rating
        error; the estimator's anchor.
    goal : float
        The session goal the engine is given, ``intake + goal_delta``.
    true_goal : float
        The goal in the listener's true units, ``start + goal_delta`` with ``start``
        the true mean arousal during the baseline: what success is judged against (the
        engine measures change from the baseline, so a rating error shifts its anchor
        and its goal alike).
    """
    from attune.sensors.listener_population import draw_member

    member = draw_member(seed, index, split, artifacts=protocol.artifacts)  # type: ignore[arg-type]
    listener = member.listener()
    listener.state_at(protocol.baseline_s)  # silence: music cannot act before it ends
    h = listener.history
    start = float(np.mean(h.arousal[h.t <= protocol.baseline_s]))
    intake = float(np.clip(start + member.intake_error, -1.0, 1.0))
    goal = float(np.clip(intake + protocol.goal_delta, -1.0, 1.0))
    true_goal = float(np.clip(start + protocol.goal_delta, -1.0, 1.0))
    return listener, intake, goal, true_goal


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


def run_one(seed: int, index: int, condition: str, protocol: EvalProtocol) -> RunResult:
    """Run one listener under one condition (``"closed"`` or ``"open"``)."""
    from attune.engine.clocks import VirtualClock
    from attune.sessions.build import make_envelope
    from attune.sessions.simulated_run import silent_engine, time_to_band

    listener, intake, goal, true_goal = draw_listener(seed, index, protocol)
    cfg = eval_config(protocol, goal=goal, intake=intake, closed=condition == "closed")
    engine = silent_engine(cfg, listener)
    clock = VirtualClock(tick_s=cfg.tick_s)
    n = int(round(protocol.total_s / cfg.tick_s))
    t = np.empty(n)
    true_a = np.empty(n)
    decisions = []
    for i in range(n):
        r = engine.step(clock.next_tick())
        t[i] = r.t
        true_a[i] = listener.state_at(r.t)[0]
        decisions.append(r.decision)
    n_bad, first = check_run(decisions, make_envelope(cfg.safety), cfg.tick_s)
    lead_start = protocol.baseline_s + protocol.match_s
    sel = t >= lead_start  # judged from the start of the lead (transition), both conditions
    ttt = time_to_band(t[sel], true_a[sel], true_goal, band=TARGET_BAND, hold_s=TARGET_HOLD_S)
    ttt = None if ttt is None else ttt - lead_start
    direction = np.sign(true_goal - true_a[0]) or -1.0
    past = direction * (true_a[sel] - true_goal)
    return RunResult(
        listener=index,
        condition=condition,
        goal=true_goal,
        start_arousal=float(true_a[0]),
        end_arousal=float(true_a[-1]),
        music_gain=float(listener.response.strength),
        time_to_target_s=ttt,
        overshoot=float(max(0.0, np.max(past))) if past.size else 0.0,
        violations=n_bad,
        first_violation=first,
    )


def _run_args(args: tuple) -> RunResult:
    return run_one(*args)


def summarize(runs: list[RunResult]) -> dict:
    """Per-condition success rate, median time to target, overshoot and violations."""
    out = {}
    for cond in ("closed", "open"):
        rs = [r for r in runs if r.condition == cond]
        times = [r.time_to_target_s for r in rs if r.time_to_target_s is not None]
        # failures count as never (infinite time): the median over everyone
        all_t = np.array([np.inf if r.time_to_target_s is None else r.time_to_target_s for r in rs])
        med = float(np.median(all_t)) if rs else np.inf
        over = [r.overshoot for r in rs]
        out[cond] = {
            "n": len(rs),
            "success_rate": len(times) / len(rs) if rs else 0.0,
            "median_time_to_target_s": med if np.isfinite(med) else None,
            "median_overshoot": float(np.median(over)) if over else 0.0,
            "max_overshoot": float(np.max(over)) if over else 0.0,
            "violations": int(sum(r.violations for r in rs)),
        }
    return out


def evaluate(
    n_listeners: int,
    *,
    seed: int = 0,
    protocol: EvalProtocol | None = None,
    jobs: int | None = None,
) -> EvalReport:
    """Run ``n_listeners`` simulated listeners closed loop and open loop.

    Parameters
    ----------
    n_listeners : int
        Population size (>= 1).
    seed : int
        Population seed: listener ``i`` is drawn from ``default_rng([seed, i])``.
    protocol : EvalProtocol, optional
        Default :class:`EvalProtocol()`.
    jobs : int, optional
        Worker processes (default: the CPU count, at most 2); 1 runs in-process.

    Returns
    -------
    EvalReport
    """
    if n_listeners < 1:
        raise ValueError(f"n_listeners must be >= 1, got {n_listeners!r}")
    protocol = protocol or EvalProtocol()
    tasks = [(seed, i, c, protocol) for i in range(n_listeners) for c in ("closed", "open")]
    jobs = jobs or min(2, os.cpu_count() or 1)
    if jobs == 1:
        runs = [_run_args(a) for a in tasks]
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as ex:
            runs = list(ex.map(_run_args, tasks))
    return EvalReport(protocol=protocol, seed=seed, runs=runs, summary=summarize(runs))
