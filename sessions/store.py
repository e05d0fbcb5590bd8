"""The crash-safe session store: one SQLite database per session folder.

A session folder holds ``session.db`` (SQLite in WAL mode) with five tables:

``sessions``
    One row: ``id`` (the folder name), ``name``, ``participant`` (pseudonym), ``mode``
    (simulate, replay, live), ``seed``, ``tick_s``, ``started_utc`` and ``ended_utc``
    (ISO 8601), ``status`` (``running``, ``ended``, ``interrupted``), ``pid`` and ``host``
    of the process that ran it, and ``config_toml`` (the exact configuration).
``ticks``
    One row per control tick, columns as :attr:`SessionStore.tick_columns` (``t_s``
    first; NULL where a value was not available).
``beats``
    Every detected heartbeat: ``time_s`` (session seconds), ``rr_ms`` (NULL for the
    first beat), ``corrected`` (0/1).
``events``
    ``t_s``, ``event``: phase changes, holds, warnings, therapist commands, markers.
``annotations``
    ``t_s``, ``author``, ``text``, ``created_utc``: notes added by people, during the
    session (``attune annotate``) or afterwards.

Crash safety: rows are buffered and committed once per second of session time (every
``commit_every`` ticks). WAL with ``synchronous=NORMAL`` makes each commit durable
against a killed process (SIGKILL, a crash of Python or the synth); only a power cut
can lose the last commits. A killed session keeps ``status = 'running'``;
:func:`list_sessions` reports it as ``crashed`` once its process is gone.

The database file is created 0600 inside the 0700 session folder; SQLite gives its
``-wal`` and ``-shm`` files the same mode.
"""

from __future__ import annotations

import math
import os
import socket
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

#: File name of the store inside a session folder.
STORE_FILE = "session.db"
#: Schema version, kept in ``PRAGMA user_version``.
SCHEMA_VERSION = 1
#: Tick columns stored as TEXT or INTEGER; every other tick column is REAL.
TEXT_COLUMNS = frozenset({"phase"})
INTEGER_COLUMNS = frozenset({"hold", "mode", "n_notes"})
#: Longest annotation accepted, characters.
MAX_ANNOTATION_CHARS = 2000
#: Tables that hold rows over time (what ``attune export`` can write).
TABLES: dict[str, tuple[str, ...]] = {
    "beats": ("time_s", "rr_ms", "corrected"),
    "events": ("t_s", "event"),
    "annotations": ("t_s", "author", "text", "created_utc"),
}


class StoreError(Exception):
    """A session store is missing, unreadable or of another schema (one-line message)."""


