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
``selfreports``
    ``t_s``, ``kind`` (``pre``, ``during``, ``post``), ``arousal``, ``valence`` (SAM
    1-9), ``source`` (``intake``, ``cli``, ``channel``, ``feeling``, ``simulated``),
    ``text`` (a described feeling, kept only with the client's consent; else NULL).
``signal_streams``, ``signals``
    The raw signals the engine steered on (:mod:`attune.sessions.raw_signals`): one row
    per stream, and compressed blocks of its samples with the ticks they arrived at.
``commands``
    ``t_s``, ``command``: every therapist command accepted, as given, at the tick it
    took effect (so a replay can give them again).

The last five tables are created when missing (:func:`ensure_extra_tables`), so older
stores read as having none of those rows.
``learned`` (written at the end of a session whose loop learned something)
    ``created_utc``, ``json``: what the loop learned of the listener (response state,
    levers, palette; :mod:`attune.sessions.carryover`), the seed of the next visit.

Crash safety: rows are buffered and committed once per second of session time (every
``commit_every`` ticks). WAL with ``synchronous=NORMAL`` makes each commit durable
against a killed process (SIGKILL, a crash of Python or the synth); only a power cut
can lose the last commits. A killed session keeps ``status = 'running'``;
:func:`list_sessions` reports it as ``crashed`` once its process is gone.

The database file is created 0600 inside the 0700 session folder; SQLite gives its
``-wal`` and ``-shm`` files the same mode.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import tomllib
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
#: Tables read and exported like :data:`TABLES` but absent from older stores (read as empty).
EXTRA_TABLES: dict[str, tuple[str, ...]] = {
    "selfreports": ("t_s", "kind", "arousal", "valence", "source", "text"),
}


class StoreError(Exception):
    """A session store is missing, unreadable or of another schema (one-line message)."""


def now_utc() -> str:
    """Return the current UTC time as ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def db_errors() -> tuple[type[Exception], ...]:
    """Return the database exception classes of both drivers: ``except db_errors() as e``.

    ``sqlite3.DatabaseError`` and, when SQLCipher is installed, its own (they share no
    base class).
    """
    try:
        import sqlcipher3
    except ImportError:  # pragma: no cover - a dependency; kept for partial installs
        return (sqlite3.DatabaseError,)
    return (sqlite3.DatabaseError, sqlcipher3.DatabaseError)


def connect(path: Path | str) -> sqlite3.Connection:
    """Open (or create) an Attune database: a session store or the client registry.

    The one way every module opens a store. Without a key (see
    :func:`attune.sessions.home.data_key`) it is plain SQLite; with one it is SQLCipher
    (AES-256, the whole file and its WAL encrypted), keyed with the derived raw key. WAL
    and ``synchronous=NORMAL`` in both cases.

    Raises
    ------
    StoreError
        One line when the file is encrypted and no key is set, the key is wrong, or the
        file is no database.
    """
    from attune.sessions.home import KEY_ENV, data_key

    key = data_key()
    if key is None:
        con = sqlite3.connect(path, timeout=10.0, isolation_level="DEFERRED")
    else:
        import sqlcipher3

        con = sqlcipher3.connect(str(path), timeout=10.0, isolation_level="DEFERRED")
        con.execute("PRAGMA cipher_log_level = NONE")
        con.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    try:
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
    except db_errors() as e:
        con.close()
        if key is None:
            why = f"encrypted or not a database ({e}); set {KEY_ENV} to the data home's key"
        else:
            why = f"does not open with the key of {KEY_ENV} (wrong key, or not encrypted): {e}"
        raise StoreError(f"{path}: {why}") from None
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
        self._con = connect(self.path)
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
            ensure_extra_tables(self._con)
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
        self._rows: list[tuple[str, tuple]] = []  # (insert statement, row): extra tables
        self._notes: list[tuple] = []
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

    def selfreport(self, row: tuple) -> None:
        """Buffer a ``selfreports`` row (:data:`EXTRA_TABLES` order)."""
        self._rows.append((SELFREPORT_INSERT, tuple(row)))

    def signal_stream(self, row: tuple) -> None:
        """Buffer a ``signal_streams`` row (:data:`SIGNAL_STREAM_COLUMNS` order)."""
        self._rows.append((SIGNAL_STREAM_INSERT, tuple(row)))

    def signal_block(self, row: tuple) -> None:
        """Buffer a ``signals`` row (:data:`SIGNAL_COLUMNS` order)."""
        self._rows.append((SIGNAL_INSERT, tuple(row)))

    def command(self, t_s: float, line: str) -> None:
        """Buffer an accepted therapist command (``commands`` table)."""
        self._rows.append((COMMAND_INSERT, (float(t_s), str(line))))

    def annotation(self, t_s: float, text: str, *, author: str = "") -> None:
        """Buffer an annotation filed during the session (``annotate`` on the channel)."""
        self._notes.append((float(t_s), author, str(text)[:MAX_ANNOTATION_CHARS], now_utc()))

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
                for sql, row in self._rows:
                    self._con.execute(sql, row)
                if self._notes:
                    self._con.executemany(
                        "INSERT INTO annotations VALUES (?, ?, ?, ?)", self._notes
                    )
        except db_errors() as e:
            for buf in (self._ticks, self._beats, self._events, self._rows, self._notes):
                buf.clear()  # lost: at most the last second
            raise StoreError(
                f"{self.path}: cannot write ({e}): disk full or file size limit reached; "
                "the session was stopped, its store keeps what was saved before"
            ) from None
        self._ticks.clear()
        self._notes.clear()
        self._beats.clear()
        self._events.clear()
        self._rows.clear()

    def save_learned(self, data: dict) -> None:
        """Keep what the loop learned of the listener: one JSON row of table ``learned``."""
        with self._con:
            self._con.execute("CREATE TABLE IF NOT EXISTS learned (created_utc TEXT, json TEXT)")
            self._con.execute(
                "INSERT INTO learned VALUES (?, ?)", (now_utc(), json.dumps(data, sort_keys=True))
            )

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
        except db_errors():
            try:
                self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._mark(status)
            except db_errors():
                pass  # left "running": listed as crashed once this process is gone
        try:
            self._con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except db_errors():
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
        con = connect(path)
        version = con.execute("PRAGMA user_version").fetchone()[0]
    except db_errors() as e:
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
    except db_errors() as e:
        raise StoreError(f"{folder}: session store unreadable ({e})") from None
    finally:
        con.close()
    return SessionData(Path(folder), meta, ticks, beats, events, notes)


#: Tick columns on the session's affect scale: without an intake rating they hold the
#: change from the baseline, and tables read for export carry :data:`RELATIVE_SUFFIX`.
RELATIVE_COLUMNS = ("arousal", "valence", "target_arousal", "target_valence")
RELATIVE_SUFFIX = "_rel"


def is_relative(config_toml: str | None) -> bool:
    """Tell whether the session had no intake rating (estimate relative to baseline).

    The stored configuration leaves ``estimator.prior_arousal`` out exactly then (unset
    values are not written).
    """
    if not config_toml:
        return False
    try:
        raw = tomllib.loads(config_toml)
    except tomllib.TOMLDecodeError:
        return False
    est = raw.get("estimator", {})
    return "prior_arousal" not in est or "prior_valence" not in est


def read_table(folder: Path | str, table: str) -> tuple[list[str], list[tuple]]:
    """Column names and rows of one table (``ticks``, :data:`TABLES`, :data:`EXTRA_TABLES`).

    In a session without an intake rating (:func:`is_relative`) the tick columns of
    :data:`RELATIVE_COLUMNS` are named with :data:`RELATIVE_SUFFIX` (``arousal_rel``:
    change from the baseline); with one they keep their names (``arousal``: the
    absolute scale, anchored on the intake rating).
    """
    known = ("ticks", *TABLES, *EXTRA_TABLES)
    if table not in known:
        raise StoreError(f"table must be one of {known}, got {table!r}")
    con = open_store(folder)
    try:
        if table in EXTRA_TABLES and not _has_table(con, table):
            return list(EXTRA_TABLES[table]), []
        cols = _columns(con, table)
        order = "t_s, rowid" if table in EXTRA_TABLES else "rowid"
        rows = con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
        relative = table == "ticks" and is_relative(_meta(con).get("config_toml"))
    finally:
        con.close()
    if relative:  # no intake rating: the estimate and its target are changes from baseline
        cols = [c + RELATIVE_SUFFIX if c in RELATIVE_COLUMNS else c for c in cols]
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
    unreadable: tuple[type[Exception], ...] = (StoreError, *db_errors())
    for db in sorted(root.glob(f"*/{STORE_FILE}")):
        try:
            out.append(session_info(db.parent))
        except unreadable as e:
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


# --------------------------------------------------------------------------- extra tables
# Self-reports and raw signals: tables added after schema version 1, created on demand.

#: Columns of ``signal_streams``: one row per stream the engine read.
SIGNAL_STREAM_COLUMNS: tuple[str, ...] = (
    "stream",
    "name",
    "kind",
    "fs",
    "channels",
    "units",
    "source_id",
)
#: Columns of ``signals``: one compressed block of one stream's samples.
SIGNAL_COLUMNS: tuple[str, ...] = (
    "stream",
    "t0_s",
    "t1_s",
    "n_samples",
    "dtype",
    "pulls",
    "timestamps",
    "data",
)
SELFREPORT_INSERT = "INSERT INTO selfreports VALUES (?, ?, ?, ?, ?, ?)"
SIGNAL_STREAM_INSERT = "INSERT INTO signal_streams VALUES (?, ?, ?, ?, ?, ?, ?)"
SIGNAL_INSERT = "INSERT INTO signals VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
COMMAND_INSERT = "INSERT INTO commands VALUES (?, ?)"


def ensure_extra_tables(con: sqlite3.Connection) -> None:
    """Create the ``selfreports``, ``signal_streams``, ``signals``, ``commands`` tables if missing.

    ``signals`` columns: ``stream`` (``signal_streams.stream``), ``t0_s``/``t1_s``
    (first and last sample time, s), ``n_samples``, ``dtype`` of the samples
    (``float32`` when exact, else ``float64``), ``pulls`` (the ticks the samples
    arrived at and how many each brought), ``timestamps`` and ``data`` (compressed
    blobs, :mod:`attune.sessions.raw_signals`).
    """
    con.executescript(
        """
        CREATE TABLE IF NOT EXISTS selfreports (
            t_s REAL, kind TEXT, arousal REAL, valence REAL, source TEXT, text TEXT);
        CREATE TABLE IF NOT EXISTS signal_streams (
            stream INTEGER PRIMARY KEY, name TEXT, kind TEXT, fs REAL, channels TEXT,
            units TEXT, source_id TEXT);
        CREATE TABLE IF NOT EXISTS signals (
            stream INTEGER, t0_s REAL, t1_s REAL, n_samples INTEGER, dtype TEXT,
            pulls BLOB, timestamps BLOB, data BLOB);
        CREATE TABLE IF NOT EXISTS commands (t_s REAL, command TEXT);
        """
    )


def _has_table(con: sqlite3.Connection, table: str) -> bool:
    q = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
    return con.execute(q, (table,)).fetchone() is not None


def add_selfreport(folder: Path | str, row: tuple) -> None:
    """Write one ``selfreports`` row into a session's store (running or finished).

    Parameters
    ----------
    folder : Path or str
        The session folder.
    row : tuple
        ``(t_s, kind, arousal, valence, source, text)``; validated by the caller
        (:func:`attune.sessions.selfreport.add_rating`).
    """
    con = open_store(folder)
    try:
        with con:
            ensure_extra_tables(con)
            con.execute(SELFREPORT_INSERT, tuple(row))
    finally:
        con.close()


def read_selfreports(folder: Path | str) -> list[tuple]:
    """Rows of ``selfreports`` ``(t_s, kind, arousal, valence, source, text)`` by time."""
    con = open_store(folder)
    try:
        if not _has_table(con, "selfreports"):
            return []
        return con.execute("SELECT * FROM selfreports ORDER BY t_s, rowid").fetchall()
    finally:
        con.close()


def last_tick_s(folder: Path | str) -> tuple[float, float]:
    """Return ``(newest tick time, tick_s)`` of a session, seconds (0 without ticks)."""
    con = open_store(folder)
    try:
        t = con.execute("SELECT MAX(t_s) FROM ticks").fetchone()[0]
        tick = con.execute("SELECT tick_s FROM sessions").fetchone()
    finally:
        con.close()
    return float(t or 0.0), float((tick and tick[0]) or 0.0)


def read_signal_rows(folder: Path | str) -> tuple[list[tuple], list[tuple]]:
    """Rows of ``signal_streams`` and ``signals`` (by stream, then time); empty if absent."""
    con = open_store(folder)
    try:
        if not _has_table(con, "signals"):
            return [], []
        streams = con.execute("SELECT * FROM signal_streams ORDER BY stream").fetchall()
        blocks = con.execute("SELECT * FROM signals ORDER BY stream, rowid").fetchall()
    except db_errors() as e:
        raise StoreError(f"{folder}: session store unreadable ({e})") from None
    finally:
        con.close()
    return streams, blocks


def read_commands(folder: Path | str) -> list[tuple[float, str]] | None:
    """Return the accepted therapist commands ``(t_s, command)`` in order; None if not kept."""
    con = open_store(folder)
    try:
        if not _has_table(con, "commands"):
            return None
        return [(float(t), str(c)) for t, c in con.execute("SELECT * FROM commands ORDER BY rowid")]
    finally:
        con.close()


def read_learned(folder: Path | str) -> dict | None:
    """Return the newest ``learned`` row of a session (None if it learned nothing).

    Raises
    ------
    StoreError
        If the store is unreadable, or the row is not a JSON object.
    """
    con = open_store(folder)
    try:
        has = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'learned'"
        ).fetchone()
        row = (
            con.execute("SELECT json FROM learned ORDER BY rowid DESC LIMIT 1").fetchone()
            if has
            else None
        )
    finally:
        con.close()
    if row is None:
        return None
    try:
        data = json.loads(row[0])
    except json.JSONDecodeError as e:
        raise StoreError(f"{store_path(folder)}: table learned: not JSON ({e})") from None
    if not isinstance(data, dict):
        raise StoreError(f"{store_path(folder)}: table learned: a JSON object expected")
    return data
