"""``attune progress``: a client's progress across visits, as one HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "progress"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``progress`` to ``sub``."""
    p = sub.add_parser(
        NAME,
        help="write a client's progress page across visits",
        description="Write one self-contained HTML page for client CLIENT: resting heart rate "
        "and ln RMSSD per visit, self-report before and after, time to target, time on hold, "
        "alarms, music that helped, and a plain-language summary. Default: "
        "HOME/progress/CLIENT.html (with encryption at rest on, --out is required).",
    )
    p.add_argument("client", metavar="CLIENT", help="the client's pseudonym")
    p.add_argument("--out", type=Path, help="where to write the page (a clear copy)")
    return p


def run(args: argparse.Namespace) -> int:
    """Write the progress page and print its path."""
    from attune.sessions.progress import write_progress

    print(f"Progress: {write_progress(args.client, out=args.out)}")
    return 0
