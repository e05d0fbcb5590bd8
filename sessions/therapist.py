"""The therapist's hand on a running session: a local command channel and its client.

A session folder of a running session holds ``control.json`` (private, 0600) with the
loopback port of a line-based TCP socket on 127.0.0.1 and a random token. A client
(``attune control SESSION_FOLDER COMMAND ...``, later a web console) connects, sends
one ASCII line per command, the token first, and reads one JSON reply line per
command::

    -> TOKEN pin tempo_bpm 70
    <- {"ok": true, "command": "pin tempo_bpm 70"}
    -> TOKEN pin tempo_bpm 150
    <- {"ok": false, "error": "pin: tempo_bpm 150 refused: outside this session's safety
        envelope [55, 115]"}

Hardening (issue 14): the token is compared on the raw bytes of the line
(:func:`hmac.compare_digest`) before anything else is looked at; nothing a client sends
is parsed as JSON; a line is at most :data:`MAX_LINE` bytes; a connection must
authenticate within :data:`AUTH_TIMEOUT_S` and is closed after :data:`IDLE_TIMEOUT_S`
without a line; at most :data:`MAX_CLIENTS` authenticated and
:data:`MAX_UNAUTHENTICATED` unauthenticated connections are held (beyond that the
oldest unauthenticated one is dropped, so a flood cannot lock the therapist out); a bad
token closes the connection. The sockets are served by :mod:`asyncio` streams in a
thread of their own, so a slow or hostile client never delays a tick.

Commands (:func:`attune.engine.controller.parse_command`): ``pin NAME VALUE``, ``unpin
NAME|all``, ``goal AROUSAL [VALENCE]``, ``pause``, ``resume``, ``skip``, ``estop``, ``end``.

The session runner polls the channel once per tick, before the tick runs
(:meth:`TherapistChannel.poll` never blocks and never raises); valid commands are
queued on the controller and take effect at that tick, where the controller records
them as events. Rejected commands are answered with a one-line error naming the rule
or limit, and recorded as events too. The token keeps other local users (who can reach 127.0.0.1
but cannot read the private session folder) from steering the session.

:class:`ScriptedCommands` feeds commands at given session times instead (tests,
scripted protocols, replays), on the virtual clock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import json
import os
import queue
import secrets
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

#: Name of the file announcing the channel inside a session folder.
CHANNEL_FILE = "control.json"
#: Longest accepted line (token, space, command, newline), bytes.
MAX_LINE = 1024
#: Authenticated connections held at once; more are refused with an error line.
MAX_CLIENTS = 8
#: Unauthenticated connections held at once; a new one evicts the oldest.
MAX_UNAUTHENTICATED = 16
#: A new connection must send a line with the right token within this many seconds.
AUTH_TIMEOUT_S = 2.0
#: An authenticated connection is closed after this many seconds without a line.
IDLE_TIMEOUT_S = 60.0
#: A command not answered by the session within this many seconds gets an error reply.
REPLY_TIMEOUT_S = 10.0
#: Commands handled per poll (per tick); the rest wait for the next tick.
MAX_PER_POLL = 32


class TherapistError(Exception):
    """The command channel cannot be reached or refused a command (one-line message)."""


#: Takes a command line; may return a dict of extra reply fields (a feeling's proposal).
Submit = Callable[[str], object]


class CommandSource(Protocol):
    """Something the runner polls once per tick for therapist commands."""

    def poll(self, t: float, submit: Submit) -> list[str]:
        """Hand each command due at ``t`` (s) to ``submit``; return event lines to record.

        ``submit`` raises :class:`attune.engine.controller.CommandError` for an invalid command.
        """
        ...

    def close(self) -> None:  # noqa: D102 - protocol
        ...


def submit_safely(submit: Submit, line: str) -> dict[str, object]:
    """Submit one command line and return the reply; no exception escapes.

    A :class:`attune.engine.protocol.CommandError` becomes ``{"ok": False, "error": msg}``;
    any other exception (a bug) is reported the same way, with its class, so the
    session goes on.
    """
    from attune.engine.protocol import CommandError

    try:
        extra = submit(line)
    except CommandError as e:
        return {"ok": False, "error": str(e).replace("\n", " ")}
    except Exception as e:  # no command may end the session
        return {"ok": False, "error": f"internal error: {type(e).__name__}: {e}"[:300]}
    reply: dict[str, object] = {"ok": True, "command": line.strip()}
    if isinstance(extra, dict):
        reply.update({k: v for k, v in extra.items() if k not in ("ok", "command")})
    return reply


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
        """Submit the commands due at ``t``; rejected ones become events (never raises)."""
        out = []
        while self._i < len(self._script) and self._script[self._i][0] <= t:
            line = self._script[self._i][1]
            self._i += 1
            reply = submit_safely(submit, line)
            if not reply["ok"]:
                out.append(f"command rejected: {reply['error']}")
        return out

    def close(self) -> None:
        """Nothing to release."""


class TherapistChannel:
    """The command channel of one session: a TCP server on 127.0.0.1 in its own thread.

    Parameters
    ----------
    folder : Path
        The session folder; ``control.json`` (port and token, mode 0600) is written
        there and removed by :meth:`close`.
    max_clients, max_unauthenticated : int
        Connection limits (:data:`MAX_CLIENTS`, :data:`MAX_UNAUTHENTICATED`).
    auth_timeout_s, idle_timeout_s, reply_timeout_s : float
        Timeouts, seconds (:data:`AUTH_TIMEOUT_S`, :data:`IDLE_TIMEOUT_S`,
        :data:`REPLY_TIMEOUT_S`).

    Notes
    -----
    The asyncio thread reads, authenticates and answers; the commands themselves are
    handed to the ticking thread through a queue and submitted there by :meth:`poll`
    (the controller is not thread-safe).
    """

    def __init__(
        self,
        folder: Path,
        *,
        max_clients: int = MAX_CLIENTS,
        max_unauthenticated: int = MAX_UNAUTHENTICATED,
        auth_timeout_s: float = AUTH_TIMEOUT_S,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        reply_timeout_s: float = REPLY_TIMEOUT_S,
    ) -> None:
        self.folder = Path(folder)
        self.token = secrets.token_hex(16)
        self._token = self.token.encode("ascii")
        self.max_clients = max_clients
        self.max_unauthenticated = max_unauthenticated
        self.auth_timeout_s = auth_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self._inbox: queue.SimpleQueue[tuple[str, concurrent.futures.Future]] = queue.SimpleQueue()
        self._n_auth = 0
        self._unauth: OrderedDict[int, asyncio.StreamWriter] = OrderedDict()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        ready: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="attune-therapist-channel", daemon=True
        )
        self._thread.start()
        try:
            self.port = int(ready.result(timeout=10.0))
        except Exception as e:
            raise TherapistError(f"cannot open the command channel on 127.0.0.1: {e}") from None
        path = self.folder / CHANNEL_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"host": "127.0.0.1", "port": self.port, "token": self.token}, f)

    # ------------------------------------------------------------ the asyncio thread
    def _run(self, ready: concurrent.futures.Future[int]) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(
                    self._serve, "127.0.0.1", 0, limit=MAX_LINE, backlog=64, start_serving=True
                )
            )
        except Exception as e:
            ready.set_exception(e)
            return
        ready.set_result(self._server.sockets[0].getsockname()[1])
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        key = id(writer)
        authed = False
        self._unauth[key] = writer
        while len(self._unauth) > self.max_unauthenticated:  # evict the oldest
            _, old = self._unauth.popitem(last=False)
            old.close()
        try:
            while True:
                timeout = self.idle_timeout_s if authed else self.auth_timeout_s
                try:
                    raw = await asyncio.wait_for(reader.readuntil(b"\n"), timeout)
                except asyncio.LimitOverrunError:
                    await self._send(writer, {"ok": False, "error": f"line over {MAX_LINE} bytes"})
                    return
                except TimeoutError:
                    msg = "idle timeout" if authed else "no token in time"
                    await self._send(writer, {"ok": False, "error": msg})
                    return
                except (asyncio.IncompleteReadError, ConnectionError, OSError):
                    return  # the client went away
                token, _, rest = raw.rstrip(b"\r\n").partition(b" ")
                if not hmac.compare_digest(token, self._token):
                    await self._send(writer, {"ok": False, "error": "bad token"})
                    return
                if not authed:
                    self._unauth.pop(key, None)
                    if self._n_auth >= self.max_clients:
                        await self._send(writer, {"ok": False, "error": "too many clients"})
                        return
                    authed = True
                    self._n_auth += 1
                await self._send(writer, await self._answer(rest))
        except Exception:  # a client must never take the channel down
            return
        finally:
            self._unauth.pop(key, None)
            if authed:
                self._n_auth -= 1
            writer.close()

    async def _answer(self, rest: bytes) -> dict[str, object]:
        try:
            line = rest.decode("ascii")
        except UnicodeDecodeError:
            return {"ok": False, "error": "a command must be ASCII text"}
        if not line.isprintable():
            return {"ok": False, "error": "a command must be printable text"}
        if self._closed:
            return {"ok": False, "error": "the session has ended"}
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._inbox.put((line, fut))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(fut), self.reply_timeout_s)
        except TimeoutError:
            return {"ok": False, "error": "the session did not answer in time"}

    async def _send(self, writer: asyncio.StreamWriter, reply: dict[str, object]) -> None:
        try:
            writer.write((json.dumps(reply) + "\n").encode("utf-8"))
            await asyncio.wait_for(writer.drain(), self.auth_timeout_s)
        except (TimeoutError, ConnectionError, OSError):
            pass  # a client that does not read its replies is dropped by the caller

    # ------------------------------------------------------------ the ticking thread
    def poll(self, t: float, submit: Submit) -> list[str]:
        """Submit the commands received since the last tick and answer each; never raises.

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
        events: list[str] = []
        for _ in range(MAX_PER_POLL):
            try:
                line, fut = self._inbox.get_nowait()
            except queue.Empty:
                break
            reply = submit_safely(submit, line)
            if not reply["ok"]:
                events.append(f"command rejected: {reply['error']}")
            if not fut.done():
                fut.set_result(reply)
        return events

    def close(self) -> None:
        """Stop the server, answer what is still waiting, and remove ``control.json``."""
        if self._closed:
            return
        self._closed = True
        (self.folder / CHANNEL_FILE).unlink(missing_ok=True)

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        if self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=5.0)
            except Exception:
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5.0)
        while True:
            try:
                _line, fut = self._inbox.get_nowait()
            except queue.Empty:
                break
            if not fut.done():
                fut.set_result({"ok": False, "error": "the session has ended"})


