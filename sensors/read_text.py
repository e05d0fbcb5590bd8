"""Read delimited text recordings (CSV, TSV, TXT) in chunks; large ones spill to disk."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator, Sequence
from itertools import zip_longest
from pathlib import Path

import numpy as np

from attune.sensors.channels import (
    kind_from_label,
    unit_from_label,
)
from attune.sensors.read_common import (
    REGULAR_KINDS,
    SCAN_BLOCK,
    SIGNAL_KINDS,
    Block,
    Warn,
)
from attune.sensors.timebase import (
    check_rate,
    jitter_tolerance,
    regularise,
)
from attune.sensors.types import SensorError

#: Recognised time columns of delimited text files (case-insensitive), with their unit.
TIME_COLUMNS = {
    "timestamps": "s",
    "timestamp": "s",
    "time_stamp": "s",
    "time": "s",
    "time_s": "s",
    "t": "s",
    "seconds": "s",
    "lsl_time": "s",
    "time_ms": "ms",
    "timestamp_ms": "ms",
    "time_us": "us",
    "time_ns": "ns",
    "timestamp_ns": "ns",
}
_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
#: Other spellings of a time column (lower case), with an optional unit suffix.
_TIME_NAME = re.compile(
    r"(lsl[ _]?|sensor[ _]|device[ _])?(time[ _]?stamps?|time|seconds|elapsed[ _]?time)"
    r"([ _]?[(\[]?(s|sec|secs|seconds|ms|milliseconds|us|ns)[)\]]?)?"
)
#: The unit suffix of a time column's name.
_TIME_UNIT = re.compile(r"[ _(\[](s|sec|secs|seconds|ms|milliseconds|us|ns)[)\]]?$")
#: Epoch times above these magnitudes are in ms, us, ns (epoch seconds stay < 1e11).
_EPOCH_UNITS = ((1e17, "ns"), (1e14, "us"), (1e11, "ms"))

#: Text files larger than this (bytes) keep their numeric columns in a temporary file,
#: read in blocks by the replay, instead of in memory.
SPILL_BYTES = 64 << 20


class Spill:
    """Numeric columns of a large text file in a temporary file (float64, row-major)."""

    def __init__(self, columns: list[int]) -> None:
        import tempfile

        self.file = tempfile.TemporaryFile(prefix="attune-csv-")  # removed when closed
        self.pos = {j: p for p, j in enumerate(columns)}  # channel -> position in a row
        self.width = len(columns)
        self.n = 0

    def write(self, rows: np.ndarray) -> None:
        """Append rows shaped ``(m, n_columns)``."""
        self.file.write(np.ascontiguousarray(rows, dtype="<f8").tobytes())
        self.n += rows.shape[0]

    def renumber(self, keep: list[int]) -> Spill:
        """Renumber the channels as positions in ``keep`` (the block's channel order)."""
        self.pos = {keep.index(j): p for j, p in self.pos.items()}
        return self

    def read(self, k0: int, k1: int, chans: list[int]) -> np.ndarray:
        """Rows ``k0:k1`` of channels ``chans``, shape ``(len(chans), k1 - k0)``."""
        self.file.seek(k0 * self.width * 8)
        buf = self.file.read((k1 - k0) * self.width * 8)
        x = np.frombuffer(buf, dtype="<f8").reshape(k1 - k0, self.width)
        return np.ascontiguousarray(x[:, [self.pos[c] for c in chans]].T)

    def column(self, j: int) -> np.ndarray:
        """One channel, whole."""
        out = np.empty(self.n)
        for a in range(0, self.n, SCAN_BLOCK):
            b = min(self.n, a + SCAN_BLOCK)
            out[a:b] = self.read(a, b, [j])[0]
        return out


class SpillReader:
    """A regular stream of a large text file, read from its spill in blocks."""

    def __init__(
        self, spill: Spill, chans: list[int], scale: np.ndarray, times: np.ndarray
    ) -> None:
        self.spill, self.chans, self.scale, self.times = spill, chans, scale, times
        self.n_samples = int(times.size)
        self.t_first = float(times[0]) if times.size else 0.0
        self.t_last = float(times[-1]) if times.size else 0.0

    def read(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """Return samples ``k0:k1`` in Attune's units and their times."""
        x = self.spill.read(k0, k1, self.chans)
        if np.any(self.scale != 1.0):
            x *= self.scale[:, None]
        return x, self.times[k0:k1]

    def subset(self, idx: Sequence[int]) -> SpillReader:
        """Return the reader of channels ``idx`` only."""
        return SpillReader(
            self.spill, [self.chans[i] for i in idx], self.scale[list(idx)], self.times
        )

    def with_times(self, times: np.ndarray) -> SpillReader:
        """Return the same reader with other timestamps (time jumps shortened)."""
        return SpillReader(self.spill, self.chans, self.scale, times)


# --------------------------------------------------------------------------- text
def read_text(
    path: Path,
    warn: Warn,
    *,
    fs: float | None,
    kind: str | None,
    time_column: str | None,
    cols: list[str],
) -> Block:
    """Read a delimited text file into one block (see ``read_recording``).

    The rows are parsed :data:`CHUNK_ROWS` at a time straight into float arrays of the
    columns used; a file larger than :data:`SPILL_BYTES` keeps them in a temporary file.
    The time column is put on a uniform grid (:func:`attune.sensors.timebase.regularise`).
    """
    lines = _text_lines(path)
    comments: list[str] = []
    body = _body_lines(lines, comments)
    head = list(itertools.islice(body, 50))
    if not head:
        raise SensorError(f"{path}: no data rows; expected delimited text with samples")
    meta = {}
    for ln in comments:
        m = re.match(r"#\s*([^:=]+?)\s*:?=\s*(.*)$", ln.strip())
        if m:
            meta[m.group(1).strip().lower()] = m.group(2).strip()
    first = head[0]
    delim = "," if "," in first else "\t" if "\t" in first else ";" if ";" in first else None
    squeeze = False
    if delim is None and any(len(ln.split()) > 1 for ln in head):
        squeeze = True  # whitespace-separated
        delim = " "
    elif delim is None:  # a single column
        delim = ","
    chunks = _row_chunks(itertools.chain(head, body), delim, squeeze)
    rows = next(chunks)
    header = [h.strip() for h in rows[0]]

    def _is_num(s: str) -> bool:
        try:
            float(s)
        except ValueError:
            return s.strip() == ""
        return True

    has_header = not all(_is_num(h) for h in header)
    if has_header:
        names, rows = header, rows[1:]
    else:
        labels_meta = meta.get("labels", "").replace(",", " ").split()
        width = len(header)
        names = labels_meta if len(labels_meta) == width else [f"ch{i + 1}" for i in range(width)]
    if not rows:
        rows = next(chunks, [])
    if not rows:
        raise SensorError(f"{path}: header but no data rows")
    width = max(len(r) for r in rows)
    if width > len(names):
        names = names + [f"ch{i + 1}" for i in range(len(names), width)]
    lower = [c.lower() for c in names]
    # Time column.
    tcol = None
    if time_column is not None:
        if time_column.lower() not in lower:
            raise SensorError(
                f"{path}: no time column {time_column!r} (columns: {', '.join(names)})"
            )
        tcol = lower.index(time_column.lower())
    else:
        for cand in TIME_COLUMNS:
            if cand in lower:
                tcol = lower.index(cand)
                break
        else:  # "Timestamp (ms)", "LSL Timestamp", "Time [s]", "time_sec" ...
            for j, c in enumerate(lower):
                if _TIME_NAME.fullmatch(c.strip()):
                    tcol = j
                    break
    fs_meta = None
    for key in ("sampling rate (hz)", "sampling rate", "fs", "sampling_rate"):
        if key in meta:
            try:
                fs_meta = float(meta[key])
            except ValueError:
                pass
            break
    if fs is not None and fs_meta is not None and abs(fs - fs_meta) > 1e-6 * fs:
        raise SensorError(
            f"{path}: the header says {fs_meta:g} Hz but fs={fs:g} Hz was given; leave fs out"
        )
    nominal = fs if fs is not None else fs_meta
    if nominal is not None:
        nominal = check_rate(nominal, f"{path}: sampling rate in the header")
    if tcol is None and nominal is None:
        raise SensorError(
            f"{path}: no time column (looked for {', '.join(TIME_COLUMNS)}) and no "
            "sampling rate; give the rate with fs= (attune replay --fs HZ, e.g. --fs 100 "
            "for the NeuroKit2 example CSVs) or name the column with time_column="
        )
    kinds: list[str | None] = []
    units: list[str | None] = []
    wanted = {c.lower() for c in cols}
    numeric: list[int] = []  # columns parsed as numbers
    sparse_cols: list[int] = []  # marker columns: numbers or text, kept where not empty
    for j, name in enumerate(names):
        k = "time" if j == tcol else label_kind(name)
        kinds.append(k)
        units.append(unit_from_label(name))
        if j == tcol:
            continue
        relevant = (
            name.lower() in wanted
            if cols
            else (k in SIGNAL_KINDS or k == "stim" or (kind is not None and len(names) <= 2))
        )
        if not relevant:
            continue
        if k == "stim" or (cols and kind == "markers"):
            sparse_cols.append(j)
        else:
            numeric.append(j)
    # Rows, a chunk at a time: numbers go straight into float arrays, or, for a large
    # file, into a temporary file that the streams read in blocks.
    spill = Spill(numeric) if numeric and path.stat().st_size > SPILL_BYTES else None
    nan_rows = dict.fromkeys(numeric, 0)
    num_parts: dict[int, list[np.ndarray]] = {j: [] for j in numeric}
    sp_parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {j: [] for j in sparse_cols}
    t_parts: list[np.ndarray] = []
    first_row = 2 if has_header else 1
    n = 0
    for chunk in itertools.chain([rows], chunks):
        n_chunk = len(chunk)
        columns_t = list(zip_longest(*chunk, fillvalue=""))

        def column(j: int, size: int = n_chunk, columns_t: list = columns_t) -> np.ndarray:
            if j >= len(columns_t):
                return np.full(size, "", dtype="<U1")
            return np.char.strip(np.asarray(columns_t[j], dtype=str))

        if tcol is not None:
            t_parts.append(_parse_time(path, names[tcol], column(tcol), warn))
        for j in numeric:
            col = column(j)
            vals = _to_float(col)
            if vals is None:
                bad = next(v for v in col if not _is_num(v))
                row = n + int(np.flatnonzero(col == bad)[0]) + first_row
                k = kinds[j]
                raise SensorError(
                    f"{path}: column {names[j]!r} row {row} holds {bad[:40]!r}; expected "
                    "numbers" + (f" for {k.upper()}" if k in SIGNAL_KINDS else "")
                )
            nan_rows[j] += int(np.isnan(vals).sum())
            if spill is None:
                num_parts[j].append(vals)
            else:
                num_parts[j] = [vals]  # this chunk only
        if spill is not None:
            spill.write(np.stack([num_parts[j][0] for j in numeric], axis=1))
        for j in sparse_cols:
            col = column(j)
            at = np.flatnonzero(col != "")
            sp_parts[j].append((at + n, col[at]))
        n += n_chunk
    cols_data: dict[int, np.ndarray] = (
        {j: np.concatenate(v) if len(v) > 1 else v[0] for j, v in num_parts.items()}
        if spill is None
        else {}
    )
    text: dict[int, np.ndarray] = {}
    for j, v in sp_parts.items():
        at = np.concatenate([a for a, _ in v])
        vals_s = np.concatenate([b for _, b in v]) if at.size else np.array([], dtype=str)
        nums = _to_float(vals_s) if at.size else np.empty(0)
        if nums is None:
            col = np.full(n, "", dtype=vals_s.dtype)
            col[at] = vals_s
            text[j] = col
        else:
            x = np.full(n, np.nan)
            x[at] = nums
            cols_data[j] = x
    del num_parts, sp_parts
    if tcol is not None:
        times = np.concatenate(t_parts) if len(t_parts) > 1 else t_parts[0]
        good_t = np.isfinite(times)
        estimate = nominal is None
    else:
        assert nominal is not None
        times = np.arange(n) / nominal
        good_t = None
        estimate = False
    if spill is not None and (
        any(nan_rows.values()) or (good_t is not None and not good_t.all())
    ):  # missing values: NaN runs and rows are handled in memory
        cols_data.update({j: spill.column(j) for j in numeric})
        spill = None
    if good_t is not None and not good_t.all():
        warn(f"{path.name}: {int((~good_t).sum())} row(s) without a time skipped")
        times = times[good_t]
        cols_data = {j: v[good_t] for j, v in cols_data.items()}
        text = {j: v[good_t] for j, v in text.items()}
    irregular = False
    block_fs = 0.0 if estimate else float(nominal)  # type: ignore[arg-type]
    if tcol is not None and times.size > 1:

        def regular(j: int) -> bool:
            if cols and names[j].lower() in wanted and kind:
                return kind in REGULAR_KINDS
            k = kinds[j]
            if k is None and kind is not None and not cols and len(names) <= 2:
                k = kind
            return k in REGULAR_KINDS

        prim = [j for j in cols_data if regular(j)]
        on = np.zeros(times.size, bool)
        for j in prim:
            on |= np.isfinite(cols_data[j])
        if spill is not None and any(regular(j) for j in numeric):
            on[:] = True  # spilled columns have no missing values
        if on.sum() >= 2:
            p_rows = None if on.all() else np.flatnonzero(on)
            tb = regularise(
                times if p_rows is None else times[p_rows],
                nominal,
                path.name,
                warn,
                column=names[tcol],
                rows=p_rows,
            )
            block_fs = check_rate(
                tb.fs,
                f"{path}: rate of the time column {names[tcol]!r} (seconds expected; name "
                "a millisecond column time_ms)",
            )
            estimate = False
            irregular = tb.irregular
            if not irregular and p_rows is None:
                times = tb.times
            elif not irregular and p_rows is not None:  # rows between samples move along
                prev = np.maximum(np.searchsorted(p_rows, np.arange(times.size), "right") - 1, 0)
                times = times + (tb.times - times[p_rows])[prev]
                times[p_rows] = tb.times
        else:
            d = np.diff(times)
            tol = jitter_tolerance(1.0)
            if np.any(d < -tol):
                i = int(np.flatnonzero(d < -tol)[0]) + 1
                raise SensorError(
                    f"{path}: time column {names[tcol]!r} goes backwards at data row {i + 1} "
                    f"({times[i]:.6f} s after {times[i - 1]:.6f} s); expected non-decreasing "
                    "time"
                )
    keep = [j for j in range(len(names)) if j != tcol]
    b = Block(
        name=path.name.split(".")[0],
        sid="csv" if path.suffix.lower() != ".txt" else "txt",
        fs=block_fs,
        times=times,
        data=np.empty((0, times.size)),
        cols={keep.index(j): v for j, v in cols_data.items()},
        spill=None if spill is None else spill.renumber(keep),
        labels=[names[j] for j in keep],
        kinds=[kinds[j] if kinds[j] != "time" else None for j in keep],
        units=[units[j] for j in keep],
        sparse=tcol is not None,
        text={keep.index(j): v for j, v in text.items()},
        estimate_fs=estimate,
        irregular=irregular,
    )
    return b


#: Rows of a text file parsed at a time.
CHUNK_ROWS = 1 << 15


def _text_lines(path: Path) -> Iterator[str]:
    """Yield the lines of a UTF-8 text file (no line ends); one-line errors otherwise."""
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed below, in the generator)
    except OSError as e:
        raise SensorError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
    with f:
        try:
            start = f.read(65536)
        except OSError as e:
            raise SensorError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None
        if b"\x00" in start:
            raise SensorError(f"{path}: binary content; expected delimited text (CSV, TSV, TXT)")
        f.seek(0)
        text = io.TextIOWrapper(f, encoding="utf-8-sig", newline=None)
        k = 0
        try:
            for k, line in enumerate(text, 1):  # noqa: B007 (k names the bad line)
                yield line.rstrip("\n")
        except UnicodeDecodeError:
            raise SensorError(
                f"{path}: not UTF-8 text (near line {k + 1}); expected CSV text"
            ) from None
        except OSError as e:
            raise SensorError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None


def _body_lines(lines: Iterator[str], comments: list[str]) -> Iterator[str]:
    """Yield the data lines: no ``#`` comments (the first 200 lines' go to ``comments``).

    Blank lines inside the data are missing values (single-column files); blank lines
    before the first row and after the last are not.
    """
    started = False
    blanks = 0
    for i, ln in enumerate(lines):
        if ln.lstrip().startswith("#"):
            if i < 200:
                comments.append(ln)
            continue
        if not ln.strip():
            blanks += started
            continue
        started = True
        for _ in range(blanks):
            yield ""
        blanks = 0
        yield ln


def _row_chunks(lines: Iterator[str], delim: str, squeeze: bool) -> Iterator[list[list[str]]]:
    """Yield the rows of delimited lines, :data:`CHUNK_ROWS` at a time."""
    while True:
        part = list(itertools.islice(lines, CHUNK_ROWS))
        if not part:
            return
        if squeeze:
            part = [" ".join(ln.split()) for ln in part]
        yield list(csv.reader(part, delimiter=delim))


def label_kind(label: str) -> str | None:
    """Kind of a text column: muse-lsl ``Marker0``, a device's ``hr_bpm``, or by label."""
    low = label.strip().lower()
    if re.fullmatch(r"markers?[ _]?\d*", low):
        return "stim"
    if re.fullmatch(r"(hr|heart[ _]?rate)([ _(\[]*bpm[)\]]?)?", low):
        return "hr"
    return kind_from_label(label)


def _to_float(col: np.ndarray) -> np.ndarray | None:
    """Parse a column of strings to float64 (empty -> NaN); None if any is not a number."""
    c = col.astype(f"<U{max(3, col.dtype.itemsize // 4)}")  # room for "nan"
    c[c == ""] = "nan"
    try:
        return c.astype(np.float64)
    except ValueError:
        return None


def _parse_time(path: Path, name: str, col: np.ndarray, warn: Warn) -> np.ndarray:
    """Time column to seconds: numbers (unit from the name) or date-time strings."""
    col = np.char.strip(col.astype(str))
    unit = TIME_COLUMNS.get(name.lower(), "s")
    m = _TIME_UNIT.search(name.strip().lower())
    if name.lower() not in TIME_COLUMNS and m:
        unit = {"ms": "ms", "milliseconds": "ms", "us": "us", "ns": "ns"}.get(m.group(1), "s")
    empty = col == ""
    if unit == "ns" or unit == "us":
        try:
            c = col.copy()
            c[empty] = "0"
            ints = c.astype(np.int64)
            t = ints.astype(np.float64) * _TIME_SCALE[unit]
            t[empty] = np.nan
            return t
        except ValueError:
            pass
    vals = _to_float(col)
    if vals is not None:
        big = np.nanmedian(np.abs(vals)) if np.isfinite(vals).any() else 0.0
        if unit == "s":
            for limit, u in _EPOCH_UNITS:
                if big > limit:
                    warn(
                        f"{path.name}: time column {name!r} holds epoch times in {u} "
                        f"(values ~{big:.3g}); converted to seconds"
                    )
                    unit = u
                    break
        return vals * _TIME_SCALE[unit]
    try:
        c = col.copy()
        c[empty] = "NaT"
        dt = c.astype("datetime64[ns]")
    except ValueError:
        bad = next(v for v in col if v)
        raise SensorError(
            f"{path}: time column {name!r} holds {bad[:40]!r}; expected seconds or date-times"
        ) from None
    t = dt.astype(np.int64).astype(np.float64) * 1e-9
    t[np.isnat(dt)] = np.nan
    return t
