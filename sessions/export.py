"""Export tables of a recorded session folder for researchers.

``beats``: one row per detected beat with columns ``time_s`` (seconds from the start of
the recording: the session clock, which starts at 0), ``rr_ms`` (the raw interval ending
at the beat in ms; empty for the first beat) and ``corrected`` (1 when the online
artifact rule flagged the interval, else 0).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TextIO

#: Tables ``attune export`` can write, and the session file each comes from.
EXPORT_TABLES: dict[str, str] = {"beats": "beats.csv"}
#: Columns of each exported table.
EXPORT_COLUMNS: dict[str, tuple[str, ...]] = {"beats": ("time_s", "rr_ms", "corrected")}


class ExportError(Exception):
    """The session folder or table cannot be exported (the message says why)."""


def export_table(session: Path, table: str, out: TextIO | None = None) -> int:
    """Write one table of a session folder as CSV.

    Parameters
    ----------
    session : Path
        The session folder (as written by :class:`sessions.record.SessionRecord`).
    table : str
        One of :data:`EXPORT_TABLES`.
    out : text file, optional
        Where to write; default ``sys.stdout``.

    Returns
    -------
    int
        Number of data rows written.
    """
    if table not in EXPORT_TABLES:
        raise ExportError(f"table must be one of {tuple(EXPORT_TABLES)}, got {table!r}")
    session = Path(session)
    if not session.is_dir():
        raise ExportError(f"session folder {str(session)!r} does not exist")
    src = session / EXPORT_TABLES[table]
    if not src.is_file():
        raise ExportError(f"session folder {str(session)!r} has no {src.name}")
    cols = EXPORT_COLUMNS[table]
    out = sys.stdout if out is None else out
    with src.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in cols if c not in (reader.fieldnames or ())]
        if missing:
            raise ExportError(f"{src} lacks columns {missing}")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(cols)
        n = 0
        for row in reader:
            writer.writerow([row[c] for c in cols])
            n += 1
    return n
