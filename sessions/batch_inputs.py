"""Find the recordings of a batch: files, folders, globs and BIDS datasets.

:func:`find_inputs` turns the ``PATH...`` arguments of ``attune batch`` into one
:class:`BatchInput` per recording, each with a stable recording id (the name of its
session folder in the batch output), its participant and its reader options:

* a file is one recording, id = its file name;
* a folder is searched recursively for files Attune reads (hidden files and folders
  and the batch output folder are left out), id = the path below the folder with
  ``/`` written as ``__``;
* a glob (``data/**/*.edf``) is expanded, id = the path below the glob's fixed part;
* a folder holding ``dataset_description.json`` is a BIDS dataset: its EEG recordings
  are found with mne-bids, the participant of each is its subject (``sub-<label>``, as
  in ``participants.tsv``), id = the BIDS file name without extension.

Reader options come from the command-line flags, overridden per file by the first
matching rule of an options file (:func:`load_rules`)::

    [[file]]
    match = "neurokit2/*.csv"   # glob on the end of the file's path
    fs = 100
    [[file]]
    match = "*aux*.fif"
    column = ["AUX2"]
    kind = "ecg"
    participant = "p07"
"""

from __future__ import annotations

import csv
import glob
import hashlib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: Endings of the recordings a folder or glob yields (what the readers read).
RECORDING_ENDINGS: tuple[str, ...] = (
    ".xdf",
    ".xdfz",
    ".edf",
    ".bdf",
    ".fif",
    ".fif.gz",
    ".vhdr",
    ".csv",
    ".tsv",
    ".txt",
)
#: Endings of the BIDS recordings looked for (EEG data files the readers read).
BIDS_ENDINGS: tuple[str, ...] = (".edf", ".bdf", ".fif", ".vhdr")
#: Files that sit in data folders but are never recordings.
NOT_RECORDINGS = re.compile(r"^(readme|license|licence|changes|notes?)([._-].*)?$", re.I)
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")


class BatchInputError(Exception):
    """The batch's inputs or options are wrong (one line naming the path or field)."""


@dataclass(frozen=True)
class ReaderOptions:
    """How one recording is read and which of its streams are replayed.

    Attributes
    ----------
    fs : float or None
        Sampling rate, Hz, for files that do not store one (``--fs``).
    kind : str or None
        Kind of the chosen data (``--kind``).
    columns : tuple of str
        Columns or channels to use (``--column``).
    time_column : str or None
        Time column of a text file (``--time-column``).
    streams : tuple of str
        Stream names to replay (``--stream``).
    channels : tuple of str
        Channel labels to keep (``--channels``).
    """

    fs: float | None = None
    kind: str | None = None
    columns: tuple[str, ...] = ()
    time_column: str | None = None
    streams: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """Return the options as plain JSON values (part of a recording's cache key)."""
        return {
            "fs": self.fs,
            "kind": self.kind,
            "columns": list(self.columns),
            "time_column": self.time_column,
            "streams": list(self.streams),
            "channels": list(self.channels),
        }


@dataclass(frozen=True)
class BatchInput:
    """One recording of a batch.

    Attributes
    ----------
    rec_id : str
        Recording id, unique in the batch: the name of its session folder.
    path : Path
        The recording file (absolute).
    participant : str or None
        Participant pseudonym (BIDS: ``sub-<label>``); None keeps the configuration's.
    options : ReaderOptions
        Reader and stream options.
    companions : tuple of Path
        Other files read with it (BrainVision ``.eeg`` and ``.vmrk``), hashed too.
    bids : mapping of str to str
        BIDS entities other than the subject (``session``, ``task``, ``run``), if any.
    """

    rec_id: str
    path: Path
    participant: str | None
    options: ReaderOptions
    companions: tuple[Path, ...] = ()
    bids: Mapping[str, str] = field(default_factory=dict)

    def content_hash(self) -> str:
        """SHA-256 of the recording's bytes (and its companions'), hex."""
        h = hashlib.sha256()
        for p in (self.path, *self.companions):
            with open(p, "rb") as f:
                h.update(hashlib.file_digest(f, "sha256").digest())
        return h.hexdigest()


