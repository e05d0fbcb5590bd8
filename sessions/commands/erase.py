"""``attune erase``: remove every trace of a client (right to erasure)."""

from __future__ import annotations

import argparse

from attune.sessions.commands._common import CliError

NAME = "erase"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``erase`` to ``sub``."""
    p = sub.add_parser(
        NAME,
        help="erase a client: sessions, registry entry, progress pages",
        description="Remove every trace of CLIENT from the data home: its sessions (also "
        "those filed from elsewhere with --out), its registry entry and notes, its progress "
        "pages. Files are overwritten before removal. Cannot be undone; copies made with "
        "export-client or --out are not touched.",
    )
    p.add_argument("client", metavar="CLIENT", help="the client's pseudonym")
    p.add_argument("--yes", action="store_true", help="really erase (required)")
    return p


def run(args: argparse.Namespace) -> int:
    """Erase the client and say what went."""
    if not args.yes:
        raise CliError(f"erase {args.client}: cannot be undone; add --yes to erase")
    from attune.sessions.client_data import erase_client

    gone = erase_client(args.client)
    print(
        f"erased client {args.client}: {len(gone.sessions)} sessions, "
        f"{len(gone.pages)} progress pages, registry entry "
        f"{'removed' if gone.registered else 'none'}"
    )
    return 0
