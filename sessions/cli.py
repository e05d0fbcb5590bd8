"""The ``attune`` command line: a thin dispatcher over :mod:`attune.sessions.commands`.

Each command lives in its own module there (``add_parser`` and ``run``); this module
builds the parser from them and turns user-facing errors into one line and exit code 2.
Imports are lazy: ``attune --help`` loads neither the engine nor numpy, mne, neurokit2,
scipy or pyo; a command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import NoReturn

from attune.sessions.commands import COMMANDS
from attune.sessions.commands._common import CliError

__all__ = ["CliError", "build_parser", "main", "run"]


def _module(name: str) -> ModuleType:
    """Return the command module ``attune.sessions.commands.<name>``."""
    return importlib.import_module(f"attune.sessions.commands.{name}")


class _VersionAction(argparse.Action):
    """``--version``: print the installed distribution's version and exit."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, nargs=0, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("attune")
        except PackageNotFoundError:  # running from a checkout that is not installed
            text = "unknown (not installed)"
        print(f"attune {text}")
        parser.exit()


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (``attune CMD: argument --x: ...``), exit 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D102 - argparse's hook
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``attune``.

    The parsed namespace holds ``command`` (the command as typed) and ``func`` (its
    module's ``run``).
    """
    p = _Parser(
        prog="attune",
        description="Attune: a real-time adaptive music therapy engine. Biosignals (HRV, EEG) "
        "in, affect-driven generative music out, within safety limits.",
    )
    p.add_argument("--version", action=_VersionAction, help="print the version and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        mod = _module(name)
        mod.add_parser(sub).set_defaults(func=mod.run)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``attune``; returns the exit code."""
    args = build_parser().parse_args(argv)
    from attune.sessions.config import ConfigError
    from attune.sessions.home import HomeError
    from attune.sessions.store import StoreError

    try:
        return int(args.func(args))
    except (ConfigError, CliError, StoreError, HomeError) as e:
        print(f"attune: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("attune: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which closed it
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def run() -> None:
    """Console-script wrapper: exit with :func:`main`'s code."""
    sys.exit(main())


if __name__ == "__main__":
    run()
