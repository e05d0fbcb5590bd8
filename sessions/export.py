"""Export tables of a recorded session for researchers (``attune export``).

Tables (all times are session seconds: the session clock, which starts at 0 with the
recording or the simulation):

``ticks``
    One row per control tick; columns as recorded (features, estimate, target, every
    music parameter, measured latency). Empty cells: not available at that tick.
    ``arousal``, ``valence`` and their targets are on the absolute -1..1 scale anchored
    on the listener's intake rating; a session without one exports them as
    ``arousal_rel``, ``valence_rel``, ``target_arousal_rel``, ``target_valence_rel``:
    the change from the baseline (0 = as during the baseline, not "neutral").
``beats``
    One row per detected beat: ``time_s``, ``rr_ms`` (the raw interval ending at the
    beat in ms; empty for the first beat) and ``corrected`` (1 when the online
    artifact rule flagged the interval, else 0).
``events``
    ``t_s``, ``event``: phases, holds, warnings, therapist commands, markers.
``annotations``
    ``t_s``, ``author``, ``text``, ``created_utc``.
``selfreports``
    ``t_s``, ``kind`` (pre, during, post), ``arousal``, ``valence`` (SAM 1-9),
    ``source``, ``text`` (a described feeling's words, only with consent).

Formats: ``csv`` (header row, comma-separated, floats as Python's shortest round-trip
repr) and ``json`` (one object per line, null where empty).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Literal, TextIO

from attune.sessions.store import EXTRA_TABLES, TABLES, StoreError, read_table

#: Tables ``attune export`` can write.
EXPORT_TABLES: tuple[str, ...] = ("ticks", *TABLES, *EXTRA_TABLES)
#: Output formats.
FORMATS: tuple[str, ...] = ("csv", "json")


class ExportError(Exception):
    """The session or table cannot be exported (the message says why)."""


def _csv_cell(v: object) -> object:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return repr(v) if isinstance(v, float) else v


def export_table(
    session: Path | str,
    table: str,
    out: TextIO | None = None,
    *,
    fmt: Literal["csv", "json"] = "csv",
) -> int:
    """Write one table of a session as CSV or JSON lines.

    Parameters
    ----------
    session : Path or str
        The session folder (holding ``session.db``).
    table : str
        One of :data:`EXPORT_TABLES`.
    out : text file, optional
        Where to write; default ``sys.stdout``.
    fmt : {"csv", "json"}
        Output format.

    Returns
    -------
    int
        Number of data rows written.

    Raises
    ------
    ExportError
        Naming the table, format or session that is wrong.
    """
    if table not in EXPORT_TABLES:
        raise ExportError(f"table must be one of {EXPORT_TABLES}, got {table!r}")
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {FORMATS}, got {fmt!r}")
    try:
        cols, rows = read_table(session, table)
    except StoreError as e:
        raise ExportError(str(e)) from None
    out = sys.stdout if out is None else out
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(cols)
        writer.writerows([_csv_cell(v) for v in row] for row in rows)
    else:
        for row in rows:
            out.write(json.dumps(dict(zip(cols, row, strict=True))) + "\n")
    return len(rows)
