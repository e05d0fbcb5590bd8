"""``attune sessions``: list the recorded sessions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attune.sessions.commands._common import SESSIONS_DIR

NAME = "sessions"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``sessions`` to ``sub``."""
    ls = sub.add_parser(
        NAME,
        help="list recorded sessions",
        description="List the sessions recorded under DIR: id, mode, pseudonym, start, length, "
        "ticks, beats and status (ended, interrupted, failed with the error's class, running, "
        "or crashed when its process is gone).",
    )
    ls.add_argument(
        "--dir", type=Path, default=SESSIONS_DIR, help=f"session directory ({SESSIONS_DIR})"
    )
    return ls


def _status(meta: dict) -> str:
    """Return the status column: ``failed (ExceptionClass)`` for a failed session."""
    failure = meta.get("failure")
    if meta["status"] == "failed" and failure:
        return f"failed ({failure.split(':', 1)[0]})"
    return str(meta["status"])


def run(args: argparse.Namespace) -> int:
    """List the sessions recorded under ``--dir``."""
    from attune.sessions.store import list_sessions

    found, problems = list_sessions(args.dir)
    if not found:
        print(f"no sessions in {args.dir}")
    else:
        head = ("id", "mode", "participant", "started (UTC)", "length", "ticks", "beats", "status")
        rows = [
            (
                s.folder.name,
                s.meta.get("mode") or "-",
                s.meta.get("participant") or "-",
                (s.meta.get("started_utc") or "-")[:19].replace("T", " "),
                f"{s.duration_s / 60:.1f} min",
                str(s.n_ticks),
                str(s.n_beats),
                _status(s.meta),
            )
            for s in found
        ]
        widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
        for r in (head, *rows):
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for line in problems:
        print(f"attune sessions: unreadable: {line}", file=sys.stderr)
    return 0
