"""``attune sessions``: list the recorded sessions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "sessions"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``sessions`` to ``sub``."""
    ls = sub.add_parser(
        NAME,
        help="list recorded sessions",
        description="List the sessions recorded under DIR (default: the data home's "
        "sessions/, from any working directory): id, mode, pseudonym, start, length, "
        "ticks, beats and status (ended, interrupted, failed with the error's class, running, "
        "or crashed when its process is gone).",
    )
    ls.add_argument(
        "--dir", type=Path, default=None, help="session directory (default: the data home's)"
    )
    ls.add_argument(
        "--client",
        metavar="C",
        help="only client C's sessions (its visits filed anywhere, and those under DIR)",
    )
    return ls


def _status(meta: dict) -> str:
    """Return the status column: ``failed (ExceptionClass)`` for a failed session."""
    failure = meta.get("failure")
    if meta["status"] == "failed" and failure:
        return f"failed ({failure.split(':', 1)[0]})"
    return str(meta["status"])


def run(args: argparse.Namespace) -> int:
    """List the sessions recorded under ``--dir`` (or the data home), of ``--client``."""
    from attune.sessions.home import sessions_dir
    from attune.sessions.store import list_sessions

    root = args.dir if args.dir is not None else sessions_dir()
    problems: list[str] = []
    if args.client is not None:
        from attune.sessions.clients import client_sessions

        found = client_sessions(args.client, root=root)
    elif args.dir is None and not root.is_dir():
        found = []  # a fresh data home: nothing recorded yet
    else:
        found, problems = list_sessions(root)
    if not found:
        who = f" of client {args.client}" if args.client is not None else ""
        print(f"no sessions{who} in {root}")
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
