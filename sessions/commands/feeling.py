"""``attune feeling``: a described feeling, scored into a proposed rating to confirm."""

from __future__ import annotations

import argparse
import sys

from attune.sessions.commands._common import (
    CliError,
    add_dir_argument,
    add_session_argument,
    session_folder,
)

NAME = "feeling"


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``feeling`` to ``sub``."""
    fe = sub.add_parser(
        NAME,
        help="score a described feeling into a proposed SAM rating; store it once confirmed",
        description="Turn a short description of how the client feels into a proposed SAM "
        "rating (valence: VADER; arousal: Attune's lexicon; negations handled), show it, and "
        "store it as a self-report once confirmed (--confirm, or answer the prompt). On a "
        "running session it goes through the command channel (during, anchoring the "
        "estimate). The words are kept only if the session's [session] store_feeling_text "
        "is true (the client consented).",
    )
    add_session_argument(fe)
    fe.add_argument("text", metavar="TEXT", nargs="+", help="the described feeling")
    fe.add_argument("--confirm", action="store_true", help="store the proposal without asking")
    fe.add_argument(
        "--when",
        choices=("pre", "during", "post"),
        help="for a finished session: when it was said (default post)",
    )
    add_dir_argument(fe)
    return fe


def _ascii(text: str) -> str:
    import unicodedata

    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _confirmed(args: argparse.Namespace, proposal: str) -> bool:
    print(proposal)
    if args.confirm:
        return True
    if not sys.stdin.isatty():
        print("not stored: confirm with --confirm (no terminal to ask)")
        return False
    answer = input("store this rating? [y/N] ").strip().lower()
    return answer in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    """Score a described feeling, show the proposal, store it once confirmed."""
    from attune.sessions.therapist import CHANNEL_FILE, TherapistError, send_command_reply

    folder = session_folder(args)
    text = _ascii(" ".join(args.text)).strip()
    if not text:
        raise CliError("feeling: TEXT must hold some words")
    if (folder / CHANNEL_FILE).is_file():
        try:
            reply = send_command_reply(folder, f"feeling {text}")
            if _confirmed(args, str(reply.get("reply", ""))):
                send_command_reply(folder, "feeling confirm")
                print(f"{folder.name}: stored in the running session")
            return 0
        except TherapistError as e:
            raise CliError(f"feeling: {e}") from None
    from attune.sessions.feelings import score_feeling
    from attune.sessions.selfreport import add_rating
    from attune.sessions.store import load_session

    score = score_feeling(text)
    if _confirmed(args, score.describe()):
        keep = _consented(load_session(folder).meta.get("config_toml"))
        line = add_rating(
            folder,
            args.when or "post",
            score.sam_arousal,
            score.sam_valence,
            source="feeling",
            text=text if keep else None,
        )
        print(f"{folder.name}: {line}" + ("" if keep else " (words not kept: no consent)"))
    return 0


def _consented(config_toml: str | None) -> bool:
    """Return True if the session's configuration says ``[session] store_feeling_text = true``."""
    import tomllib

    try:
        cfg = tomllib.loads(config_toml or "")
    except tomllib.TOMLDecodeError:
        return False
    return cfg.get("session", {}).get("store_feeling_text") is True
