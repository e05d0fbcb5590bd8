"""``attune export-client``: a portable, decrypted copy of one client's data."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "export-client"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``export-client`` to ``sub``."""
    p = sub.add_parser(
        NAME,
        help="write a portable (decrypted) copy of a client's data",
        description="Write CLIENT's data into DIR, decrypted: client.json (registration, "
        "notes, sessions), sessions/<id>/session.db as plain SQLite with the session's files, "
        "and progress.html. The copy is in clear: keep it safe.",
    )
    p.add_argument("client", metavar="CLIENT", help="the client's pseudonym")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="a new or empty folder")
    return p


def run(args: argparse.Namespace) -> int:
    """Export and say where."""
    from attune.sessions.client_data import export_client

    written = export_client(args.client, args.out)
    print(f"exported client {args.client}: {len(written)} sessions to {args.out} (decrypted)")
    return 0
