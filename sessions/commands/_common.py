"""Helpers shared by the ``attune`` command modules (light: argparse and pathlib only)."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attune.sessions.carryover import CarryOver
    from attune.sessions.config import SessionConfig

#: Help text of a SESSION argument.
SESSION_HELP = "session folder, or a session id listed by `attune sessions`"
#: Help text of ``--dir`` for commands that take a SESSION.
DIR_HELP = "where session ids are looked up (default: the data home's sessions/)"


#: Longest session ``--duration-s`` accepts, seconds (a day).
MAX_SESSION_S = 86_400.0


class CliError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def cli_number(
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    integer: bool = False,
) -> Callable[[str], float]:
    """Return the argparse ``type`` of a number flag: finite, in ``[lo, hi]``, else exit 2.

    Every number flag of every command uses it, so ``nan``, ``inf``, ``1e999`` and values
    out of range are refused by argparse with one line naming the flag (exit code 2)
    before a command runs. ``lo_open`` excludes ``lo`` itself (``> lo``); ``integer``
    accepts whole numbers only and returns an ``int``. The bounds are kept on the
    returned function as ``lo``, ``hi``, ``lo_open`` and ``integer`` (the tests read them).
    """

    def parse(text: str) -> float:
        try:
            value = int(text, 10) if integer else float(text)
        except (ValueError, OverflowError):
            what = "a whole number" if integer else "a number"
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if lo is not None and (value <= lo if lo_open else value < lo):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if lo_open else '>='} {lo:g}, got {text}"
            )
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"must be at most {hi:g}, got {text}")
        return value

    parse.__name__ = "number"  # argparse names the type in its message
    parse.lo, parse.hi, parse.lo_open, parse.integer = lo, hi, lo_open, integer  # type: ignore[attr-defined]
    return parse


def check_seconds(flag: str, value: float | None, *, most: float | None = None) -> None:
    """Raise :class:`CliError` naming ``flag`` unless ``value`` is None or in (0, most]."""
    if value is None:
        return
    if not value > 0:
        raise CliError(f"{flag} must be > 0 seconds, got {value:g}")
    if most is not None and value > most:
        raise CliError(f"{flag} must be at most {most:g} seconds, got {value:g}")


#: Session seeds: whole numbers 0 .. 2**32 - 1 (as the config's ``seed``).
SEED = cli_number(lo=0, hi=2**32 - 1, integer=True)
#: ``--fs`` of recordings that do not store their rate, Hz (the readers' own range).
FS_HZ = cli_number(lo=1.0, hi=100_000.0)
#: ``--duration-s`` of a session: more than 0, at most a day.
SESSION_SECONDS = cli_number(lo=0, lo_open=True, hi=MAX_SESSION_S)


def progress_bar(label: str) -> Callable[[float], None]:
    """Return a callback drawing progress on stderr: a bar on a terminal, else 10% lines."""
    last = [-1]
    tty = sys.stderr.isatty()
    step = 1 if tty else 10

    def draw(frac: float) -> None:
        pct = int(frac * 100) // step * step
        if pct == last[0]:
            return
        last[0] = pct
        if tty:
            filled = pct * 30 // 100
            sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {pct:3d}%")
            if pct >= 100:
                sys.stderr.write("\n")
        else:
            sys.stderr.write(f"{label}: {pct}%\n")
        sys.stderr.flush()

    return draw


def load_session_config(args: argparse.Namespace) -> SessionConfig:
    """Return the session of ``--config`` (default: the demo) with the flags applied."""
    from attune.sessions.config import SessionConfig, load_config

    cfg = load_config(args.config) if args.config else SessionConfig()
    changes: dict = {}
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.out is not None:
        changes["output_dir"] = Path(args.out)
    if getattr(args, "client", None) is not None:
        changes["participant"] = use_client(args.client)
    changes.update(audio_changes(cfg, args.audio))
    if getattr(args, "record_paths", False):
        changes["record_paths"] = True
    if args.no_control:
        changes["control"] = cfg.control.model_copy(update={"enabled": False})
    return cfg.model_copy(update=changes) if changes else cfg


def audio_changes(cfg: SessionConfig, audio: bool | None) -> dict[str, Any]:
    """Return the config changes ``--audio`` (True) or ``--no-audio`` (False) make.

    ``--audio`` renders ``session.wav``; ``--no-audio`` makes a silent session: no WAV
    and no live playback to the sound card (``audio.device`` unset; MIDI is unaffected).
    None (neither flag) keeps the session file's settings.
    """
    if audio is None:
        return {}
    if audio:
        return {"render_audio": True}
    return {"render_audio": False, "audio": cfg.audio.model_copy(update={"device": None})}


def use_client(pseudonym: str) -> str:
    """Return the pseudonym of ``--client``, registering it on first use (one line on stderr)."""
    from attune.sessions.clients import Registry, check_pseudonym

    check_pseudonym(pseudonym)  # a bad one: ClientError (one line) before the home is touched
    with Registry.open() as reg:
        if reg.add_if_missing(pseudonym):
            print(f"attune: new client {pseudonym} registered", file=sys.stderr)
    return pseudonym


def add_client_flag(p: argparse.ArgumentParser) -> None:
    """Add ``--client C`` (dest ``client``): the session is a visit of client C."""
    p.add_argument(
        "--client",
        metavar="C",
        help="the client's pseudonym (registered on first use): the session's participant, "
        "filed under the client in the data home",
    )


def write_report(folder: Path, args: argparse.Namespace | None = None) -> None:
    """Write the session's HTML report and print its path (the last line of a run).

    Nothing is written when ``--no-report`` was given. With encryption at rest the
    report is sealed into the session's store. A ``--client`` session is filed as a
    visit in the client registry first.
    """
    if args is not None and getattr(args, "client", None) is not None:
        from attune.sessions.clients import Registry

        with Registry.open() as reg:
            reg.add_visit(args.client, folder)
    if args is not None and not args.report:
        return
    from attune.sessions.report import write_report as write

    path = write(folder)
    if path.exists():
        print(f"Report: {path}")
    else:
        print(
            f"Report: sealed in {folder / 'session.db'} (encrypted; `attune report "
            f"{folder.name} --out FILE` writes a clear copy)"
        )


def session_folder(args: argparse.Namespace) -> Path:
    """Return the session folder named by ``args.session`` (a folder, or an id under ``--dir``)."""
    from attune.sessions.home import sessions_dir
    from attune.sessions.store import resolve_session

    return resolve_session(args.session, args.dir if args.dir is not None else sessions_dir())


def add_session_argument(p: argparse.ArgumentParser) -> None:
    """Add the SESSION positional (a folder or a session id) to ``p``."""
    p.add_argument("session", metavar="SESSION", help=SESSION_HELP)


def add_dir_argument(p: argparse.ArgumentParser) -> None:
    """Add ``--dir`` (where session ids are looked up) to ``p``."""
    p.add_argument("--dir", type=Path, default=None, help=DIR_HELP)


def add_audio_flag(p: argparse.ArgumentParser, *, default: bool | None, what: str) -> None:
    """Add ``--audio/--no-audio`` (dest ``audio``; None: as the session file says)."""
    p.add_argument("--audio", action=argparse.BooleanOptionalAction, default=default, help=what)


def add_report_flag(p: argparse.ArgumentParser) -> None:
    """Add ``--report/--no-report`` (dest ``report``, default on)."""
    p.add_argument(
        "--report",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write report.html into the session folder (default: on)",
    )


#: The no-op ALSA error handler, kept alive for the life of the process.
_ALSA_QUIET: object = None


def silence_alsa_errors() -> None:
    """Stop the system ALSA library printing its own lines on stderr (Linux only).

    Opening MIDI without an ALSA sequencer (e.g. in a container) makes libasound print
    ``ALSA lib seq_hw.c: ... failed`` beside Attune's one-line error, which already says
    why. Called by the commands that open MIDI ports or sound cards; harmless elsewhere.
    """
    global _ALSA_QUIET
    if _ALSA_QUIET is not None or not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        lib = ctypes.CDLL("libasound.so.2")
    except OSError:  # no ALSA: nothing prints
        return
    handler_type = ctypes.CFUNCTYPE(
        None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
    )
    _ALSA_QUIET = handler_type(lambda *_: None)
    lib.snd_lib_error_set_handler(_ALSA_QUIET)


def sam_rating(text: str) -> float:
    """Parse one SAM rating (1..9) for ``--intake-sam``."""
    try:
        v = float(text)
    except ValueError:
        msg = f"SAM rating must be a number 1..9, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not 1.0 <= v <= 9.0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"SAM rating must be between 1 and 9, got {text}")
    return v


def add_intake_flag(p: argparse.ArgumentParser) -> None:
    """Add ``--intake-sam AROUSAL VALENCE`` (dest ``intake_sam``; SAM 1..9, Bradley & Lang)."""
    p.add_argument(
        "--intake-sam",
        nargs=2,
        type=sam_rating,
        metavar=("AROUSAL", "VALENCE"),
        help="the listener's own rating at intake on the 9-point Self-Assessment Manikin "
        "(1 calm/unpleasant .. 9 excited/pleasant): the estimate starts there; without it "
        "(and no prior in the session file) the estimate is the change from baseline",
    )


def apply_intake_flag(args: argparse.Namespace, cfg: SessionConfig) -> SessionConfig:
    """Return ``cfg`` with ``--intake-sam`` as the estimator's prior (unchanged without it)."""
    sam = getattr(args, "intake_sam", None)
    if sam is None:
        return cfg
    from attune.engine.affect import sam_to_unit

    es = cfg.estimator.model_copy(
        update={"prior_arousal": sam_to_unit(sam[0]), "prior_valence": sam_to_unit(sam[1])}
    )
    return cfg.model_copy(update={"estimator": es})


