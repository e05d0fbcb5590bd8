"""The ``attune`` command line.

Imports are lazy: ``attune --help`` loads neither the engine nor mne, neurokit2 or pyo.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _progress_bar(label: str):
    """Return a callback drawing progress on stderr: a bar on a terminal, else 10% lines."""
    last = [-1]
    tty = sys.stderr.isatty()
    step = 1 if tty else 10

    def draw(frac: float) -> None:
        pct = int(frac * 100) // step * step
        if pct == last[0]:
            return
        last[0] = pct
        if tty:
            filled = pct * 30 // 100
            sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {pct:3d}%")
            if pct >= 100:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(f"{label}: {pct}%\n")
        sys.stderr.flush()

    return draw


def _load(args: argparse.Namespace):
    from sessions.config import SessionConfig, load_config

    cfg = load_config(args.config) if args.config else SessionConfig()
    changes: dict = {}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.out is not None:
        changes["output_dir"] = Path(args.out)
    if args.no_audio:
        changes["render_audio"] = False
    if args.no_control:
        changes["control"] = cfg.control.model_copy(update={"enabled": False})
    return cfg.model_copy(update=changes) if changes else cfg


def _fmt_summary(s) -> str:
    ttt = "not reached" if s.time_to_target_s is None else f"{s.time_to_target_s:.0f} s"
    lines = [
        f"Session of {s.duration_s / 60:.1f} min on the simulated listener",
        f"  arousal (true): start {s.start_arousal:+.2f} -> end {s.end_arousal:+.2f}"
        f"   (goal {s.goal_arousal:+.2f}; engine estimate at end {s.end_arousal_estimate:+.2f})",
        f"  target band |arousal - goal| < 0.2 held 60 s: reached at {ttt}",
        f"  notes composed: {s.n_notes}",
        f"  wall time: {s.engine_wall_s:.1f} s"
        + (f"; audio rendered at {s.render_speed_x:.0f}x real time" if s.render_speed_x else ""),
        "  files:",
    ]
    lines += [f"    {k:8s} {v}" for k, v in s.files.items() if k != "folder"]
    lines.append(f"Session folder: {s.folder}")
    return "\n".join(lines)


def cmd_simulate(args: argparse.Namespace) -> int:
    """Run a session on the simulated listener."""
    cfg = _load(args)
    from sessions.simulate import run_simulation

    summary = run_simulation(cfg, progress=_progress_bar("simulating"))
    print(_fmt_summary(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``attune``."""
    p = argparse.ArgumentParser(
        prog="attune",
        description="Attune: a real-time adaptive music therapy engine. Biosignals (HRV, EEG) "
        "in, affect-driven generative music out, within safety limits.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in (
        ("simulate", "run a closed-loop session on the simulated listener"),
        ("demo", "the default simulated session: 10 min, aroused listener led to calm"),
    ):
        s = sub.add_parser(name, help=help_text, description=help_text)
        s.add_argument("--config", type=Path, help="session file (TOML); default: the demo session")
        s.add_argument("--seed", type=int, help="override the session seed")
        s.add_argument("--out", type=Path, help="output directory for session folders")
        s.add_argument("--no-audio", action="store_true", help="skip audio rendering")
        s.add_argument(
            "--no-control",
            action="store_true",
            help="freeze the music at its starting parameters (open loop)",
        )
        s.set_defaults(func=cmd_simulate)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``attune``; returns the exit code."""
    args = build_parser().parse_args(argv)
    from sessions.config import ConfigError

    try:
        return args.func(args)
    except ConfigError as e:
        print(f"attune: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("attune: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
