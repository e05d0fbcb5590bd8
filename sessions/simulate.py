"""Run a whole session on the simulated listener, on the virtual clock.

This is ``attune simulate`` and ``attune demo``: the same loop as a live session, fed by
:class:`sensors.simulate.SimulatedListener`, rendering audio offline through the pyo
synth (in its own process) and writing the session folder.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from engine.clocks import VirtualClock
from engine.eeg import EEG_FEATURES
from engine.hrv import HRV_FEATURES
from sensors.simulate import ListenerTraits, SimulatedListener
from sessions.build import build_engine
from sessions.config import SessionConfig, dump_config
from sessions.record import SessionRecord, new_session_dir, private_file, private_open
from synthesis.midi import MidiRecorder
from synthesis.supervisor import SupervisedSynth
from synthesis.synth import SilentBackend

#: Feature columns of the tick record, in order.
FEATURES = [*HRV_FEATURES, *EEG_FEATURES]
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


def run_simulation(
    cfg: SessionConfig, *, progress: Callable[[float], None] | None = None
) -> SessionSummary:
    """Run ``cfg`` on the simulated listener and write its session folder.

    Parameters
    ----------
    cfg : SessionConfig
        The session.
    progress : callable, optional
        Called with the fraction done (0 to 1) about once per simulated second.

    Returns
    -------
    SessionSummary
    """
    wall0 = time.perf_counter()
    folder = new_session_dir(cfg.output_dir, cfg.name, cfg.participant)
    with private_open(folder / "config.toml") as f:
        f.write(dump_config(cfg))
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
    notes = MidiRecorder()
    record = SessionRecord(folder, feature_names=FEATURES, extra_columns=SIM_COLUMNS)
    renderer = (
        SupervisedSynth(
            private_file(folder / "session.wav"), sr=cfg.sample_rate_hz, on_event=record.event
        )
        if cfg.render_audio
        else SilentBackend()
    )
    renderer.start()
    engine = build_engine(
        cfg,
        sources=listener.sources(),
        synths=[renderer, notes],
        listeners=[lambda t, p: listener.hear(p, t)],
    )
    record.event(0.0, f"session start: simulate seed={cfg.seed}")
    n_ticks = int(round(cfg.phases.total_s / cfg.tick_s))
    t_arr = np.empty(n_ticks)
    true_a = np.empty(n_ticks)
    est_a = np.empty(n_ticks)
    clock = VirtualClock(tick_s=cfg.tick_s)
    every = max(1, int(round(1.0 / cfg.tick_s)))
    try:
        for i in range(n_ticks):
            r = engine.step(clock.next_tick())
            a, v = listener.state_at(r.t)
            record.tick(r, {"sim_arousal": a, "sim_valence": v})
            t_arr[i], true_a[i], est_a[i] = r.t, a, r.estimate.arousal
            if progress is not None and i % every == 0:
                progress(i / n_ticks)
        record.event(n_ticks * cfg.tick_s, "session end")
    finally:
        try:
            stats = renderer.close()
        finally:
            record.close()
    composer = engine.composer
    notes.write(private_file(folder / "session.mid"), composer.beats)
    if progress is not None:
        progress(1.0)
    files = {
        "folder": str(folder),
        "ticks": str(folder / "ticks.csv"),
        "beats": str(folder / "beats.csv"),
        "events": str(folder / "events.csv"),
        "config": str(folder / "config.toml"),
        "midi": str(folder / "session.mid"),
    }
    if cfg.render_audio:
        files["audio"] = str(folder / "session.wav")
    summary = SessionSummary(
        folder=folder,
        duration_s=n_ticks * cfg.tick_s,
        goal_arousal=cfg.goal.arousal,
        start_arousal=float(true_a[0]),
        end_arousal=float(true_a[-1]),
        end_arousal_estimate=float(est_a[-1]),
        time_to_target_s=time_to_band(t_arr, true_a, cfg.goal.arousal),
        engine_wall_s=time.perf_counter() - wall0,
        render_speed_x=(stats.duration_s / stats.wall_s) if cfg.render_audio else None,
        n_notes=len(notes.notes),
        files=files,
    )
    with private_open(folder / "summary.json") as f:
        json.dump(
            {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(summary).items()},
            f,
            indent=2,
        )
    return summary
