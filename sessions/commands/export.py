"""``attune export``: a table of a recorded session as CSV or JSON lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attune.sessions.commands._common import (
    CliError,
    add_dir_argument,
    add_session_argument,
    session_folder,
)

NAME = "export"
#: Tables ``attune export`` offers (kept here so ``--help`` needs no import).
EXPORT_CHOICES: tuple[str, ...] = ("ticks", "beats", "events", "annotations", "selfreports")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``export`` to ``sub``."""
    e = sub.add_parser(
        NAME,
        help="write a table of a recorded session as CSV",
        description="Write a table of a recorded session as CSV (or JSON lines). ticks: one "
        "row per tick; beats: time_s (seconds from the start of the recording), rr_ms, "
        "corrected (0/1); events: t_s, event; annotations: t_s, author, text, created_utc; "
        "selfreports: t_s, kind (pre/during/post), arousal, valence (SAM 1-9), source, text.",
    )
    add_session_argument(e)
    e.add_argument(
        "table",
        metavar="TABLE",
        choices=EXPORT_CHOICES,
        help=f"one of: {', '.join(EXPORT_CHOICES)}",
    )
    e.add_argument("--format", choices=("csv", "json"), default="csv", help="csv (default) or json")
    e.add_argument("--out", type=Path, help="output file, created 0600 (default: stdout)")
    add_dir_argument(e)
    return e


def run(args: argparse.Namespace) -> int:
    """Write a table of a recorded session as CSV or JSON lines."""
    from attune.sessions.export import ExportError, export_table

    folder = session_folder(args)
    try:
        if args.out is None:
            export_table(folder, args.table, fmt=args.format)
        else:
            from attune.sessions.record import private_open

            with private_open(args.out) as f:
                n = export_table(folder, args.table, f, fmt=args.format)
            print(f"{n} rows of {args.table} written to {args.out}", file=sys.stderr)
    except ExportError as e:
        raise CliError(f"export: {e}") from None
    return 0
