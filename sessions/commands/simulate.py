"""``attune simulate``: a closed-loop session on the simulated listener."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from attune.sessions.commands._common import (
    MAX_SESSION_S,
    SEED,
    SESSION_SECONDS,
    CliError,
    add_audio_flag,
    add_carry_flag,
    add_client_flag,
    add_intake_flag,
    add_report_flag,
    apply_intake_flag,
    carry_from,
    check_seconds,
    load_session_config,
    progress_bar,
    silence_alsa_errors,
    write_report,
)

if TYPE_CHECKING:
    from attune.sessions.simulated_run import SessionSummary

NAME = "simulate"
HELP = "run a closed-loop session on the simulated listener"


def add_session_flags(s: argparse.ArgumentParser) -> None:
    """Add the flags shared by ``simulate`` and ``demo``."""
    s.add_argument("--config", type=Path, help="session file (TOML); default: the demo session")
    s.add_argument("--seed", type=SEED, help="override the session seed")
    s.add_argument("--out", type=Path, help="output directory for session folders")
    s.add_argument(
        "--duration-s",
        type=SESSION_SECONDS,
        metavar="S",
        help="fit the protocol to S seconds: the baseline keeps its length but takes at most "
        "a quarter of S, every later phase is scaled by one factor (e.g. a 60 s demo: 15 s "
        "baseline, 45 s of music); default: the session file's length",
    )
    add_audio_flag(
        s,
        default=None,
        what="--audio renders the music to session.wav; --no-audio makes a silent session: "
        "no WAV and, with --realtime, no playback to the sound card (default: as the session "
        "file says; the demo renders)",
    )
    add_report_flag(s)
    add_client_flag(s)
    add_intake_flag(s)
    s.add_argument(
        "--realtime",
        action="store_true",
        help="pace the session on the wall clock like a live one (default: as fast as "
        "the CPU allows); plays to the session's [audio] device and [midi] port",
    )
    from attune.sessions.commands.console import add_console_flag

    add_console_flag(s, what="default: on with --realtime, off otherwise")
    add_carry_flag(s)
    s.add_argument(
        "--no-control",
        action="store_true",
        help="freeze the music at its starting parameters (open loop)",
    )


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``simulate`` to ``sub``."""
    s = sub.add_parser(NAME, help=HELP, description=HELP)
    add_session_flags(s)
    return s


def format_summary(s: SessionSummary) -> str:
    """Return the text ``simulate`` prints after a session."""
    ttt = "not reached" if s.time_to_target_s is None else f"reached at {s.time_to_target_s:.0f} s"
    early = " (ended early: interrupted)" if s.interrupted else ""
    lines = [
        f"Session of {s.duration_s / 60:.1f} min on the simulated listener{early}",
        f"  arousal (true): start {s.start_arousal:+.2f} -> end {s.end_arousal:+.2f}"
        f"   (goal {s.goal_arousal:+.2f}; engine estimate at end {s.end_arousal_estimate:+.2f})",
        f"  target band |arousal - goal| < 0.2 held 60 s: {ttt}",
        f"  notes composed: {s.n_notes}",
        f"  wall time: {s.engine_wall_s:.1f} s"
        + (f"; audio rendered at {s.render_speed_x:.0f}x real time" if s.render_speed_x else ""),
        "  files:",
    ]
    lines += [f"    {k:8s} {v}" for k, v in s.files.items() if k != "folder"]
    lines.append(f"Session folder: {s.folder}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run a session on the simulated listener, print its summary, write its report."""
    cfg = apply_intake_flag(args, load_session_config(args))
    from attune.sessions.simulated_run import fit_protocol, run_simulation

    check_seconds("--duration-s", args.duration_s, most=MAX_SESSION_S)
    if args.duration_s is not None:
        try:
            cfg = fit_protocol(cfg, args.duration_s)
        except ValueError as e:
            raise CliError(str(e)) from None

    if args.realtime:
        silence_alsa_errors()
    carry = carry_from(args)
    from attune.sessions.commands.console import live_console

    console = live_console(args.realtime if args.console is None else args.console)
    try:
        summary = run_simulation(
            cfg,
            progress=progress_bar("simulating"),
            realtime=args.realtime,
            observers=[console] if console is not None else [],
            carry=carry,
        )
        print(format_summary(summary))
        write_report(summary.folder, args)
    finally:
        if console is not None:
            console.close()
    return 0
