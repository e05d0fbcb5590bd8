"""``attune run``: a live session on the LSL streams named in a session file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from attune.sessions.commands._common import (
    MAX_SESSION_S,
    SESSION_SECONDS,
    CliError,
    add_audio_flag,
    add_carry_flag,
    add_client_flag,
    add_intake_flag,
    add_report_flag,
    apply_intake_flag,
    audio_changes,
    carry_from,
    check_seconds,
    cli_number,
    progress_bar,
    silence_alsa_errors,
    use_client,
    write_report,
)

if TYPE_CHECKING:
    from attune.sessions.config import SessionConfig

NAME = "run"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``run`` to ``sub``."""
    rn = sub.add_parser(
        NAME,
        help="run a live session on LSL streams (wearables, amplifiers)",
        description="Run a live session: read the LSL streams named in the session file, "
        "pace the loop in real time, publish Attune's state, music and markers over LSL. "
        "Ctrl-C ends it gracefully.",
    )
    rn.add_argument("config", metavar="CONFIG", type=Path, help="session file (TOML)")
    rn.add_argument(
        "--duration-s",
        type=SESSION_SECONDS,
        metavar="S",
        help="stop the session after S seconds (default: the protocol's length)",
    )
    rn.add_argument("--out", type=Path, help="output directory for session folders")
    add_audio_flag(
        rn,
        default=None,
        what="--audio renders the music to session.wav; --no-audio makes a silent session: "
        "no WAV and no playback to the sound card (default: as the session file says)",
    )
    add_report_flag(rn)
    add_client_flag(rn)
    add_intake_flag(rn)
    from attune.sessions.commands.console import add_console_flag

    add_console_flag(rn, what="default: on")
    add_carry_flag(rn)
    rn.add_argument(
        "--lsl-out",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="publish the live state, music and markers as LSL outlets on the local network "
        "(default: as the session file's lsl_outlets says, off unless set)",
    )
    rn.add_argument(
        "--resolve-timeout-s",
        type=cli_number(lo=0, lo_open=True, hi=600),
        default=5.0,
        metavar="S",
        help="how long to look for each stream on the network before giving up (5)",
    )
    return rn


def live_config(args: argparse.Namespace) -> SessionConfig:
    """Return the session file of ``args.config`` with ``--out``, ``--audio`` and ``--lsl-out``.

    With no ``audio.device`` in the session file, a live session plays on the system's
    default output; ``--no-audio`` is the explicit way to run silent.
    """
    from attune.sessions.config import load_config

    cfg = load_config(args.config)
    if args.out is not None:
        cfg = cfg.model_copy(update={"output_dir": args.out})
    cfg = apply_intake_flag(args, cfg.model_copy(update=audio_changes(cfg, args.audio)))
    if args.client is not None:
        cfg = cfg.model_copy(update={"participant": use_client(args.client)})
    if args.audio is not False and cfg.audio.device is None:
        # a live session is heard: the system's default output unless --no-audio
        cfg = cfg.model_copy(update={"audio": cfg.audio.model_copy(update={"device": "default"})})
    if args.lsl_out is not None:
        cfg = cfg.model_copy(update={"lsl_outlets": args.lsl_out})
    return cfg


def run(args: argparse.Namespace) -> int:
    """Run a live session on the LSL streams named in the session file."""
    from attune.sensors.types import SensorError

    check_seconds("--duration-s", args.duration_s, most=MAX_SESSION_S)
    check_seconds("--resolve-timeout-s", args.resolve_timeout_s)
    cfg = live_config(args)
    from attune.sessions.live_run import run_live

    carry = carry_from(args)
    silence_alsa_errors()
    from attune.sessions.commands.console import live_console

    console = live_console(args.console is not False)
    try:
        try:
            out = run_live(
                cfg,
                duration_s=args.duration_s,
                progress=progress_bar("live"),
                resolve_timeout_s=args.resolve_timeout_s,
                observers=[console] if console is not None else [],
                carry=carry,
            )
        except SensorError as e:
            raise CliError(f"{args.config}: {e} (`attune streams` lists what is visible)") from None
        except ValueError as e:
            raise CliError(f"{args.config}: {e}") from None
        state = "stopped early (faded out, store closed)" if out.interrupted else "ended"
        print(f"Live session {state} after {out.n_ticks * cfg.tick_s:.1f} s, {out.n_ticks} ticks")
        print(f"Session folder: {out.folder}")
        write_report(out.folder, args)
    finally:
        if console is not None:
            console.close()
    return 0
