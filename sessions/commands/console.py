"""``attune console``: open the web console of a running or finished session.

Also holds the ``--console/--no-console`` flag that ``attune run`` and ``attune simulate
--realtime`` share, and the helper that starts their in-process console.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from attune.sessions.commands._common import (
    add_dir_argument,
    add_session_argument,
    cli_number,
    session_folder,
)

if TYPE_CHECKING:
    from attune.sessions.console.live import LiveConsole

NAME = "console"
HELP = "open the web console of a running or finished session"


def add_console_flag(p: argparse.ArgumentParser, *, what: str) -> None:
    """Add ``--console/--no-console`` (dest ``console``; None: the command's default)."""
    p.add_argument(
        "--console",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"serve the therapist's web console on 127.0.0.1 and print its URL ({what})",
    )


def live_console(enabled: bool) -> LiveConsole | None:
    """Return the console observer of a live session (its URL printed at start), or None."""
    if not enabled:
        return None
    from attune.sessions.console.live import LiveConsole

    return LiveConsole(lambda url: print(f"Console: {url}", flush=True))


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``console`` to ``sub``."""
    p = sub.add_parser(
        NAME,
        help=HELP,
        description=HELP + ". A running session that serves its own console: its URL is "
        "printed. Otherwise a console is served here from the session's store (read-only "
        "for a finished session or a replay, with a link to the report); Ctrl-C stops it.",
    )
    add_session_argument(p)
    add_dir_argument(p)
    p.add_argument(
        "--port",
        type=cli_number(lo=0, hi=65535, integer=True),
        default=0,
        help="port on 127.0.0.1 (default: any free)",
    )
    p.add_argument("--open", action="store_true", help="open the page in the web browser")
    return p


def run(args: argparse.Namespace) -> int:
    """Print the console URL of a session, serving one from its store when needed."""
    import json
    import os

    from attune.sessions.commands._common import CliError

    folder = session_folder(args)
    announce = folder / "console.json"
    if announce.is_file():
        try:
            info = json.loads(announce.read_text(encoding="utf-8"))
            os.kill(int(info["pid"]), 0)
            print(f"Console: {info['url']}", flush=True)
            _open(args, str(info["url"]))
            return 0
        except (OSError, ValueError, KeyError):
            pass  # the session that wrote it is gone: serve from the store
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port must be in 0..65535, got {args.port}")
    from attune.sessions.console.follow import StoreFollower
    from attune.sessions.console.live import channel_commander
    from attune.sessions.console.server import ConsoleServer, make_app, new_token

    controllable = (folder / "control.json").is_file()
    follower = StoreFollower(folder, controllable=controllable)
    token = new_token()
    app = make_app(
        follower.hub,
        token,
        folder=folder,
        commander=channel_commander(folder) if controllable else None,
    )
    try:
        server = ConsoleServer(app, port=args.port)
    except OSError as e:
        raise CliError(f"--port {args.port}: cannot listen on 127.0.0.1: {e.strerror}") from None
    server.start()
    follower.start()
    url = f"http://127.0.0.1:{server.port}/?token={token}"
    print(f"Console: {url}", flush=True)
    print("(Ctrl-C stops the console)", file=sys.stderr, flush=True)
    _open(args, url)
    try:
        threading_wait()
    except KeyboardInterrupt:
        pass
    finally:
        follower.close()
        follower.hub.close()
        server.close()
    return 0


def threading_wait() -> None:
    """Wait until Ctrl-C (SIGINT) or SIGTERM."""
    import signal
    import threading

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    while not done.wait(0.5):
        pass


def _open(args: argparse.Namespace, url: str) -> None:
    if args.open:
        import webbrowser

        webbrowser.open(url)
