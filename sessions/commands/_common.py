"""Helpers shared by the ``attune`` command modules (light: argparse and pathlib only)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from attune.sessions.config import SessionConfig

#: Where session folders are looked up by id (the default ``output_dir``).
SESSIONS_DIR = Path("attune-sessions")
#: Help text of a SESSION argument.
SESSION_HELP = "session folder, or a session id listed by `attune sessions`"
#: Help text of ``--dir`` for commands that take a SESSION.
DIR_HELP = f"where session ids are looked up ({SESSIONS_DIR})"


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def progress_bar(label: str) -> Callable[[float], None]:
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


def load_session_config(args: argparse.Namespace) -> SessionConfig:
    """Return the session of ``--config`` (default: the demo) with the flags applied."""
    from attune.sessions.config import SessionConfig, load_config

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


def write_report(folder: Path, args: argparse.Namespace | None = None) -> None:
    """Write the session's HTML report and print its path (the last line of a run).

    Nothing is written when ``args.no_report`` is set.
    """
    if getattr(args, "no_report", False):
        return
    from attune.sessions.report import write_report as write

    print(f"Report: {write(folder)}")


def session_folder(args: argparse.Namespace) -> Path:
    """Return the session folder named by ``args.session`` (a folder, or an id under ``--dir``)."""
    from attune.sessions.store import resolve_session

    return resolve_session(args.session, args.dir)


def add_session_argument(p: argparse.ArgumentParser) -> None:
    """Add the SESSION positional (a folder or a session id) to ``p``."""
    p.add_argument("session", metavar="SESSION", help=SESSION_HELP)


def add_dir_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--dir`` (where session ids are looked up) to ``p``."""
    p.add_argument("--dir", type=Path, default=SESSIONS_DIR, help=DIR_HELP)
