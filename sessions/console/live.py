"""The console of a running session, served from the session's own process.

:class:`LiveConsole` is a session observer (:class:`attune.sessions.runner.SessionObserver`):
when the session is built it starts the web server, writes ``console.json`` (private:
URL with token) into the session folder and announces the URL; every tick it turns the
recorded row into a page frame and hands it to the server; commands from the page go
through the session's command channel like ``attune control``'s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.sessions.console.frames import FrameBuilder, num, session_hello
from attune.sessions.console.server import ConsoleHub, ConsoleServer, make_app, new_token

if TYPE_CHECKING:
    from attune.engine.loop import Engine, TickResult
    from attune.sessions.config import SessionConfig
    from attune.sessions.runner import SessionRun

#: Name of the file announcing a running console inside a session folder.
CONSOLE_FILE = "console.json"


def channel_commander(folder: Path) -> Callable[[str], dict[str, Any]]:
    """Send a command line through ``folder``'s command channel; return the reply dict."""
    from attune.sessions.therapist import TherapistError, send_command

    def send(line: str) -> dict[str, Any]:
        try:
            return {"ok": True, "command": send_command(folder, line)}
        except TherapistError as e:
            return {"ok": False, "error": str(e)}

    return send


def write_console_file(folder: Path, url: str) -> None:
    """Write ``console.json`` (mode 0600): the URL (with token) and this process's id."""
    path = folder / CONSOLE_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"url": url, "pid": os.getpid()}, f)


class LiveConsole:
    """Serve the web console of the session it observes.

    Parameters
    ----------
    announce : callable
        Called once with the console's URL (token included) when the session is built.
    port : int
        Port on 127.0.0.1; 0 picks a free one.
    """

    def __init__(self, announce: Callable[[str], None], *, port: int = 0) -> None:
        self.announce = announce
        self.port = port
        self.url: str | None = None
        self.hub: ConsoleHub | None = None
        self.server: ConsoleServer | None = None
        self.folder: Path | None = None
        self._level: dict[str, Any] | None = None

    # ------------------------------------------------------------ observer
    def started(self, run: SessionRun, engine: Engine) -> None:
        """Start the server and announce its URL."""
        cfg: SessionConfig = run.cfg
        self.folder = run.folder
        self.engine = engine
        self.plan_end = engine.controller.protocol.plan.end_s
        self.sensors = [
            {"name": s.info.name, "kind": s.info.kind, "stage": _stage(s.info.kind)}
            for s in engine.sources
        ]
        controllable = run.channel is not None
        hello = session_hello(
            cfg,
            folder_name=run.folder.name,
            mode=run.spec.mode,
            controllable=controllable,
            sensors=[{"name": s["name"], "kind": s["kind"]} for s in self.sensors],
        )
        hello["level_check"] = True
        self.builder = FrameBuilder(cfg)
        # The measured level: the sound card's synth when there is one, else the renderer.
        card = [o for o in run.live_outs if hasattr(o, "output_rms_dbfs")]
        self.synth: Any = card[0] if card else run.renderer
        if not hasattr(self.synth, "output_rms_dbfs"):  # a silent session: nothing to measure
            self.synth = None
        self.level_source = "sound card output" if card else "rendered audio"
        self.hub = ConsoleHub(hello)
        token = new_token()

        def check() -> dict[str, Any]:
            from attune.sessions.console.levelcheck import level_check

            return level_check(cfg)

        app = make_app(
            self.hub,
            token,
            folder=run.folder,
            commander=channel_commander(run.folder) if controllable else None,
            level_check=check,
        )
        self.server = ConsoleServer(app, port=self.port)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.port}/?token={token}"
        write_console_file(run.folder, self.url)
        run.record.event(
            0.0, f"console: http://127.0.0.1:{self.server.port}/ (token in console.json)"
        )
        self.announce(self.url)

    def tick(self, r: TickResult, row: dict[str, object], events: list[str]) -> None:
        """Publish the tick's frame."""
        if self.hub is None:
            return
        sensors = []
        for s in self.sensors:
            st = r.status.get(s["stage"])
            age = None if st is None or st.age_s == float("inf") else round(st.age_s, 2)
            sensors.append(
                {
                    "name": s["name"],
                    "kind": s["kind"],
                    "age_s": age,
                    "quality": None if st is None else num(st.quality),
                }
            )
        if self.synth is not None:
            rms = self.synth.output_rms_dbfs()
            self._level = (
                None
                if rms is None
                else {
                    "rms_dbfs": round(rms, 1),
                    "source": self.level_source,
                }
            )
        pr = self.engine.controller.protocol
        extras = {
            "sensors": sensors,
            "remaining_s": max(0.0, self.plan_end - pr.protocol_time(r.t)),
            "level": self._level,
            "paused": pr.paused,
            "stopped": pr.stopped,
            "fallback": r.decision.fallback,
        }
        self.hub.publish(self.builder.frame(row, events, extras))

    def ended(self, status: str) -> None:
        """Tell the pages the session ended (the page turns read-only)."""
        if self.hub is not None:
            self.hub.set_status(status)
        if self.folder is not None:
            (self.folder / CONSOLE_FILE).unlink(missing_ok=True)

    def close(self) -> None:
        """Stop the server."""
        if self.hub is not None:
            self.hub.close()
        if self.server is not None:
            self.server.close()
            self.server = None


def _stage(kind: str) -> str:
    from attune.engine.loop import STAGE_OF_KIND

    return STAGE_OF_KIND.get(kind, kind)
