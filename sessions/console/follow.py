"""The console of a session seen through its store: ``attune console SESSION``.

For a finished session (or a replay) the page shows what was recorded, read-only, with
a link to the report. For a session still running without a console of its own, the
store is followed (rows appear once a second, as the session commits them) and commands
go through the session's command channel when its ``control.json`` is there.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from attune.sessions.console.frames import FrameBuilder, session_hello
from attune.sessions.console.meter import WavTailMeter
from attune.sessions.console.server import ConsoleHub
from attune.sessions.store import open_store, session_status

#: How often the store is read for new rows, seconds.
POLL_S = 0.25


def _sensors(cfg: Any, mode: str) -> list[dict[str, str]]:
    if mode == "simulate":
        return [
            {"name": "sim-ecg", "kind": "ecg"},
            {"name": "sim-eeg", "kind": "eeg"},
        ]
    return [{"name": s.name or s.source_id or s.kind, "kind": s.kind} for s in cfg.streams]


class StoreFollower:
    """Read a session's store and publish its ticks to a :class:`ConsoleHub`.

    Parameters
    ----------
    folder : Path
        The session folder.
    controllable : bool
        True when commands can reach the session (running, ``control.json`` present).
    """

    def __init__(self, folder: Path, *, controllable: bool) -> None:
        from attune.sessions.config import validate_config

        self.folder = Path(folder)
        con = open_store(folder)
        try:
            row = con.execute("SELECT * FROM sessions").fetchone()
            cols = [c[1] for c in con.execute("PRAGMA table_info(sessions)")]
        finally:
            con.close()
        meta = dict(zip(cols, row or (), strict=False))
        import tomllib

        self.cfg = validate_config(tomllib.loads(meta.get("config_toml") or ""), source="store")
        self.status = session_status(meta)
        running = self.status == "running"
        hello = session_hello(
            self.cfg,
            folder_name=self.folder.name,
            mode=str(meta.get("mode")),
            controllable=controllable and running,
            sensors=_sensors(self.cfg, str(meta.get("mode"))),
            status=self.status,
        )
        hello["level_check"] = False
        hello["report"] = (self.folder / "report.html").is_file()
        self.hub = ConsoleHub(hello)
        self.builder = FrameBuilder(self.cfg)
        self.meter = WavTailMeter(self.folder) if running else None
        self._tick_rowid = 0
        self._event_rowid = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="attune-console-follow", daemon=True)

    def start(self) -> None:
        """Publish what is recorded, then follow new rows until the session ends."""
        self._thread.start()

    def poll(self, con: sqlite3.Connection) -> int:
        """Publish the ticks committed since the last call; return how many."""
        con.row_factory = sqlite3.Row
        rows = con.execute(
            "SELECT rowid AS _rowid, * FROM ticks WHERE rowid > ? ORDER BY rowid",
            (self._tick_rowid,),
        ).fetchall()
        if not rows:
            return 0
        t_last = rows[-1]["t_s"]
        evs = con.execute(
            "SELECT rowid, t_s, event FROM events WHERE rowid > ? AND t_s <= ? ORDER BY rowid",
            (self._event_rowid, t_last),
        ).fetchall()
        k = 0
        level = self.meter.measure() if self.meter is not None else None
        if level is not None:
            level["source"] = "session.wav as written so far"
        for i, r in enumerate(rows):
            mine: list[str] = []
            while k < len(evs) and evs[k]["t_s"] <= r["t_s"]:
                mine.append(evs[k]["event"])
                self._event_rowid = evs[k]["rowid"]
                k += 1
            row = {key: r[key] for key in r.keys() if key != "_rowid"}
            extras: dict = {"level": level} if i == len(rows) - 1 else {}
            if self.status != "running":  # a finished session has nothing left to run
                extras["remaining_s"] = 0.0
            self.hub.publish(self.builder.frame(row, mine, extras))
            self._tick_rowid = r["_rowid"]
        return len(rows)

    def _run(self) -> None:
        con = open_store(self.folder)
        try:
            while not self._stop.is_set():
                n = self.poll(con)
                if n == 0 and self.status != "running":
                    break
                if n == 0:
                    meta_status = con.execute("SELECT status, pid, host FROM sessions").fetchone()
                    status = session_status(
                        {"status": meta_status[0], "pid": meta_status[1], "host": meta_status[2]}
                    )
                    if status != "running":
                        self.status = status
                        continue  # one last read of what the end committed
                self._stop.wait(POLL_S)
        finally:
            con.close()
        self.hub.set_status(self.status, report=(self.folder / "report.html").is_file())

    def close(self) -> None:
        """Stop following."""
        self._stop.set()
        self._thread.join(timeout=5.0)
