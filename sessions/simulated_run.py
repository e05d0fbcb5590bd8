"""Run a whole session on the simulated listener, on the virtual or the live clock.

This is ``attune simulate`` and ``attune demo``: the same loop as a live session, fed by
:class:`attune.sensors.simulated_listener.SimulatedListener`, rendering audio offline
through the pyo synth (in its own process) and writing the session folder. By default the virtual
clock runs it as fast as the CPU allows; ``attune simulate --realtime`` paces it on the
live clock (:class:`attune.engine.clocks.LiveClock`), one tick per ``tick_s`` of wall time, so
it behaves like a live session (for crash drills, the therapist channel, or listening).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from attune.engine.clocks import LiveClock, VirtualClock
from attune.engine.loop import Engine, TickResult
from attune.sensors.simulated_listener import ListenerTraits, SimulatedListener
from attune.sessions.carryover import CarryOver
from attune.sessions.config import SessionConfig, validate_config
from attune.sessions.record import private_open
from attune.sessions.runner import SessionObserver, run_session
from attune.sessions.sealed import seal_folder
from attune.sessions.store import add_selfreport
from attune.sessions.therapist import CommandSource
from attune.synthesis.params import MusicParams

SIM_COLUMNS = ["sim_arousal", "sim_valence"]
#: |arousal - goal| below this, held for TARGET_HOLD_S, counts as reaching the target band.
TARGET_BAND = 0.2
TARGET_HOLD_S = 60.0


@dataclass(frozen=True)
class SessionSummary:
    """What a finished session reports.

    Attributes
    ----------
    folder : Path
        The session folder.
    duration_s : float
        Session length, seconds.
    goal_arousal : float
        The goal.
    start_arousal, end_arousal : float
        The simulated listener's true arousal at the first and last tick.
    end_arousal_estimate : float
        The engine's estimate at the last tick.
    time_to_target_s : float or None
        First time the true arousal entered the target band (``|a - goal| <
        TARGET_BAND``) and stayed there ``TARGET_HOLD_S``; None if it never did.
    engine_wall_s : float
        Wall time of the whole run (engine and rendering), seconds.
    render_speed_x : float or None
        Audio seconds rendered per wall second (None without audio).
    n_notes : int
        Notes composed (as written to the MIDI file).
    files : dict of str to str
        Paths of what was written.
    interrupted : bool
        True if the session ended early (Ctrl-C or ``stop``).
    """

    folder: Path
    duration_s: float
    goal_arousal: float
    start_arousal: float
    end_arousal: float
    end_arousal_estimate: float
    time_to_target_s: float | None
    engine_wall_s: float
    render_speed_x: float | None
    n_notes: int
    files: dict[str, str]
    interrupted: bool = False


def time_to_band(
    t: np.ndarray,
    x: np.ndarray,
    goal: float,
    *,
    band: float = TARGET_BAND,
    hold_s: float = TARGET_HOLD_S,
) -> float | None:
    """First time ``x`` enters ``|x - goal| < band`` and stays there ``hold_s`` seconds.

    Parameters
    ----------
    t : ndarray, shape (n,)
        Tick times, seconds, evenly spaced.
    x : ndarray, shape (n,)
        The series.
    goal : float
        Centre of the band.
    """
    inside = np.abs(x - goal) < band
    if t.size < 2:
        return None
    need = int(round(hold_s / (t[1] - t[0])))
    run = 0
    # Per-tick loop over an analysis series (not the hot path).
    for i, ok in enumerate(inside):
        run = run + 1 if ok else 0
        if run >= need:
            return float(t[i - need + 1])
    return None


def hear_music(listener: SimulatedListener, t: float, params: MusicParams | None) -> None:
    """Play ``params`` to the simulated listener from ``t`` (s) on (``None``: silence).

    The listener hears the played parameters as a plain mapping and answers them through
    its own response model (:mod:`attune.sensors.listener_response`), not through the
    controller's cue model, so the sensors layer never depends on :class:`MusicParams`.
    """
    listener.hear(t, None if params is None else params.__dict__)


#: Largest share of a shortened session the resting baseline may take.
BASELINE_SHARE_MAX = 0.25


def fit_protocol(cfg: SessionConfig, duration_s: float) -> SessionConfig:
    """Return ``cfg`` with its protocol fitted to last ``duration_s`` seconds.

    The baseline keeps its length, but takes at most :data:`BASELINE_SHARE_MAX` of the
    session (the estimator needs a resting baseline to z-score against); the phases after it
    (match, transition, maintain, recovery, and the recovery's closing silence) are all
    scaled by one factor so the whole session lasts ``duration_s``. The protocol keeps its
    shape; a 60 s demo has a 15 s baseline and 45 s of music.

    Parameters
    ----------
    cfg : SessionConfig
        The session.
    duration_s : float
        Wanted session length, seconds, > 0.

    Raises
    ------
    ValueError
        If ``duration_s`` is not positive, or the protocol has no phase after the baseline
        to scale.
    ConfigError
        If the fitted protocol is not a valid session (e.g. a phase beyond its bound).
    """
    if not duration_s > 0.0:
        raise ValueError(f"--duration-s must be > 0 seconds, got {duration_s:g}")
    ph = cfg.phases
    baseline = min(ph.baseline_s, BASELINE_SHARE_MAX * duration_s)
    rest = ph.total_s - ph.baseline_s
    if rest <= 0.0:
        raise ValueError("--duration-s: the protocol has only a baseline, nothing to scale")
    k = (duration_s - baseline) / rest
    update = {
        "baseline_s": baseline,
        "match_s": ph.match_s * k,
        "transition_s": ph.transition_s * k,
        "maintain_s": ph.maintain_s * k,
        "recovery_s": ph.recovery_s * k,
        "recovery_silence_s": ph.recovery_silence_s * k
        if ph.recovery_s > 0
        else ph.recovery_silence_s,
    }
    fitted = cfg.model_copy(update={"phases": ph.model_copy(update=update)})
    # validated again: the fitted phases must still be a session the config accepts
    return validate_config(fitted.model_dump(mode="json"), source=f"--duration-s {duration_s:g}")


def simulated_post_row(t_s: float, arousal: float, valence: float) -> tuple:
    """Return the simulated listener's own rating after the session: its true state at the end.

    Mapped to SAM (``5 + 4 x``) and rounded to whole points, as a person rates.
    """
    from attune.engine.affect import unit_to_sam

    return (
        float(t_s),
        "post",
        float(round(unit_to_sam(arousal))),
        float(round(unit_to_sam(valence))),
        "simulated",
        None,
    )


def silent_engine(cfg: SessionConfig, listener: SimulatedListener) -> Engine:
    """Build the closed loop of ``cfg`` on ``listener``, without audio (evaluations, benches)."""
    from attune.sessions.build import build_engine
    from attune.synthesis.synth import SilentBackend

    return build_engine(
        cfg,
        sources=listener.sources(),
        synths=[SilentBackend()],
        listeners=[lambda t, p: hear_music(listener, t, p)],
    )


def run_simulation(
    cfg: SessionConfig,
    *,
    progress: Callable[[float], None] | None = None,
    realtime: bool = False,
    commands: Sequence[CommandSource] = (),
    observers: Sequence[SessionObserver] = (),
    carry: CarryOver | None = None,
) -> SessionSummary:
    """Run ``cfg`` on the simulated listener and write its session folder.

    Parameters
    ----------
    cfg : SessionConfig
        The session.
    progress : callable, optional
        Called with the fraction done (0 to 1) about once per simulated second.
    realtime : bool, default False
        Pace the ticks on the live clock (``time.monotonic``, drift-corrected) instead
        of the virtual clock: the session takes its protocol's length in wall time, and
        the listener's samples are produced up to each tick's actual time. The live
        outputs of ``cfg`` (``audio.device``, ``midi.port``) are checked first.
    commands : sequence of CommandSource
        Therapist commands (e.g. :class:`attune.sessions.therapist.ScriptedCommands`:
        self-reports at given times), besides the command channel.
    observers : sequence of SessionObserver
        Watch the session as it runs (the web console), as for
        :func:`attune.sessions.runner.run_session`.
    carry : CarryOver, optional
        What a previous visit learned: seeds the loop's response learner.

    Returns
    -------
    SessionSummary

    Raises
    ------
    ConfigError
        With ``realtime``, if a configured audio device or MIDI port does not exist.
    """
    if realtime:
        from attune.sessions.build import check_live_outputs

        check_live_outputs(cfg)
    sim = cfg.simulation
    listener = SimulatedListener(
        seed=cfg.seed,
        traits=ListenerTraits(arousal_mu=sim.arousal0, valence_mu=sim.valence0),
        arousal0=sim.arousal0,
        valence0=sim.valence0,
        ecg_fs=sim.ecg_fs,
        eeg_fs=sim.eeg_fs,
        eeg_channels=sim.eeg_channels,
    )

    def true_state(r: TickResult) -> dict[str, float]:
        a, v = listener.state_at(r.t)
        return {"sim_arousal": a, "sim_valence": v}

    out = run_session(
        cfg,
        mode="simulate",
        sources=listener.sources(),
        clock=(
            LiveClock(tick_s=cfg.tick_s, now=time.monotonic)
            if realtime
            else VirtualClock(tick_s=cfg.tick_s)
        ),
        n_ticks=int(round(cfg.phases.total_s / cfg.tick_s)),
        listeners=[lambda t, p: hear_music(listener, t, p)],
        extra=true_state,
        extra_columns=SIM_COLUMNS,
        progress=progress,
        commands=commands,
        observers=observers,
        carry=carry,
    )
    true_a = out.extras["sim_arousal"]
    if out.n_ticks and not out.interrupted:  # the simulated listener rates how it ends
        end_a, end_v = listener.state_at(out.t[-1])
        add_selfreport(out.folder, simulated_post_row(out.t[-1] + cfg.tick_s, end_a, end_v))
    summary = SessionSummary(
        folder=out.folder,
        duration_s=out.n_ticks * cfg.tick_s,
        goal_arousal=cfg.goal.arousal,
        start_arousal=float(true_a[0]) if out.n_ticks else float("nan"),
        end_arousal=float(true_a[-1]) if out.n_ticks else float("nan"),
        end_arousal_estimate=float(out.arousal[-1]) if out.n_ticks else float("nan"),
        time_to_target_s=time_to_band(out.t, true_a, cfg.goal.arousal),
        engine_wall_s=out.wall_s,
        render_speed_x=out.render_speed_x,
        n_notes=out.n_notes,
        files=out.files,
        interrupted=out.interrupted,
    )
    with private_open(out.folder / "summary.json") as f:
        json.dump(
            {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(summary).items()},
            f,
            indent=2,
        )
    seal_folder(out.folder, names=["summary.json"])  # encrypted: into the store too
    return summary