def send_command(folder: Path | str, line: str, *, timeout_s: float = 5.0) -> str:
    """Send one command to the session running in ``folder``; return it as accepted.

    As :func:`send_command_reply`, which returns the whole reply.
    """
    return str(send_command_reply(folder, line, timeout_s=timeout_s).get("command"))


def send_command_reply(
    folder: Path | str, line: str, *, timeout_s: float = 5.0
) -> dict[str, object]:
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
    dict
        The reply: ``ok``, ``command`` (as accepted) and what the command adds
        (``reply``, ``proposal`` for a described feeling).

    Raises
    ------
    TherapistError
        No running session in ``folder``, the connection failed, or the session
        rejected the command (the message says why).
    """
    path = Path(folder) / CHANNEL_FILE
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        host, port, token = str(info["host"]), int(info["port"]), str(info["token"])
    except FileNotFoundError:
        raise TherapistError(f"{folder}: no running session (no {CHANNEL_FILE})") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TherapistError(f"{path}: unreadable channel file: {e}") from None
    if "\n" in line or "\r" in line:
        raise TherapistError("a command is one line")
    try:
        data = f"{token} {line}\n".encode("ascii")
    except UnicodeEncodeError:
        raise TherapistError(f"a command must be ASCII text, got {line[:40]!r}") from None
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(data)
            buf = b""
            while b"\n" not in buf and len(buf) < 65536:
                part = sock.recv(4096)
                if not part:
                    break
                buf += part
    except OSError as e:
        raise TherapistError(f"{folder}: cannot reach the session on port {port}: {e}") from None
    if b"\n" not in buf:
        raise TherapistError(f"{folder}: the session closed the channel without replying")
    try:
        reply = json.loads(buf.split(b"\n", 1)[0])
        if not isinstance(reply, dict):
            raise ValueError("not an object")
    except ValueError as e:
        raise TherapistError(f"{folder}: unreadable reply from the session: {e}") from None
    if not reply.get("ok"):
        raise TherapistError(f"command rejected: {reply.get('error')}")
    return reply