def now_utc() -> str:
    """Return the current UTC time as ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=10.0, isolation_level="DEFERRED")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    return con


def _quote(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise StoreError(f"column name {name!r}: letters, digits and underscores expected")
    return f'"{name}"'


class SessionStore:
    """Write one session into ``folder/session.db``.

    Parameters
    ----------
    folder : Path
        The session folder (already created, mode 0700).
    tick_columns : sequence of str
        Per-tick columns in order; ``t_s`` must be first.
    meta : dict
        The ``sessions`` row: ``name``, ``participant``, ``mode``, ``seed``, ``tick_s``,
        ``config_toml``.
    commit_every : int
        Commit after this many ticks (4 ticks of 0.25 s = once a second).

    Notes
    -----
    Not thread-safe: the session runner's thread writes; other processes may read or
    annotate concurrently (WAL lets readers and one writer work side by side).
    """

    def __init__(
        self,
        folder: Path,
        *,
        tick_columns: Sequence[str],
        meta: dict,
        commit_every: int = 4,
    ) -> None:
        if not tick_columns or tick_columns[0] != "t_s":
            raise StoreError(f"tick_columns must start with 't_s', got {list(tick_columns)[:3]}")
        self.path = Path(folder) / STORE_FILE
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self.tick_columns = tuple(tick_columns)
        self.commit_every = max(1, int(commit_every))
        self._con = _connect(self.path)
        types = [
            "TEXT" if c in TEXT_COLUMNS else "INTEGER" if c in INTEGER_COLUMNS else "REAL"
            for c in self.tick_columns
        ]
        cols = ", ".join(f"{_quote(c)} {t}" for c, t in zip(self.tick_columns, types, strict=True))
        with self._con:
            self._con.executescript(
                f"""
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY, name TEXT, participant TEXT, mode TEXT,
                    seed INTEGER, tick_s REAL, started_utc TEXT, ended_utc TEXT,
                    status TEXT, pid INTEGER, host TEXT, config_toml TEXT);
                CREATE TABLE ticks ({cols});
                CREATE TABLE beats (time_s REAL, rr_ms REAL, corrected INTEGER);
                CREATE TABLE events (t_s REAL, event TEXT);
                CREATE TABLE annotations (t_s REAL, author TEXT, text TEXT, created_utc TEXT);
                PRAGMA user_version = {SCHEMA_VERSION};
                """
            )
            self._con.execute(
                "INSERT INTO sessions (id, name, participant, mode, seed, tick_s, started_utc,"
                " status, pid, host, config_toml) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (
                    Path(folder).name,
                    meta.get("name"),
                    meta.get("participant"),
                    meta.get("mode"),
                    meta.get("seed"),
                    meta.get("tick_s"),
                    now_utc(),
                    os.getpid(),
                    socket.gethostname(),
                    meta.get("config_toml"),
                ),
            )
        marks = ", ".join("?" * len(self.tick_columns))
        self._tick_sql = f"INSERT INTO ticks VALUES ({marks})"
        self._ticks: list[tuple] = []
        self._beats: list[tuple] = []
        self._events: list[tuple] = []
        self.n_ticks = 0

    def tick(self, row: tuple) -> None:
        """Buffer one tick row (values in :attr:`tick_columns` order; None or NaN = NULL)."""
        self._ticks.append(row)
        self.n_ticks += 1
        if self.n_ticks % self.commit_every == 0:
            self.commit()

    def beats(self, rows: Iterable[tuple[float, float | None, int]]) -> None:
        """Buffer beats: ``(time_s, rr_ms or None, corrected)``."""
        self._beats.extend(rows)

    def event(self, t_s: float, text: str) -> None:
        """Buffer an event at session time ``t_s`` (s)."""
        self._events.append((float(t_s), str(text)))

    def commit(self) -> None:
        """Write the buffered rows in one transaction.

        Raises
        ------
        StoreError
            One line when the disk is full (or the file may grow no more): the
            transaction is rolled back, so the store keeps every earlier commit.
        """
        try:
            with self._con:
                if self._ticks:
                    self._con.executemany(self._tick_sql, self._ticks)
                if self._beats:
                    self._con.executemany("INSERT INTO beats VALUES (?, ?, ?)", self._beats)
                if self._events:
                    self._con.executemany("INSERT INTO events VALUES (?, ?)", self._events)
        except sqlite3.OperationalError as e:
            self._ticks.clear()  # lost: at most the last second
            self._beats.clear()
            self._events.clear()
            raise StoreError(
                f"{self.path}: cannot write ({e}): disk full or file size limit reached; "
                "the session was stopped, its store keeps what was saved before"
            ) from None
        self._ticks.clear()
        self._beats.clear()
        self._events.clear()

    def close(self, *, status: str = "ended") -> None:
        """Commit what is buffered, mark the session ``status`` and close the database.

        With the disk full, the buffered rows are dropped and the status is still
        written (after moving the write-ahead log into the database, which frees it).
        """
        try:
            self.commit()
        except StoreError:
            status = "failed"
        try:
            self._mark(status)
        except sqlite3.OperationalError:
            try:
                self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._mark(status)
            except sqlite3.OperationalError:
                pass  # left "running": listed as crashed once this process is gone
        try:
            self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.OperationalError:
            pass
        self._con.close()

    def _mark(self, status: str) -> None:
        with self._con:
            self._con.execute("UPDATE sessions SET ended_utc = ?, status = ?", (now_utc(), status))


def store_path(folder: Path | str) -> Path:
    """Return ``folder/session.db``, checking that it exists.

    Raises
    ------
    StoreError
        If the folder or its store is missing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise StoreError(f"session folder {str(folder)!r} does not exist")
    path = folder / STORE_FILE
    if not path.is_file():
        raise StoreError(f"session folder {str(folder)!r} has no {STORE_FILE}")
    return path


def open_store(folder: Path | str) -> sqlite3.Connection:
    """Open a session's store for reading or annotating (recovers a killed session's WAL).

    Raises
    ------
    StoreError
        If the store is missing, not SQLite, or of another schema version.
    """
    path = store_path(folder)
    try:
        con = _connect(path)
        version = con.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path}: not a readable session store ({e})") from None
    if version != SCHEMA_VERSION:
        con.close()
        raise StoreError(f"{path}: schema version {version}, expected {SCHEMA_VERSION}")
    return con


