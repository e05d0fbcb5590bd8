"""The therapist's hand on a running session: a local command channel and its client.

A session folder of a running session holds ``control.json`` (private, 0600) with the
loopback port of a line-based TCP socket on 127.0.0.1 and a random token. A client
(``attune control SESSION_FOLDER COMMAND ...``, later a dashboard) connects, sends one
JSON line per command and reads one JSON reply line per command::

    -> {"token": "...", "command": "pin tempo_bpm 70"}
    <- {"ok": true, "command": "pin tempo_bpm 70"}
    <- {"ok": false, "error": "pin: tempo_bpm must be in [40, 160], got 300"}

Commands (:func:`attune.engine.controller.parse_command`): ``pin NAME VALUE``, ``unpin
NAME|all``, ``goal AROUSAL [VALENCE]``, ``pause``, ``resume``, ``skip``, ``estop``, ``end``.

The session runner polls the channel once per tick, before the tick runs
(:meth:`TherapistChannel.poll` never blocks: one ``select`` with timeout 0); valid
commands are queued on the controller and take effect at that tick, where the
controller records them as events. Rejected commands are answered with a one-line
error and recorded too. The token keeps other local users (who can reach 127.0.0.1
but cannot read the private session folder) from steering the session.

:class:`ScriptedCommands` feeds commands at given session times instead (tests,
scripted protocols, replays), on the virtual clock.
"""

from __future__ import annotations

import json
import os
import secrets
import selectors
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

#: Name of the file announcing the channel inside a session folder.
CHANNEL_FILE = "control.json"
#: Longest accepted command line, bytes.
MAX_LINE = 1024


class TherapistError(Exception):
    """The command channel cannot be reached or refused a command (one-line message)."""


Submit = Callable[[str], None]


class CommandSource(Protocol):
    """Something the runner polls once per tick for therapist commands."""

    def poll(self, t: float, submit: Submit) -> list[str]:
        """Hand each command due at ``t`` (s) to ``submit``; return event lines to record.

        ``submit`` raises :class:`attune.engine.controller.CommandError` for an invalid command.
        """
        ...

    def close(self) -> None:  # noqa: D102 - protocol
        ...


class ScriptedCommands:
    """Commands at fixed session times (tests, scripted protocols).

    Parameters
    ----------
    script : sequence of (float, str)
        ``(t_s, command line)`` pairs; a command is submitted at the first tick with
        ``t >= t_s``.
    """

    def __init__(self, script: Sequence[tuple[float, str]]) -> None:
        self._script = sorted(script, key=lambda x: x[0])
        self._i = 0

    def poll(self, t: float, submit: Submit) -> list[str]:
        """Submit the commands due at ``t``; invalid ones become events."""
        from attune.engine.controller import CommandError

        out = []
        while self._i < len(self._script) and self._script[self._i][0] <= t:
            line = self._script[self._i][1]
            self._i += 1
            try:
                submit(line)
            except CommandError as e:
                out.append(f"command rejected: {e}")
        return out

    def close(self) -> None:
        """Nothing to release."""


