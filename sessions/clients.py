"""The client registry: pseudonyms, therapist notes and visits, in ``HOME/registry.db``.

Clients are pseudonyms (letters, digits, ``_ . -``; up to 64 characters): no real name,
birth date or contact detail is asked for or stored anywhere. Tables:

``clients``
    ``pseudonym`` (primary key), ``created_utc``.
``notes``
    ``pseudonym``, ``created_utc``, ``text``: the therapist's notes, appended.
``visits``
    ``pseudonym``, ``session_id``, ``folder`` (absolute path), ``filed_utc``: sessions
    run with ``--client`` (also those written outside the home with ``--out``).

The registry is opened through :func:`attune.sessions.store.connect`, so it is
encrypted exactly when the session stores are. A client's sessions are the visits filed
here plus every session in the home whose store names the client as participant.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from attune.sessions.home import ensure_home, registry_path, sessions_dir
from attune.sessions.store import (
    SessionInfo,
    StoreError,
    connect,
    db_errors,
    list_sessions,
    now_utc,
    session_info,
)

#: What a pseudonym may look like (as the session's ``participant``).
PSEUDONYM_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: Longest therapist note, characters.
MAX_NOTE_CHARS = 4000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (pseudonym TEXT PRIMARY KEY, created_utc TEXT);
CREATE TABLE IF NOT EXISTS notes (pseudonym TEXT, created_utc TEXT, text TEXT);
CREATE TABLE IF NOT EXISTS visits (
    pseudonym TEXT, session_id TEXT, folder TEXT, filed_utc TEXT,
    PRIMARY KEY (pseudonym, folder));
"""


class ClientError(StoreError):
    """A client is unknown, already registered, or its pseudonym is invalid (one line)."""


def check_pseudonym(pseudonym: str) -> str:
    """Return ``pseudonym`` if valid, else raise :class:`ClientError` naming it."""
    if not PSEUDONYM_RE.match(pseudonym or ""):
        raise ClientError(
            f"client {pseudonym!r}: a pseudonym is 1-64 letters, digits, '_', '.' or '-' "
            "(no real names)"
        )
    return pseudonym


@dataclass(frozen=True)
class Client:
    """One registered client: pseudonym, when registered, notes and visits filed."""

    pseudonym: str
    created_utc: str
    n_notes: int
    n_visits: int