def add_carry_flag(p: argparse.ArgumentParser) -> None:
    """Add ``--carry-from SESSION``: seed the loop with what an earlier visit learned."""
    p.add_argument(
        "--carry-from",
        type=Path,
        metavar="SESSION",
        help="seed the loop with what the session folder SESSION learned of this listener "
        "(response gain and sign, levers; a paradoxical or absent response starts at the "
        "neutral preset); default with --client: the client's latest visit that learned "
        "something",
    )


def carry_from(args: argparse.Namespace) -> CarryOver | None:
    """Return what an earlier visit learned, to seed this session (None: start fresh).

    ``--carry-from SESSION`` names the visit (exit 2 with one line if it is unreadable or
    learned nothing); otherwise, with ``--client C``, C's newest visit that learned
    something (:func:`attune.sessions.clients.client_sessions`), if any.
    """
    from attune.sessions.carryover import load_carry_over
    from attune.sessions.store import StoreError

    path = getattr(args, "carry_from", None)
    if path is not None:
        try:
            carry = load_carry_over(path)
        except StoreError as e:
            raise CliError(f"--carry-from: {e}") from None
        if carry is None:
            raise CliError(f"--carry-from: session {str(path)!r} learned nothing to carry")
        return carry
    client = getattr(args, "client", None)
    if client is None:
        return None
    from attune.sessions.clients import client_sessions

    for visit in reversed(client_sessions(client)):
        try:
            carry = load_carry_over(visit.folder)
        except StoreError:
            continue  # an unreadable visit carries nothing; an older one may
        if carry is not None:
            return carry
    return None
