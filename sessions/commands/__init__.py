"""The ``attune`` commands, one module per command.

Each module defines ``NAME`` (the command as typed), ``add_parser(subparsers)`` (its
arguments; cheap, no heavy imports) and ``run(args) -> int`` (the work; it imports what it
needs). :mod:`attune.sessions.cli` builds the parser from :data:`COMMANDS` and dispatches.
Helpers shared by several commands live in :mod:`attune.sessions.commands._common`.
"""

from __future__ import annotations

#: Command modules in the order ``attune --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "simulate",
    "demo",
    "export",
    "sessions",
    "report",
    "annotate",
    "selfreport",
    "feeling",
    "devices",
    "render_examples",
    "streams",
    "run",
    "replay",
    "batch",
    "evaluate",
    "control",
    "console",
    "bench",
    "client",
    "progress",
    "erase",
    "export_client",
)
