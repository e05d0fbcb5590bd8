"""``attune report``: the HTML report of a recorded session."""

from __future__ import annotations

import argparse
from pathlib import Path

from attune.sessions.commands._common import (
    add_dir_argument,
    add_session_argument,
    session_folder,
    write_report,
)

NAME = "report"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``report`` to ``sub``."""
    rpt = sub.add_parser(
        NAME,
        help="write the HTML report of a session",
        description="Write SESSION/report.html: a self-contained page with figures of the "
        "estimate against the target, heart, EEG, music, signal quality, events and a summary.",
    )
    add_session_argument(rpt)
    add_dir_argument(rpt)
    rpt.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the report here instead (in clear, also with encryption at rest on)",
    )
    return rpt


def run(args: argparse.Namespace) -> int:
    """Write the HTML report of a recorded session."""
    if args.out is not None:
        from attune.sessions.report import write_report as write

        print(f"Report: {write(session_folder(args), out=args.out)}")
        return 0
    write_report(session_folder(args))
    return 0