def annotate(folder: Path | str, text: str, *, t_s: float | None = None, author: str = "") -> float:
    """Add an annotation to a session, running or finished.

    Parameters
    ----------
    folder : Path or str
        The session folder.
    text : str
        The note (one line; pseudonyms only, no identifying details).
    t_s : float, optional
        Session time, seconds; default the newest recorded tick (``now`` in a running
        session, the end of a finished one).
    author : str
        Who wrote it (a role or initials).

    Returns
    -------
    float
        The session time the annotation was filed at, seconds.
    """
    text = text.strip()
    if not text or "\n" in text:
        raise StoreError("annotation text must be one non-empty line")
    if len(text) > MAX_ANNOTATION_CHARS:
        raise StoreError(f"annotation text: at most {MAX_ANNOTATION_CHARS} characters")
    if t_s is not None and not (math.isfinite(t_s) and t_s >= 0.0):
        raise StoreError(
            f"annotation time --t-s must be a finite number of seconds >= 0, got {t_s}"
        )
    con = open_store(folder)
    try:
        if t_s is None:
            t_s = con.execute("SELECT MAX(t_s) FROM ticks").fetchone()[0] or 0.0
        with con:
            con.execute(
                "INSERT INTO annotations VALUES (?, ?, ?, ?)",
                (float(t_s), author, text, now_utc()),
            )
    finally:
        con.close()
    return float(t_s)


@dataclass(frozen=True)
class SessionData:
    """A whole session read back from its store.

    Attributes
    ----------
    folder : Path
        The session folder.
    meta : dict
        The ``sessions`` row (see the module docstring), ``status`` as in
        :func:`session_status`.
    ticks : dict of str to ndarray, each shape (n_ticks,)
        Tick columns: float64 with NaN for NULL, except ``phase`` (object array of str).
    beats : dict of str to ndarray, each shape (n_beats,)
        ``time_s`` (s), ``rr_ms`` (ms, NaN for the first beat), ``corrected`` (int).
    events : list of (float, str)
        ``(t_s, event)`` in recording order.
    annotations : list of (float, str, str)
        ``(t_s, author, text)`` ordered by time.
    """

    folder: Path
    meta: dict
    ticks: dict[str, np.ndarray]
    beats: dict[str, np.ndarray]
    events: list[tuple[float, str]]
    annotations: list[tuple[float, str, str]]

    @property
    def n_ticks(self) -> int:
        """Number of recorded ticks."""
        return int(self.ticks["t_s"].size)


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in con.execute(f"PRAGMA table_info({table})")]


def _numeric(rows: list[tuple], n_cols: int) -> np.ndarray:
    """Rows of numbers and NULLs as a float64 array of shape (n_cols, n_rows)."""
    if not rows:
        return np.empty((n_cols, 0))
    return np.array(rows, dtype=float).T  # None -> nan


def _meta(con: sqlite3.Connection) -> dict:
    """Return the ``sessions`` row as a dict, ``status`` as in :func:`session_status`."""
    row = con.execute("SELECT * FROM sessions").fetchone()
    meta = dict(zip(_columns(con, "sessions"), row or (), strict=False))
    meta["status"] = session_status(meta)
    if meta["status"] == "crashed":  # its WAV header was never finished: repair it
        from attune.sessions.audio_files import repair_session_audio

        folder = Path(con.execute("PRAGMA database_list").fetchone()[2]).parent
        meta["audio_repaired"] = repair_session_audio(folder)
    return meta


def session_status(meta: dict) -> str:
    """Return ``ended``, ``interrupted``, ``running`` or ``crashed`` (process gone)."""
    status = meta.get("status") or "unknown"
    if status != "running":
        return status
    if meta.get("host") != socket.gethostname() or not meta.get("pid"):
        return "running"
    try:
        os.kill(int(meta["pid"]), 0)
    except ProcessLookupError:
        return "crashed"
    except PermissionError:
        return "running"
    return "running"


