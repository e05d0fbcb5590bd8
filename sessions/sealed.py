"""Session files sealed into the (encrypted) session store.

With encryption at rest on, a session folder keeps no file in clear once the session is
over: the files it wrote beside ``session.db`` (``config.toml``, ``session.mid``, the
audio, ``summary.json``, ``report.html``, anything a later version adds) are moved into
the store's ``files`` table (``name`` TEXT primary key, ``data`` BLOB, ``sealed_utc``)
and the clear file is overwritten with zeros and removed. ``attune export-client``
writes them back out, decrypted, on request. Without a key nothing is sealed.

The table is created on first use, so stores of older versions take sealed files too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from attune.sessions.home import encryption_on
from attune.sessions.store import STORE_FILE, now_utc, open_store

#: Files never sealed: the store itself (and its WAL) and the live control channel.
KEEP_PREFIXES: tuple[str, ...] = (STORE_FILE, "control")
#: Bytes overwritten per write when wiping a clear file.
_WIPE_CHUNK = 1 << 20

_TABLE = "CREATE TABLE IF NOT EXISTS files (name TEXT PRIMARY KEY, data BLOB, sealed_utc TEXT)"


def wipe_file(path: Path) -> None:
    """Overwrite ``path`` with zeros, then remove it (best effort on journaling file systems)."""
    size = path.stat().st_size
    with open(path, "r+b", buffering=0) as f:
        left = size
        while left > 0:
            n = min(left, _WIPE_CHUNK)
            f.write(b"\0" * n)
            left -= n
        os.fsync(f.fileno())
    path.unlink()


def seal_folder(
    folder: Path | str, *, names: Iterable[str] | None = None, force: bool = False
) -> list[str]:
    """Move a session folder's clear files into its store (only with encryption on).

    Parameters
    ----------
    folder : Path or str
        The session folder.
    names : iterable of str, optional
        Seal only these files (e.g. a report written while the session still runs);
        default every file but the store and the control channel. Call it with the
        default only once the session has ended (the renderer may still be writing).
    force : bool
        Seal even without encryption (tests).

    Returns
    -------
    list of str
        Names of the files sealed.
    """
    if not (force or encryption_on()):
        return []
    folder = Path(folder)
    wanted = None if names is None else set(names)
    todo = [
        p
        for p in sorted(folder.iterdir())
        if p.is_file()
        and not p.is_symlink()
        and not p.name.startswith(KEEP_PREFIXES)
        and (wanted is None or p.name in wanted)
    ]
    if not todo:
        return []
    con = open_store(folder)
    try:
        with con:
            con.execute(_TABLE)
            for p in todo:
                con.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?)",
                    (p.name, p.read_bytes(), now_utc()),
                )
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    for p in todo:
        wipe_file(p)
    return [p.name for p in todo]


def sealed_names(folder: Path | str) -> list[str]:
    """Names of the files sealed into a session's store (empty when none)."""
    con = open_store(folder)
    try:
        con.execute(_TABLE)
        return [r[0] for r in con.execute("SELECT name FROM files ORDER BY name")]
    finally:
        con.close()


def unseal(folder: Path | str, name: str) -> bytes:
    """Return the bytes of one sealed file.

    Raises
    ------
    KeyError
        If no file of that name is sealed.
    """
    con = open_store(folder)
    try:
        con.execute(_TABLE)
        row = con.execute("SELECT data FROM files WHERE name = ?", (name,)).fetchone()
    finally:
        con.close()
    if row is None:
        raise KeyError(name)
    return bytes(row[0])
