"""``attune selfreport``: file the listener's own SAM rating into a session."""

from __future__ import annotations

import argparse

from attune.sessions.commands._common import (
    MAX_SESSION_S,
    CliError,
    add_dir_argument,
    add_session_argument,
    cli_number,
    sam_rating,
    session_folder,
)

NAME = "selfreport"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``selfreport`` to ``sub``."""
    sr = sub.add_parser(
        NAME,
        help="file the listener's own SAM rating (before, during or after a session)",
        description="File a Self-Assessment Manikin rating (9-point: arousal 1 calm .. 9 "
        "excited, valence 1 unpleasant .. 9 pleasant) into a session. On a running session it "
        "goes through the command channel and anchors the estimate; otherwise it is filed in "
        "the store (pre at 0 s, during at the newest tick, post at the end).",
    )
    add_session_argument(sr)
    sr.add_argument("--when", choices=("pre", "during", "post"), required=True, help="when")
    sr.add_argument(
        "--arousal", type=sam_rating, required=True, metavar="N", help="SAM arousal 1-9"
    )
    sr.add_argument(
        "--valence", type=sam_rating, required=True, metavar="N", help="SAM valence 1-9"
    )
    sr.add_argument(
        "--t-s", type=cli_number(lo=0, hi=MAX_SESSION_S), help="session time to file it at, seconds"
    )
    add_dir_argument(sr)
    return sr


def run(args: argparse.Namespace) -> int:
    """File a SAM rating into a session."""
    from attune.sessions.selfreport import SelfReportError, add_rating

    folder = session_folder(args)
    try:
        line = add_rating(folder, args.when, args.arousal, args.valence, t_s=args.t_s)
    except SelfReportError as e:
        raise CliError(f"selfreport: {e}") from None
    print(f"{folder.name}: {line}")
    return 0