class TherapistChannel:
    """A non-blocking line-based TCP command channel on 127.0.0.1 for one session.

    Parameters
    ----------
    folder : Path
        The session folder; ``control.json`` (port and token, mode 0600) is written
        there and removed by :meth:`close`.

    Notes
    -----
    Single-threaded: :meth:`poll` is called from the ticking thread between ticks and
    does only non-blocking socket calls. Up to a few kB per client per poll.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.token = secrets.token_hex(16)
        self._sel = selectors.DefaultSelector()
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(4)
        self._server.setblocking(False)
        self._sel.register(self._server, selectors.EVENT_READ, data=None)
        self.port = int(self._server.getsockname()[1])
        self._buffers: dict[socket.socket, bytes] = {}
        path = self.folder / CHANNEL_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"host": "127.0.0.1", "port": self.port, "token": self.token}, f)

    def poll(self, t: float, submit: Submit) -> list[str]:
        """Accept connections, read complete lines, submit valid commands, reply to each.

        Parameters
        ----------
        t : float
            Session time of the tick, s (unused; commands apply at this tick).
        submit : callable
            Queues a command line; raises ``CommandError`` if invalid.

        Returns
        -------
        list of str
            Event lines for the session record (rejected commands).
        """
        from attune.engine.controller import CommandError

        events: list[str] = []
        for key, _ in self._sel.select(timeout=0):
            sock = key.fileobj
            if key.data is None:
                try:
                    conn, _addr = self._server.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                self._sel.register(conn, selectors.EVENT_READ, data="client")
                self._buffers[conn] = b""
                continue
            try:
                data = sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                self._drop(sock)
                continue
            buf = self._buffers[sock] + data
            *lines, rest = buf.split(b"\n")
            if len(rest) > MAX_LINE:
                self._reply(sock, {"ok": False, "error": f"line longer than {MAX_LINE} bytes"})
                self._drop(sock)
                continue
            self._buffers[sock] = rest
            for raw in lines:
                reply = self._handle(raw, submit, CommandError)
                if not reply["ok"]:
                    events.append(f"command rejected: {reply['error']}")
                self._reply(sock, reply)
        return events

    def _handle(self, raw: bytes, submit: Submit, error_type: type) -> dict:
        try:
            msg = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {"ok": False, "error": "not a JSON line"}
        if not isinstance(msg, dict) or not isinstance(msg.get("command"), str):
            return {"ok": False, "error": 'expected {"token": ..., "command": "..."}'}
        if not secrets.compare_digest(str(msg.get("token", "")), self.token):
            return {"ok": False, "error": "bad token"}
        line = msg["command"]
        try:
            submit(line)
        except error_type as e:
            return {"ok": False, "error": str(e)}
        return {"ok": True, "command": line.strip()}

    @staticmethod
    def _reply(sock: socket.socket, reply: dict) -> None:
        try:
            sock.send((json.dumps(reply) + "\n").encode("utf-8"))
        except OSError:
            pass  # the client went away; the command (if valid) still applies

    def _drop(self, sock) -> None:
        self._sel.unregister(sock)
        self._buffers.pop(sock, None)
        sock.close()

    def close(self) -> None:
        """Close every socket and remove ``control.json``."""
        for sock in list(self._buffers):
            self._drop(sock)
        self._sel.unregister(self._server)
        self._server.close()
        self._sel.close()
        (self.folder / CHANNEL_FILE).unlink(missing_ok=True)


def send_command(folder: Path | str, line: str, *, timeout_s: float = 5.0) -> str:
    """Send one command to the session running in ``folder`` and return its reply.

    Parameters
    ----------
    folder : Path or str
        The running session's folder (holding ``control.json``).
    line : str
        The command, e.g. ``"pin tempo_bpm 70"``.
    timeout_s : float
        Longest wait for the connection and the reply, seconds.

    Returns
    -------
    str
        The command as accepted.

    Raises
    ------
    TherapistError
        No running session in ``folder``, the connection failed, or the session
        rejected the command (the message says why).
    """
    path = Path(folder) / CHANNEL_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        host, port, token = info["host"], int(info["port"]), info["token"]
    except FileNotFoundError:
        raise TherapistError(f"{folder}: no running session (no {CHANNEL_FILE})") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TherapistError(f"{path}: unreadable channel file: {e}") from None
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall((json.dumps({"token": token, "command": line}) + "\n").encode())
            buf = b""
            while b"\n" not in buf:
                part = sock.recv(4096)
                if not part:
                    break
                buf += part
    except OSError as e:
        raise TherapistError(f"{folder}: cannot reach the session on port {port}: {e}") from None
    if b"\n" not in buf:
        raise TherapistError(f"{folder}: the session closed the channel without replying")
    reply = json.loads(buf.split(b"\n", 1)[0])
    if not reply.get("ok"):
        raise TherapistError(f"command rejected: {reply.get('error')}")
    return str(reply.get("command"))
