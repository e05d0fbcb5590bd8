"""``attune annotate``: add a note to a session, running or finished."""

from __future__ import annotations

import argparse

from attune.sessions.commands._common import (
    MAX_SESSION_S,
    add_dir_argument,
    add_session_argument,
    cli_number,
    session_folder,
)

NAME = "annotate"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``annotate`` to ``sub``."""
    an = sub.add_parser(
        NAME,
        help="add a note to a session, running or finished",
        description="File a one-line annotation into the session's store; in a running session "
        "it is stamped with the newest tick's time unless --t-s says otherwise.",
    )
    add_session_argument(an)
    an.add_argument("text", metavar="TEXT", nargs="+", help="the note (pseudonyms only)")
    an.add_argument(
        "--t-s", type=cli_number(lo=0, hi=MAX_SESSION_S), help="session time of the note, seconds"
    )
    an.add_argument("--author", default="", help="who wrote it (role or initials)")
    add_dir_argument(an)
    return an


def run(args: argparse.Namespace) -> int:
    """Add an annotation to a session, running or finished."""
    from attune.sessions.store import annotate

    folder = session_folder(args)
    t = annotate(folder, " ".join(args.text), t_s=args.t_s, author=args.author)
    print(f"annotation filed at {t:.2f} s in {folder.name}")
    return 0
