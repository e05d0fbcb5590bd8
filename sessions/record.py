"""The session record: a private folder whose store keeps every tick, beat and event.

Rows are committed to the folder's SQLite store (:mod:`attune.sessions.store`) once a second of
session time, so a crash loses at most the last second. Folders are created 0700 and
files 0600: session data is personal data.
"""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

from attune.engine.loop import TickResult
from attune.sessions.store import SessionStore, StoreError
from attune.synthesis.params import PARAM_NAMES

#: Columns measured from the machine (vary from run to run); excluded when comparing runs.
MEASURED_COLUMNS: tuple[str, ...] = ("latency_ms", "compute_ms")


def new_session_dir(
    output_dir: Path, name: str, participant: str, *, seed: int | None = None
) -> Path:
    """Create ``output_dir/<YYYYmmdd-HHMMSS>-<name>-<participant>-s<seed>`` with mode 0700.

    The folder name is the session id. With encryption at rest on, ``<participant>`` is
    a keyed tag (:func:`attune.sessions.home.pseudonym_tag`), not the pseudonym. Two
    sessions started in the same second get ``-1``, ``-2``, ... suffixes; creation is
    atomic (``mkdir`` fails on an existing folder), so concurrent processes never share one.

    Raises
    ------
    StoreError
        One line naming ``output_dir`` when it cannot be created or written.
    """
    try:
        output_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as e:
        raise StoreError(f"output_dir {output_dir}: cannot create it: {e.strerror}") from None
    if not output_dir.is_dir():
        raise StoreError(f"output_dir {output_dir}: not a directory")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    from attune.sessions.home import pseudonym_tag

    tail = "" if seed is None else f"-s{seed}"
    base = output_dir / f"{stamp}-{name}-{pseudonym_tag(participant)}{tail}"
    for k in range(10_000):
        path = base if k == 0 else Path(f"{base}-{k}")
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        except OSError as e:
            raise StoreError(f"output_dir {output_dir}: cannot write: {e.strerror}") from None
        return path
    raise StoreError(f"output_dir {output_dir}: too many sessions named {base.name}")


def _private_fd(path: Path) -> int:
    """Open ``path`` for writing as a private file: created or truncated, mode 0600.

    An existing file is reset to 0600 (``O_TRUNC`` alone would keep its old mode), and a
    symlink at ``path`` is refused (``O_NOFOLLOW``), so nothing is written through a link
    planted by someone else.

    Raises
    ------
    StoreError
        One line naming the path: a symlink, a directory, or no permission.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise StoreError(f"{path}: is a symbolic link; refusing to write through it") from None
        raise StoreError(f"{path}: cannot write: {e.strerror}") from None
    os.fchmod(fd, 0o600)
    return fd


def private_open(path: Path) -> TextIO:
    """Open a text file for writing, created (or reset) with permissions 0600, never a link."""
    return os.fdopen(_private_fd(path), "w", newline="", encoding="utf-8")


def private_file(path: Path) -> Path:
    """Create an empty private file (0600, never through a link) for a library to write into.

    pyo (libsndfile) and mido truncate an existing file and keep its mode, so the
    audio and MIDI files of a session stay private too.
    """
    os.close(_private_fd(path))
    return path


class SessionRecord:
    """Records ticks, beats and events of a session into its store (``session.db``).

    Parameters
    ----------
    folder : Path
        The session folder (already created).
    feature_names : sequence of str
        Feature columns, in order.
    meta : dict
        The store's ``sessions`` row (see :class:`attune.sessions.store.SessionStore`).
    extra_columns : sequence of str
        More per-tick columns supplied by the caller (e.g. the simulated listener's true
        state).
    commit_every : int
        Commit after this many ticks (4 ticks of 0.25 s = once a second).
    """

    def __init__(
        self,
        folder: Path,
        *,
        feature_names: list[str],
        meta: dict,
        extra_columns: Sequence[str] = (),
        commit_every: int = 4,
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
        self.store = SessionStore(
            folder, tick_columns=self.columns, meta=meta, commit_every=commit_every
        )

    def event(self, t: float, text: str) -> None:
        """Record an event (phase change, hold, warning, override)."""
        self.store.event(t, text)

    def row(self, r: TickResult, extra: dict[str, float] | None = None) -> tuple:
        """Return the tick row of ``r`` in :attr:`columns` order (None where unavailable)."""
        d, e, p = r.decision, r.estimate, r.decision.params
        feats = r.features
        extra = extra or {}
        return (
            (r.t, d.phase)
            + tuple(feats.get(n) for n in self.feature_names)
            + (e.arousal, e.valence, e.confidence, e.valence_confidence)
            + (d.target_arousal, d.target_valence, d.music_arousal, int(d.hold))
            + tuple(getattr(p, n) for n in PARAM_NAMES)
            + (r.n_notes,)
            + tuple(extra.get(c) for c in self.extra_columns)
            + (r.latency_ms, r.compute_ms)
        )

    def tick(self, r: TickResult, extra: dict[str, float] | None = None) -> tuple:
        """Record one tick, its new beats and its events; return its row (:meth:`row`)."""
        row = self.row(r, extra)
        self.store.tick(row)
        d = r.decision
        if len(r.beats):
            self.store.beats(
                (float(t_b), None if math.isnan(rr) else float(rr), int(c))
                for t_b, rr, c in r.beats
            )
        for text in d.events:
            self.store.event(r.t, text)
        for text in r.events:
            self.store.event(r.t, text)
        for rep in r.self_reports:
            self.store.selfreport(
                (rep.t_s, rep.kind, rep.arousal, rep.valence, rep.source, rep.text)
            )
        return row

    def close(self, *, status: str = "ended") -> None:
        """Commit everything and mark the session ``status`` (``ended``/``interrupted``)."""
        self.store.close(status=status)
