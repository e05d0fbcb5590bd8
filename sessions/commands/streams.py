"""``attune streams``: the LSL streams visible on the network."""

from __future__ import annotations

import argparse

from attune.sessions.commands._common import cli_number

NAME = "streams"
#: Attune's stream kinds (kept here so ``--help`` needs no import).
KINDS: tuple[str, ...] = ("eeg", "ecg", "ppg", "rr", "hr", "markers")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``streams`` to ``sub``."""
    st = sub.add_parser(
        NAME,
        help="list the LSL streams on the network",
        description="List the Lab Streaming Layer streams visible on the network: name, type, "
        "Attune kind, channels, rate, format, source id, host.",
    )
    st.add_argument("--kind", choices=KINDS, help="only this kind")
    st.add_argument("--name", help="only streams with this exact name")
    st.add_argument(
        "--wait-s",
        "--wait",
        dest="wait",
        type=cli_number(lo=0, lo_open=True, hi=600),
        default=1.0,
        metavar="S",
        help="seconds to listen (1.0)",
    )
    return st


def run(args: argparse.Namespace) -> int:
    """List the LSL streams on the network."""
    from attune.sensors.lsl_source import find_streams, format_streams_table

    rows = find_streams(kind=args.kind, name=args.name, wait_s=args.wait)
    print(format_streams_table(rows))
    return 0