class FileRule(BaseModel):
    """One ``[[file]]`` table of an options file: reader options for matching files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    match: str = Field(min_length=1, description="glob on the end of the file's path")
    fs: float | None = Field(None, gt=0.0)
    kind: Literal["eeg", "ecg", "ppg", "rr", "markers"] | None = None
    column: tuple[str, ...] | None = None
    time_column: str | None = None
    stream: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    participant: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    @field_validator("column", "stream", "channels", mode="before")
    @classmethod
    def _listify(cls, v: object) -> object:
        if isinstance(v, str):
            return tuple(c.strip() for c in v.split(",") if c.strip())
        return v

    def matches(self, path: Path) -> bool:
        """Return True if the pattern matches the end of ``path`` (whole components).

        ``*.csv``, ``neurokit2/*.csv`` and ``data/neurokit2/ecg_*.csv`` all match
        ``/home/me/data/neurokit2/ecg_1000hz.csv``.
        """
        parts = path.parts
        return any(fnmatch("/".join(parts[k:]), self.match) for k in range(len(parts)))

    def apply(self, opts: ReaderOptions) -> ReaderOptions:
        """Return ``opts`` with the options this rule sets."""
        changes: dict[str, object] = {}
        for name, attr in (
            ("fs", "fs"),
            ("kind", "kind"),
            ("column", "columns"),
            ("time_column", "time_column"),
            ("stream", "streams"),
            ("channels", "channels"),
        ):
            value = getattr(self, name)
            if value is not None:
                changes[attr] = value
        return replace(opts, **changes) if changes else opts  # type: ignore[arg-type]


def load_rules(path: Path) -> tuple[FileRule, ...]:
    """Read the ``[[file]]`` rules of an options file (TOML).

    Raises
    ------
    BatchInputError
        One line naming the file, the rule and the field.
    """
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise BatchInputError(f"{path}: cannot read the options file ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise BatchInputError(f"{path}: not valid TOML ({e})") from None
    unknown = sorted(set(raw) - {"file"})
    if unknown:
        raise BatchInputError(f"{path}: unknown table {unknown[0]!r}; expected [[file]] tables")
    rules = []
    for i, item in enumerate(raw.get("file", [])):
        try:
            rules.append(FileRule.model_validate(item))
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(x) for x in err["loc"]) or "rule"
            raise BatchInputError(f"{path}: [[file]] #{i + 1}, {where}: {err['msg']}") from None
    return tuple(rules)


def _is_recording(p: Path) -> bool:
    name = p.name.lower()
    return name.endswith(RECORDING_ENDINGS) and not NOT_RECORDINGS.match(name)


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _inside(p: Path, folder: Path | None) -> bool:
    return folder is not None and (p == folder or folder in p.parents)


def _companions(p: Path) -> tuple[Path, ...]:
    """BrainVision: the ``.eeg`` and ``.vmrk`` files next to a ``.vhdr``, if present."""
    if not p.name.lower().endswith(".vhdr"):
        return ()
    return tuple(q for q in (p.with_suffix(".eeg"), p.with_suffix(".vmrk")) if q.is_file())


def make_id(rel: str) -> str:
    """Return the id of a relative POSIX path: ``/`` as ``__``, odd characters as ``_``."""
    rid = _ID_CHARS.sub("_", rel.replace("/", "__"))
    return f"_{rid}" if rid.startswith(".") else rid


def _glob_base(pattern: str) -> Path:
    """Return the fixed folder part of a glob pattern (before its first magic part)."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def read_participants(root: Path) -> set[str] | None:
    """``participant_id`` values of ``root/participants.tsv`` (None if there is none)."""
    tsv = root / "participants.tsv"
    if not tsv.is_file():
        return None
    with open(tsv, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return {r.get("participant_id", "") for r in rows} - {""}


def _bids_inputs(root: Path, notes: list[str]) -> list[tuple[Path, str, dict[str, str]]]:
    """``(file, id, entities + participant)`` of a BIDS dataset's EEG files."""
    from mne_bids import find_matching_paths

    found = find_matching_paths(
        root, datatypes=["eeg"], extensions=list(BIDS_ENDINGS), ignore_json=True
    )
    listed = read_participants(root)
    out = []
    for bp in sorted(found, key=lambda b: str(b.fpath)):
        if bp.split not in (None, "01"):
            continue  # later parts of a split FIF are read with the first
        fpath = Path(bp.fpath)
        participant = f"sub-{bp.subject}"
        if listed is not None and participant not in listed:
            notes.append(f"{fpath}: {participant} is not in {root / 'participants.tsv'}")
        ents = {"participant": participant}
        for key in ("session", "task", "run"):
            val = getattr(bp, key)
            if val is not None:
                ents[key] = str(val)
        ext = bp.extension or ""
        rid = fpath.name[: -len(ext)] if ext and fpath.name.endswith(ext) else fpath.stem
        out.append((fpath, make_id(rid), ents))
    if not out:
        raise BatchInputError(
            f"{root}: a BIDS dataset (dataset_description.json) without EEG recordings "
            f"({', '.join(BIDS_ENDINGS)}) that mne-bids can find"
        )
    return out


def find_inputs(
    paths: Sequence[str | Path],
    *,
    options: ReaderOptions = ReaderOptions(),
    rules: Sequence[FileRule] = (),
    exclude: Path | None = None,
) -> tuple[list[BatchInput], list[str]]:
    """Turn ``PATH...`` arguments into recordings, sorted by id.

    Parameters
    ----------
    paths : sequence of str or Path
        Files, folders, globs or BIDS roots.
    options : ReaderOptions
        Options for every recording (the command-line flags).
    rules : sequence of FileRule
        Per-file overrides; the first rule matching a file applies.
    exclude : Path, optional
        A folder never searched (the batch output).

    Returns
    -------
    inputs : list of BatchInput
        One per recording file (a file reached twice counts once).
    notes : list of str
        Conditions worth reporting (e.g. a subject missing from ``participants.tsv``).

    Raises
    ------
    BatchInputError
        A path that does not exist, a glob or folder without recordings.
    """
    exclude = exclude.resolve() if exclude is not None else None
    notes: list[str] = []
    found: list[tuple[Path, str, dict[str, str]]] = []
    for arg in paths:
        text = str(arg)
        p = Path(text)
        if glob.has_magic(text):
            base = _glob_base(text)
            hits = [Path(h) for h in sorted(glob.glob(text, recursive=True))]
            hits = [h for h in hits if h.is_file() and _is_recording(h)]
            if not hits:
                raise BatchInputError(f"{text}: no recordings match this pattern")
            for h in hits:
                rel = h.relative_to(base).as_posix() if h.is_relative_to(base) else h.name
                found.append((h, make_id(rel), {}))
        elif p.is_dir() and (p / "dataset_description.json").is_file():
            found += _bids_inputs(p, notes)
        elif p.is_dir():
            hits = sorted(
                q
                for q in p.rglob("*")
                if q.is_file()
                and _is_recording(q)
                and not _hidden(q.relative_to(p))
                and not _inside(q.resolve(), exclude)
            )
            if not hits:
                raise BatchInputError(
                    f"{p}: no recordings in this folder ({', '.join(RECORDING_ENDINGS)})"
                )
            for h in hits:
                found.append((h, make_id(h.relative_to(p).as_posix()), {}))
        elif p.is_file():
            found.append((p, make_id(p.name), {}))
        else:
            raise BatchInputError(f"{p}: no such file or folder")
    seen: set[Path] = set()
    unique = []
    for h, rid, ents in found:
        key = h.resolve()
        if key not in seen and not _inside(key, exclude):
            seen.add(key)
            unique.append((key, rid, ents))
    counts: dict[str, int] = {}
    for _, rid, _ in unique:
        counts[rid] = counts.get(rid, 0) + 1
    inputs = []
    for h, rid, ents in unique:
        if counts[rid] > 1:  # same name under two PATH arguments
            rid = f"{rid}-{hashlib.sha1(str(h).encode()).hexdigest()[:8]}"
        rule = next((r for r in rules if r.matches(h)), None)
        opts = rule.apply(options) if rule is not None else options
        participant = ents.pop("participant", None)
        if rule is not None and rule.participant is not None:
            participant = rule.participant
        inputs.append(BatchInput(rid, h, participant, opts, _companions(h), ents))
    inputs.sort(key=lambda b: b.rec_id)
    return inputs, notes