def load_session(folder: Path | str) -> SessionData:
    """Read a whole session (ticks, beats, events, annotations) from its store."""
    con = open_store(folder)
    try:
        meta = _meta(con)
        cols = _columns(con, "ticks")
        numeric = [c for c in cols if c not in TEXT_COLUMNS]
        sel = ", ".join(_quote(c) for c in numeric)
        arr = _numeric(
            con.execute(f"SELECT {sel} FROM ticks ORDER BY rowid").fetchall(), len(numeric)
        )
        ticks = {c: arr[i] for i, c in enumerate(numeric)}
        for c in cols:
            if c in TEXT_COLUMNS:
                q = f"SELECT {_quote(c)} FROM ticks ORDER BY rowid"
                ticks[c] = np.array([r[0] or "" for r in con.execute(q)], dtype=object)
        ticks = {c: ticks[c] for c in cols}
        b = _numeric(con.execute("SELECT * FROM beats ORDER BY rowid").fetchall(), 3)
        beats = {"time_s": b[0], "rr_ms": b[1], "corrected": b[2].astype(int)}
        events = [(float(t), e) for t, e in con.execute("SELECT * FROM events ORDER BY rowid")]
        notes = [
            (float(t), a or "", x)
            for t, a, x in con.execute(
                "SELECT t_s, author, text FROM annotations ORDER BY t_s, rowid"
            )
        ]
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{folder}: session store unreadable ({e})") from None
    finally:
        con.close()
    return SessionData(Path(folder), meta, ticks, beats, events, notes)


def read_table(folder: Path | str, table: str) -> tuple[list[str], list[tuple]]:
    """Column names and rows of one table (``ticks`` or one of :data:`TABLES`)."""
    if table != "ticks" and table not in TABLES:
        raise StoreError(f"table must be one of {('ticks', *TABLES)}, got {table!r}")
    con = open_store(folder)
    try:
        cols = _columns(con, table)
        rows = con.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    finally:
        con.close()
    return cols, rows


@dataclass(frozen=True)
class SessionInfo:
    """One line of ``attune sessions``.

    Attributes
    ----------
    folder : Path
        The session folder.
    meta : dict
        The ``sessions`` row, ``status`` as in :func:`session_status`.
    n_ticks : int
        Ticks recorded.
    duration_s : float
        Session time covered by the ticks, seconds.
    n_beats, n_events, n_annotations : int
        Row counts.
    """

    folder: Path
    meta: dict
    n_ticks: int
    duration_s: float
    n_beats: int
    n_events: int
    n_annotations: int


def session_info(folder: Path | str) -> SessionInfo:
    """Summarise one session from its store (row counts, not whole tables)."""
    con = open_store(folder)
    try:
        meta = _meta(con)
        n, t_max = con.execute("SELECT COUNT(*), MAX(t_s) FROM ticks").fetchone()
        counts = [con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES]
        if meta.get("status") == "failed":  # why, from its last event
            row = con.execute(
                "SELECT event FROM events WHERE event LIKE 'session failed: %' "
                "ORDER BY rowid DESC LIMIT 1"
            ).fetchone()
            if row is not None:
                meta["failure"] = str(row[0]).removeprefix("session failed: ")
    finally:
        con.close()
    tick_s = meta.get("tick_s") or 0.0
    return SessionInfo(Path(folder), meta, int(n), (t_max + tick_s) if n else 0.0, *counts)


def list_sessions(root: Path | str) -> tuple[list[SessionInfo], list[str]]:
    """Every session under ``root`` (one level of folders), oldest first.

    Returns
    -------
    sessions : list of SessionInfo
    problems : list of str
        One line per folder with a store that could not be read.
    """
    root = Path(root)
    if not root.is_dir():
        raise StoreError(f"session directory {str(root)!r} does not exist")
    out, problems = [], []
    for db in sorted(root.glob(f"*/{STORE_FILE}")):
        try:
            out.append(session_info(db.parent))
        except (StoreError, sqlite3.DatabaseError) as e:
            problems.append(f"{db.parent.name}: {e}")
    out.sort(key=lambda s: (s.meta.get("started_utc") or "", s.folder.name))
    return out, problems


def resolve_session(arg: Path | str, root: Path | str) -> Path:
    """Return the session folder at path ``arg``, or with id ``arg`` under ``root``.

    Raises
    ------
    StoreError
        Naming both places looked in.
    """
    p = Path(arg)
    if (p / STORE_FILE).is_file():
        return p
    q = Path(root) / str(arg)
    if (q / STORE_FILE).is_file():
        return q
    where = f"{str(p)!r}" if p == q else f"{str(p)!r} or {str(q)!r}"
    raise StoreError(
        f"session {str(arg)!r}: no {STORE_FILE} at {where} "
        "(give a session folder or an id listed by `attune sessions`)"
    )
