"""``attune control``: send a therapist command to a running session."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from attune.sessions.commands._common import cli_number

NAME = "control"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``control`` to ``sub``."""
    ct = sub.add_parser(
        NAME,
        help="send a therapist command to a running session",
        description="Send a command to the session running in SESSION_FOLDER: pin NAME VALUE | "
        "unpin NAME|all | goal AROUSAL [VALENCE] | pause | resume | skip | estop "
        "(emergency stop: fade to silence within 2 s) | end (fade out and end the session) | "
        "sam AROUSAL VALENCE [pre|during|post] (the listener's SAM rating, 1-9) | feeling TEXT "
        "(a proposed rating from a described feeling) | feeling confirm | feeling cancel.",
    )
    ct.add_argument("session", metavar="SESSION_FOLDER", type=Path, help="the session folder")
    ct.add_argument("words", metavar="COMMAND", nargs="+", help="the command and its arguments")
    ct.add_argument(
        "--timeout-s",
        "--timeout",
        dest="timeout",
        type=cli_number(lo=0, lo_open=True, hi=3600),
        default=5.0,
        metavar="S",
        help="seconds to wait for a reply (5)",
    )
    return ct


def run(args: argparse.Namespace) -> int:
    """Send a therapist command to a running session."""
    from attune.engine.controller import CommandError, parse_command
    from attune.sessions.therapist import TherapistError, send_command_reply

    line = " ".join(args.words)
    try:
        parse_command(line)
        reply = send_command_reply(args.session, line, timeout_s=args.timeout)
    except (CommandError, TherapistError) as e:
        print(f"attune control: {e}", file=sys.stderr)
        return 2
    print(f"ok: {reply.get('command')}")
    if reply.get("reply"):
        print(str(reply["reply"]))
    return 0
