"""``attune run``: a live session on the LSL streams named in a session file."""

from __future__ import annotations

import argparse
from pathlib import Path

from attune.sessions.commands._common import CliError, progress_bar, write_report

NAME = "run"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``run`` to ``sub``."""
    rn = sub.add_parser(
        NAME,
        help="run a live session on LSL streams (wearables, amplifiers)",
        description="Run a live session: read the LSL streams named in the session file, "
        "pace the loop in real time, publish Attune's state, music and markers over LSL. "
        "Ctrl-C ends it gracefully.",
    )
    rn.add_argument("config", metavar="CONFIG", type=Path, help="session file (TOML)")
    rn.add_argument("--duration-s", type=float, help="stop after this many seconds")
    rn.add_argument("--out", type=Path, help="output directory for session folders")
    rn.add_argument("--no-audio", action="store_true", help="do not render the music to WAV")
    rn.add_argument("--no-report", action="store_true", help="do not write report.html")
    return rn


def run(args: argparse.Namespace) -> int:
    """Run a live session on the LSL streams named in the session file."""
    from attune.sensors.types import SensorError
    from attune.sessions.config import load_config

    cfg = load_config(args.config)
    if args.out is not None:
        cfg = cfg.model_copy(update={"output_dir": args.out})
    if args.no_audio:
        cfg = cfg.model_copy(update={"render_audio": False})
    from attune.sessions.live_run import run_live

    try:
        out = run_live(cfg, duration_s=args.duration_s, progress=progress_bar("live"))
    except (SensorError, ValueError) as e:
        raise CliError(str(e)) from None
    state = "stopped early (faded out, store closed)" if out.interrupted else "ended"
    print(f"Live session {state} after {out.n_ticks * cfg.tick_s:.1f} s, {out.n_ticks} ticks")
    print(f"Session folder: {out.folder}")
    write_report(out.folder, args)
    return 0
