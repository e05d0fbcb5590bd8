"""The console's web server: Starlette on uvicorn, 127.0.0.1 only, one token per session.

Routes (every one needs the session's token, as ``?token=`` or the ``X-Attune-Token``
header; a missing or wrong token gets 403 and no data)::

    GET  /                  the page (its assets are packaged: no CDN, no internet)
    GET  /static/NAME       console.js, console.css
    GET  /events            server-sent events: one ``hello``, the recent ticks, then
                            every tick as it happens, and ``status`` when it ends
    POST /api/command       {"command": "pause"} -> sent through the session's command
                            channel (the same authenticated TCP channel as
                            ``attune control``); the reply is the channel's
    POST /api/levelcheck    the calm clip at the starting loudness, measured
    GET  /report            the finished session's HTML report

:class:`ConsoleHub` is the hand-off between the session's ticking thread and the
server's event loop: :meth:`ConsoleHub.publish` never blocks (a client that does not
keep up loses its oldest frames, never delays a tick).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import socket
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from importlib import resources
from pathlib import Path
from typing import Any

#: Ticks kept for a page that (re)connects: a minute at 4 ticks/s.
HISTORY = 240
#: Frames queued per client before its oldest are dropped.
CLIENT_QUEUE = 64
#: Files served from the package's static folder.
ASSETS = {"console.js": "text/javascript", "console.css": "text/css"}
#: Headers of every page response: nothing from elsewhere, the token never leaks.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

Commander = Callable[[str], dict[str, Any]]


class ConsoleHub:
    """Frames from the session thread to every connected page.

    Parameters
    ----------
    hello : dict
        The static part of the page (:func:`attune.sessions.console.frames.session_hello`).
    """

    def __init__(self, hello: dict[str, Any]) -> None:
        self.hello = hello
        self.history: deque[str] = deque(maxlen=HISTORY)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: set[asyncio.Queue[str | None]] = set()
        self.n_published = 0

    def _fanout(self, data: str) -> None:
        for q in list(self._clients):
            if q.full():
                try:
                    q.get_nowait()
                except asyncio.QueueEmpty:
                    pass
            q.put_nowait(data)

    def publish(self, frame: dict[str, Any], *, event: str | None = None) -> None:
        """Send a frame to every page (from any thread; never blocks)."""
        data = json.dumps(frame, separators=(",", ":"), allow_nan=False)
        msg = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
        with self._lock:
            if event is None:
                self.history.append(msg)
                self.n_published += 1
            else:
                self.hello = {**self.hello, **frame, "type": "hello"}
            loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._fanout, msg)
            except RuntimeError:  # the loop closed meanwhile
                pass

    def set_status(self, status: str, **more: Any) -> None:
        """Tell the pages the session's status changed (ended, interrupted, ...)."""
        self.publish({"status": status, "controllable": False, **more}, event="status")

    async def stream(self) -> AsyncIterator[str]:
        """Yield the event stream of one page: hello, recent ticks, then live frames."""
        q: asyncio.Queue[str | None] = asyncio.Queue(maxsize=CLIENT_QUEUE)
        with self._lock:
            self._loop = asyncio.get_running_loop()
            past = list(self.history)
            hello = json.dumps({**self.hello, "history": len(past)}, separators=(",", ":"))
            self._clients.add(q)
        try:
            yield "retry: 1000\n" + f"event: hello\ndata: {hello}\n\n"
            for old in past:
                yield old
            while True:
                try:
                    msg = await asyncio.wait_for(q.get(), 10.0)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if msg is None:
                    return
                yield msg
        finally:
            self._clients.discard(q)

    def close(self) -> None:
        """End every page's stream."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            for q in list(self._clients):
                try:
                    loop.call_soon_threadsafe(q.put_nowait, None)
                except RuntimeError:
                    pass


def _asset(name: str) -> str:
    return resources.files("attune.sessions.console").joinpath("static", name).read_text("utf-8")


def make_app(
    hub: ConsoleHub,
    token: str,
    *,
    folder: Path,
    commander: Commander | None,
    level_check: Callable[[], dict[str, Any]] | None = None,
) -> Any:
    """Build the console's Starlette application.

    Parameters
    ----------
    hub : ConsoleHub
        Where the frames come from.
    token : str
        The session's console token.
    folder : Path
        The session folder (its report).
    commander : callable or None
        Sends one command line through the session's channel and returns the reply
        dict; None for a read-only console.
    level_check : callable, optional
        Runs the level check and returns its result (None: not offered).
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import Request
    from starlette.responses import (
        FileResponse,
        HTMLResponse,
        JSONResponse,
        PlainTextResponse,
        Response,
        StreamingResponse,
    )
    from starlette.routing import Route

    want = token.encode("ascii")
    level_lock = threading.Lock()

    def allowed(request: Request) -> bool:
        got = request.query_params.get("token") or request.headers.get("x-attune-token") or ""
        return hmac.compare_digest(got.encode("utf-8", "replace"), want)

    def forbidden() -> Response:
        return PlainTextResponse("forbidden: wrong or missing token", status_code=403)

    async def index(request: Request) -> Response:
        if not allowed(request):
            return forbidden()
        html = _asset("index.html").replace("__TOKEN__", token)
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    async def static(request: Request) -> Response:
        if not allowed(request):
            return forbidden()
        name = request.path_params["name"]
        if name not in ASSETS:
            return PlainTextResponse("not found", status_code=404)
        return Response(_asset(name), media_type=ASSETS[name], headers=SECURITY_HEADERS)

    async def events(request: Request) -> Response:
        if not allowed(request):
            return forbidden()
        return StreamingResponse(
            hub.stream(),
            media_type="text/event-stream",
            headers={**SECURITY_HEADERS, "X-Accel-Buffering": "no"},
        )

    async def command(request: Request) -> Response:
        if not allowed(request):
            return forbidden()
        if commander is None or not hub.hello.get("controllable"):
            return JSONResponse({"ok": False, "error": "read-only console"}, status_code=409)
        try:
            body = await request.json()
            line = str(body["command"]).strip()
        except Exception:
            return JSONResponse({"ok": False, "error": 'expected {"command": "..."}'}, 400)
        if not line or len(line) > 900 or "\n" in line:
            return JSONResponse({"ok": False, "error": "one command line expected"}, 400)
        reply = await run_in_threadpool(commander, line)
        return JSONResponse(reply)

    async def levelcheck(request: Request) -> Response:
        if not allowed(request):
            return forbidden()
        if level_check is None:
            return JSONResponse({"ok": False, "error": "no level check here"}, status_code=409)
        if not level_lock.acquire(blocking=False):
            return JSONResponse({"ok": False, "error": "a level check is running"}, 409)
        try:
            result = await run_in_threadpool(level_check)
        except Exception as e:
            return JSONResponse({"ok": False, "error": f"{type(e).__name__}: {e}"[:300]})
        finally:
            level_lock.release()
        return JSONResponse({"ok": True, **result})

    async def report(request: Request) -> Response:
        if not allowed(request):
            return forbidden()
        path = folder / "report.html"
        if not path.is_file():
            return PlainTextResponse(
                "no report yet: it is written when the session ends (or run `attune report`)",
                status_code=404,
            )
        return FileResponse(
            path, media_type="text/html", headers={"Referrer-Policy": "no-referrer"}
        )

    return Starlette(
        routes=[
            Route("/", index),
            Route("/static/{name}", static),
            Route("/events", events),
            Route("/api/command", command, methods=["POST"]),
            Route("/api/levelcheck", levelcheck, methods=["POST"]),
            Route("/report", report),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1", "localhost"])],
    )


def new_token() -> str:
    """Return a fresh console token (128 bits, hex)."""
    return secrets.token_hex(16)


class ConsoleServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread of its own.

    Parameters
    ----------
    app : ASGI application
        The console (:func:`make_app`).
    port : int
        Port to listen on; 0 picks a free one (:attr:`port` tells which).
    """

    def __init__(self, app: Any, *, port: int = 0) -> None:
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = int(self._sock.getsockname()[1])
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ws="none",
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self._sock])),
            name="attune-console",
            daemon=True,
        )

    def start(self, timeout_s: float = 10.0) -> None:
        """Start serving; return once the socket accepts connections."""
        self._thread.start()
        waited = 0.0
        while not self.server.started and waited < timeout_s and self._thread.is_alive():
            threading.Event().wait(0.02)
            waited += 0.02
        if not self.server.started:
            raise RuntimeError("the console server did not start")

    def close(self) -> None:
        """Stop serving (open event streams are closed within about a second)."""
        self.server.should_exit = True
        self._thread.join(timeout=5.0)
        self._sock.close()
