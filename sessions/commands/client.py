"""``attune client``: the client registry (pseudonyms and therapist notes)."""

from __future__ import annotations

import argparse

NAME = "client"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``client add|list|notes`` to ``sub``."""
    cl = sub.add_parser(
        NAME,
        help="register clients (pseudonyms) and keep therapist notes",
        description="The client registry in the data home. Clients are pseudonyms (letters, "
        "digits, '_', '.', '-'): no real name is needed anywhere.",
    )
    act = cl.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = act.add_parser("add", help="register a client", description="Register client C.")
    add.add_argument("pseudonym", metavar="C")
    add.add_argument("--note", help="a first therapist note")
    act.add_parser("list", help="list the clients", description="List the registered clients.")
    notes = act.add_parser(
        "notes",
        help="show a client's notes, or add one",
        description="Show client C's therapist notes; with TEXT, append TEXT as a new note.",
    )
    notes.add_argument("pseudonym", metavar="C")
    notes.add_argument("text", metavar="TEXT", nargs="?", help="the note to add")
    return cl


def run(args: argparse.Namespace) -> int:
    """Register, list, or keep notes."""
    from attune.sessions.clients import Registry, client_sessions

    if args.action == "list":
        with Registry.open() as reg:
            clients = reg.clients()
        if not clients:
            print("no clients registered")
        for c in clients:
            n = len(client_sessions(c.pseudonym))
            print(
                f"{c.pseudonym}  registered {c.created_utc[:10]}  sessions {n}  notes {c.n_notes}"
            )
        return 0
    with Registry.open() as reg:
        if args.action == "add":
            reg.add(args.pseudonym)
            if args.note:
                reg.add_note(args.pseudonym, args.note)
            print(f"client {args.pseudonym} registered")
        elif args.text is not None:
            reg.add_note(args.pseudonym, args.text)
            print(f"note added for {args.pseudonym}")
        else:
            for created, text in reg.notes(args.pseudonym):
                print(f"{created[:19].replace('T', ' ')}  {text}")
    return 0