class Registry:
    """The open client registry (use :meth:`open` as a context manager)."""

    def __init__(self, con: sqlite3.Connection, path: Path) -> None:
        self.con = con
        self.path = path

    @classmethod
    @contextmanager
    def open(cls, *, create: bool = True) -> Iterator[Registry]:
        """Open ``HOME/registry.db`` (created 0600 in a 0700 home when missing)."""
        path = registry_path()
        if not path.exists():
            if not create:
                raise ClientError(f"no client registry at {path} (attune client add C)")
            ensure_home()
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
        con = connect(path)
        try:
            with con:
                con.executescript(_SCHEMA)
            yield cls(con, path)
        finally:
            con.close()

    # -- clients -------------------------------------------------------------------
    def exists(self, pseudonym: str) -> bool:
        """Tell whether ``pseudonym`` is registered."""
        q = "SELECT 1 FROM clients WHERE pseudonym = ?"
        return self.con.execute(q, (pseudonym,)).fetchone() is not None

    def add(self, pseudonym: str) -> None:
        """Register a new client; :class:`ClientError` if already registered."""
        check_pseudonym(pseudonym)
        if self.exists(pseudonym):
            raise ClientError(f"client {pseudonym!r} is already registered")
        with self.con:
            self.con.execute("INSERT INTO clients VALUES (?, ?)", (pseudonym, now_utc()))

    def add_if_missing(self, pseudonym: str) -> bool:
        """Register ``pseudonym`` unless it is; return True if it was new."""
        check_pseudonym(pseudonym)
        if self.exists(pseudonym):
            return False
        self.add(pseudonym)
        return True

    def require(self, pseudonym: str) -> None:
        """Raise :class:`ClientError` unless ``pseudonym`` is registered."""
        check_pseudonym(pseudonym)
        if not self.exists(pseudonym):
            raise ClientError(
                f"client {pseudonym!r} is not registered (`attune client list` shows who is)"
            )

    def clients(self) -> list[Client]:
        """Every registered client, by pseudonym."""
        rows = self.con.execute(
            "SELECT c.pseudonym, c.created_utc,"
            " (SELECT COUNT(*) FROM notes n WHERE n.pseudonym = c.pseudonym),"
            " (SELECT COUNT(*) FROM visits v WHERE v.pseudonym = c.pseudonym)"
            " FROM clients c ORDER BY c.pseudonym"
        ).fetchall()
        return [Client(p, c, int(n), int(v)) for p, c, n, v in rows]

    # -- notes ---------------------------------------------------------------------
    def add_note(self, pseudonym: str, text: str) -> None:
        """Append a therapist note (pseudonyms only; no identifying details)."""
        self.require(pseudonym)
        text = text.strip()
        if not text:
            raise ClientError("a note must not be empty")
        if len(text) > MAX_NOTE_CHARS:
            raise ClientError(f"a note is at most {MAX_NOTE_CHARS} characters")
        with self.con:
            self.con.execute("INSERT INTO notes VALUES (?, ?, ?)", (pseudonym, now_utc(), text))

    def notes(self, pseudonym: str) -> list[tuple[str, str]]:
        """``(created_utc, text)`` of a client's notes, oldest first."""
        self.require(pseudonym)
        q = "SELECT created_utc, text FROM notes WHERE pseudonym = ? ORDER BY rowid"
        return [(c, t) for c, t in self.con.execute(q, (pseudonym,))]

    # -- visits --------------------------------------------------------------------
    def add_visit(self, pseudonym: str, folder: Path | str) -> None:
        """File a session folder as a visit of ``pseudonym`` (registered if new)."""
        self.add_if_missing(pseudonym)
        folder = Path(folder).resolve()
        with self.con:
            self.con.execute(
                "INSERT OR REPLACE INTO visits VALUES (?, ?, ?, ?)",
                (pseudonym, folder.name, str(folder), now_utc()),
            )

    def visit_folders(self, pseudonym: str) -> list[Path]:
        """Folders filed as visits of ``pseudonym`` (they may no longer exist)."""
        q = "SELECT folder FROM visits WHERE pseudonym = ? ORDER BY filed_utc, rowid"
        return [Path(f) for (f,) in self.con.execute(q, (pseudonym,))]

    def remove(self, pseudonym: str) -> None:
        """Delete every row about ``pseudonym`` and compact the file (no trace left)."""
        with self.con:
            self.con.execute("PRAGMA secure_delete = ON")
            for table in ("clients", "notes", "visits"):
                self.con.execute(f"DELETE FROM {table} WHERE pseudonym = ?", (pseudonym,))
        self.con.execute("VACUUM")
        self.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def client_sessions(pseudonym: str, *, root: Path | None = None) -> list[SessionInfo]:
    """Return a client's sessions, oldest first.

    They are the visits filed in the registry and every session under ``root`` (default
    the home's ``sessions/``) whose participant is ``pseudonym``.
    """
    check_pseudonym(pseudonym)
    root = sessions_dir() if root is None else root
    found: dict[Path, SessionInfo] = {}
    if root.is_dir():
        for s in list_sessions(root)[0]:
            if s.meta.get("participant") == pseudonym:
                found[s.folder.resolve()] = s
    if registry_path().exists():
        with Registry.open(create=False) as reg:
            folders = reg.visit_folders(pseudonym)
        unreadable: tuple[type[Exception], ...] = (StoreError, *db_errors())
        for f in folders:
            if f in found or not f.is_dir():
                continue
            try:
                found[f] = session_info(f)
            except unreadable:
                continue
    out = list(found.values())
    out.sort(key=lambda s: (s.meta.get("started_utc") or "", s.folder.name))
    return out


def latest_session(client: str) -> Path | None:
    """Return the folder of ``client``'s newest session, or None if it has none.

    Used to carry over what the last visit learned (``--client C`` with the carry-over
    of :mod:`attune.sessions.carryover`).
    """
    sessions = client_sessions(client)
    return sessions[-1].folder if sessions else None
