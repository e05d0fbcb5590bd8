"""The session record: a private folder with one CSV row per tick, beat and event.

Rows are flushed at least once a second of session time, so a crash loses at most the
last second. Folders are created 0700 and files 0600: session data is personal data.
"""

from __future__ import annotations

import csv
import math
import os
from datetime import datetime
from pathlib import Path

from engine.loop import TickResult
from synthesis.params import PARAM_NAMES

#: Columns measured from the machine (vary from run to run); excluded when comparing runs.
MEASURED_COLUMNS: tuple[str, ...] = ("latency_ms", "compute_ms")


def new_session_dir(output_dir: Path, name: str, participant: str) -> Path:
    """Create ``output_dir/<YYYYmmdd-HHMMSS>-<name>-<participant>`` with mode 0700."""
    output_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = output_dir / f"{stamp}-{name}-{participant}"
    path, k = base, 1
    while path.exists():
        path, k = Path(f"{base}-{k}"), k + 1
    path.mkdir(mode=0o700)
    return path


def private_open(path: Path, mode: str = "w"):
    """Open a text file created with permissions 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, mode, newline="", encoding="utf-8")


def private_file(path: Path) -> Path:
    """Create an empty file with permissions 0600 for a library to write into.

    pyo (libsndfile) and mido truncate an existing file and keep its mode, so the
    audio and MIDI files of a session stay private too.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    return path


def _cell(v: object) -> object:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else repr(round(v, 9))
    return v


class SessionRecord:
    """Writes ``ticks.csv``, ``beats.csv`` and ``events.csv`` into a session folder.

    Parameters
    ----------
    folder : Path
        The session folder (already created).
    feature_names : sequence of str
        Feature columns, in order.
    extra_columns : sequence of str
        More per-tick columns supplied by the caller (e.g. the simulated listener's true
        state).
    flush_every : int
        Flush after this many ticks (4 ticks of 0.25 s = once a second).
    """

    def __init__(
        self,
        folder: Path,
        *,
        feature_names: list[str],
        extra_columns: list[str] = (),
        flush_every: int = 4,
    ) -> None:
        self.folder = folder
        self.feature_names = list(feature_names)
        self.extra_columns = list(extra_columns)
        self.columns = (
            ["t_s", "phase"]
            + self.feature_names
            + ["arousal", "valence", "confidence", "valence_confidence"]
            + ["target_arousal", "target_valence", "music_arousal", "hold"]
            + list(PARAM_NAMES)
            + ["n_notes"]
            + self.extra_columns
            + list(MEASURED_COLUMNS)
        )
        self._ticks_f = private_open(folder / "ticks.csv")
        self._beats_f = private_open(folder / "beats.csv")
        self._events_f = private_open(folder / "events.csv")
        self._ticks = csv.writer(self._ticks_f)
        self._beats = csv.writer(self._beats_f)
        self._events = csv.writer(self._events_f)
        self._ticks.writerow(self.columns)
        self._beats.writerow(["time_s", "rr_ms", "corrected"])
        self._events.writerow(["t_s", "event"])
        self.flush_every = flush_every
        self.n_ticks = 0

    def event(self, t: float, text: str) -> None:
        """Record an event (phase change, hold, warning, override)."""
        self._events.writerow([_cell(float(t)), text])

    def tick(self, r: TickResult, extra: dict[str, float] | None = None) -> None:
        """Record one tick, its new beats and its events."""
        d, e = r.decision, r.estimate
        row = [_cell(r.t), d.phase]
        row += [_cell(r.features.get(n)) for n in self.feature_names]
        row += [
            _cell(e.arousal),
            _cell(e.valence),
            _cell(e.confidence),
            _cell(e.valence_confidence),
        ]
        row += [
            _cell(d.target_arousal),
            _cell(d.target_valence),
            _cell(d.music_arousal),
            int(d.hold),
        ]
        row += [
            _cell(float(getattr(d.params, n))) if n != "mode" else d.params.mode
            for n in PARAM_NAMES
        ]
        row += [r.n_notes]
        row += [_cell((extra or {}).get(c)) for c in self.extra_columns]
        row += [_cell(r.latency_ms), _cell(r.compute_ms)]
        self._ticks.writerow(row)
        for t_b, rr, corr in r.beats:
            self._beats.writerow([_cell(float(t_b)), _cell(float(rr)), int(corr)])
        for text in d.events:
            self.event(r.t, text)
        for text in getattr(r, "events", ()):
            self.event(r.t, text)
        self.n_ticks += 1
        if self.n_ticks % self.flush_every == 0:
            self.flush()

    def flush(self) -> None:
        """Push buffered rows to the operating system."""
        for f in (self._ticks_f, self._beats_f, self._events_f):
            f.flush()

    def close(self) -> None:
        """Flush and close the files."""
        for f in (self._ticks_f, self._beats_f, self._events_f):
            f.close()
