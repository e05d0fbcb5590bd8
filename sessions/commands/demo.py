"""``attune demo``: the default simulated session (what ``make demo`` runs)."""

from __future__ import annotations

import argparse

from attune.sessions.commands import simulate

NAME = "demo"
HELP = "the default simulated session: 10 min, aroused listener led to calm"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``demo`` to ``sub``."""
    s = sub.add_parser(NAME, help=HELP, description=HELP)
    simulate.add_session_flags(s)
    return s


def run(args: argparse.Namespace) -> int:
    """Run the demo session (``--config`` may replace it, as for ``simulate``)."""
    return simulate.run(args)
