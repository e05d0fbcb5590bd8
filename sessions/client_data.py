"""A client's data as a whole: erase it (right to erasure) or export a portable copy.

:func:`erase_client` removes every session of the client (folders filed as visits and
those in the home naming the client), its progress pages in the home and its rows in
the registry (then compacts the registry so no deleted row lingers in free pages).
Files are overwritten with zeros before removal (best effort: journaling and
copy-on-write file systems and SSDs may keep old blocks; with encryption at rest on
those blocks are ciphertext). Copies made outside the home (``export-client``, ``--out``
reports) are the user's to delete.

:func:`export_client` writes a portable, decrypted copy: ``client.json`` (pseudonym,
registration, notes, sessions), ``sessions/<id>/session.db`` (plain SQLite: opens with
any SQLite tool) with the session's files beside it (sealed ones unsealed) and
``progress.html``.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from attune.sessions.clients import Registry, check_pseudonym, client_sessions
from attune.sessions.home import progress_dir, registry_path
from attune.sessions.record import private_open
from attune.sessions.sealed import sealed_names, unseal, wipe_file
from attune.sessions.store import SCHEMA_VERSION, STORE_FILE, StoreError, open_store


class EraseError(StoreError):
    """Erasure refused (nothing found, or a session still running); one line."""


@dataclass
class Erased:
    """What :func:`erase_client` removed."""

    sessions: list[Path] = field(default_factory=list)
    pages: list[Path] = field(default_factory=list)
    registered: bool = False


def _remove_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            p = Path(root) / name
            if p.is_file() and not p.is_symlink():
                wipe_file(p)
    shutil.rmtree(folder)


def erase_client(pseudonym: str) -> Erased:
    """Remove every trace of client ``pseudonym`` from the data home (and its visits).

    Raises
    ------
    EraseError
        If nothing of the client is found, or one of its sessions is still running.
    """
    check_pseudonym(pseudonym)
    sessions = client_sessions(pseudonym)
    running = [s.folder.name for s in sessions if s.meta.get("status") == "running"]
    if running:
        raise EraseError(f"client {pseudonym}: session {running[0]} is still running; end it first")
    out = Erased()
    pages = progress_dir()
    if pages.is_dir():
        out.pages = [p for p in pages.iterdir() if p.is_file() and p.stem == pseudonym]
    if registry_path().exists():
        with Registry.open(create=False) as reg:
            out.registered = reg.exists(pseudonym)
            filed = reg.visit_folders(pseudonym)
            reg.remove(pseudonym)
    else:
        filed = []
    folders = {s.folder.resolve() for s in sessions} | {f for f in filed if f.is_dir()}
    if not (folders or out.pages or out.registered):
        raise EraseError(f"client {pseudonym}: nothing found to erase")
    for folder in sorted(folders):
        _remove_tree(folder)
        out.sessions.append(folder)
    for p in out.pages:
        wipe_file(p)
    return out


def _plain_copy(folder: Path, dest: Path) -> None:
    """Copy a session store to ``dest`` as plain (unencrypted) SQLite."""
    os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    con = open_store(folder)
    try:
        if isinstance(con, sqlite3.Connection):
            dst = sqlite3.connect(dest)
            try:
                con.backup(dst)
            finally:
                dst.close()
        else:  # SQLCipher: export into an attached database with an empty key
            con.execute("ATTACH DATABASE ? AS plain KEY ''", (str(dest),))
            con.execute("SELECT sqlcipher_export('plain')")
            con.execute(f"PRAGMA plain.user_version = {SCHEMA_VERSION}")
            con.execute("DETACH DATABASE plain")
    finally:
        con.close()


def export_client(pseudonym: str, out: Path) -> list[Path]:
    """Write a portable, decrypted copy of client ``pseudonym``'s data into ``out``.

    Parameters
    ----------
    pseudonym : str
        The client.
    out : Path
        A new or empty folder (created 0700); files are written 0600.

    Returns
    -------
    list of Path
        The session folders written.
    """
    check_pseudonym(pseudonym)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StoreError(f"export-client --out {out}: must be a new or empty folder")
    sessions = client_sessions(pseudonym)
    info: dict = {"pseudonym": pseudonym, "registered_utc": None, "notes": []}
    if registry_path().exists():
        with Registry.open(create=False) as reg:
            if reg.exists(pseudonym):
                row = reg.con.execute(
                    "SELECT created_utc FROM clients WHERE pseudonym = ?", (pseudonym,)
                ).fetchone()
                info["registered_utc"] = row[0]
                info["notes"] = [{"utc": c, "text": t} for c, t in reg.notes(pseudonym)]
    if not sessions and info["registered_utc"] is None:
        raise StoreError(f"client {pseudonym}: not registered and no sessions found")
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = []
    for s in sessions:
        dest = out / "sessions" / s.folder.name
        dest.mkdir(parents=True, mode=0o700)
        _plain_copy(s.folder, dest / STORE_FILE)
        for name in sealed_names(s.folder):
            with open(os.open(dest / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                f.write(unseal(s.folder, name))
        if not (dest / "config.toml").exists() and s.meta.get("config_toml"):
            with private_open(dest / "config.toml") as f:
                f.write(s.meta["config_toml"])
        for p in s.folder.iterdir():
            if p.is_file() and not p.name.startswith(STORE_FILE) and not (dest / p.name).exists():
                shutil.copyfile(p, dest / p.name)
                os.chmod(dest / p.name, 0o600)
        written.append(dest)
    info["sessions"] = [
        {
            "id": s.folder.name,
            "started_utc": s.meta.get("started_utc"),
            "mode": s.meta.get("mode"),
            "status": s.meta.get("status"),
            "duration_s": s.duration_s,
        }
        for s in sessions
    ]
    with private_open(out / "client.json") as f:
        json.dump(info, f, indent=2)
    if sessions:
        from attune.sessions.progress import write_progress

        write_progress(pseudonym, out=out / "progress.html")
    return written
