"""``attune batch``: replay a whole dataset in parallel on Dask, resumably."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attune.sessions.commands._common import FS_HZ, SEED, cli_number, load_session_config
from attune.sessions.commands.streams import KINDS

if TYPE_CHECKING:
    from attune.sessions.batch import BatchResult, Outcome

NAME = "batch"
HELP = "replay many recordings (files, folders, globs, a BIDS dataset) in parallel on Dask"
#: Default output folder of a batch.
BATCH_DIR = Path("attune-batch")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``batch`` to ``sub``."""
    b = sub.add_parser(
        NAME,
        help=HELP,
        description="Replay every recording under PATH (files, folders searched recursively, "
        "globs, or a BIDS dataset root read with mne-bids, participants from the dataset) "
        "through the engine, one replay per recording as `attune replay` does, in parallel "
        "on a Dask cluster (a local one on every core by default). Recordings whose content, "
        "options, configuration and Attune version are unchanged since the last batch into "
        "OUT are skipped; a failing recording is recorded with its error and the batch goes "
        "on. Writes one session folder per recording, the dataset table (dataset.csv, "
        "dataset.parquet) and page (dataset.html) into OUT. Exit status 1 if any failed.",
    )
    b.add_argument("paths", metavar="PATH", nargs="+", help="file, folder, glob or BIDS root")
    b.add_argument("--out", type=Path, default=BATCH_DIR, help=f"output folder ({BATCH_DIR})")
    b.add_argument("--config", type=Path, help="session file (TOML) for the engine")
    b.add_argument("--seed", type=SEED, help="override the session seed")
    b.add_argument("--fs", type=FS_HZ, help="sampling rate in Hz, for files that do not store it")
    b.add_argument("--kind", choices=KINDS, help="kind of the chosen data")
    b.add_argument(
        "--column", action="append", help="column or channel to use (repeat or comma-separate)"
    )
    b.add_argument("--time-column", help="name of the time column of CSV files")
    b.add_argument("--stream", action="append", help="stream name to use (repeatable)")
    b.add_argument("--channels", help="comma-separated channel labels to keep")
    b.add_argument(
        "--options",
        type=Path,
        help="TOML file of per-file options: [[file]] tables with match = GLOB and any of "
        "fs, kind, column, time_column, stream, channels, participant",
    )
    b.add_argument("--audio", action="store_true", help="also render each session's music to WAV")
    b.add_argument(
        "--workers",
        type=cli_number(lo=1, hi=1024, integer=True),
        help="worker processes of the local cluster (default: every core)",
    )
    b.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="use the existing Dask cluster at ADDRESS (e.g. tcp://10.0.0.5:8786); its "
        "workers must see the recordings and OUT at the same paths",
    )
    b.add_argument(
        "--rerun", action="store_true", help="replay every recording, even unchanged ones"
    )
    b.set_defaults(no_audio=False, no_control=False)
    return b


class _Progress:
    """Batch progress on stderr: a tqdm bar on a terminal, else one line per replay.

    Without a terminal (CI, a log file) skipped recordings are only counted, in the
    first line, and each replay prints ``batch: [k/n] ID: ok (...)`` as it finishes.
    """

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.bar: Any = None
        self.todo = 0
        self.done = 0

    def plan(self, total: int, todo: int) -> None:
        self.todo = todo
        print(
            f"batch: {total} recordings, {todo} to replay, {total - todo} unchanged (skipped)",
            file=sys.stderr,
            flush=True,
        )
        if self.tty:
            import os

            from tqdm import tqdm

            # A terminal that reports no size (a fresh pty) would get no bar: 80 x 24 then.
            try:
                cols, rows = os.get_terminal_size(sys.stderr.fileno())
            except OSError:
                cols, rows = 80, 24
            self.bar = tqdm(
                total=total,
                unit="rec",
                desc="batch",
                file=sys.stderr,
                ncols=cols or 80,
                nrows=rows or 24,
            )

    def cluster(self, link: str | None, n_workers: int) -> None:
        msg = f"batch: {n_workers} Dask workers" + (f"; dashboard: {link}" if link else "")
        if self.bar is not None:
            self.bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def done_one(self, o: Outcome) -> None:
        state = (
            "skipped (unchanged" + (", failed before)" if o.failed else ")")
            if o.skipped
            else f"failed: {o.error}"
            if o.failed
            else f"ok ({o.signal_s:.0f} s of signal in {o.wall_s:.1f} s)"
        )
        if self.bar is not None:
            if o.failed and not o.skipped:
                self.bar.write(f"batch: {o.rec_id}: {state}", file=sys.stderr)
            self.bar.update(1)
        elif not o.skipped:
            self.done += 1
            print(
                f"batch: [{self.done}/{self.todo}] {o.rec_id}: {state}",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _summary(res: BatchResult) -> str:
    n_failed = len(res.failures)
    lines = [f"Batch of {len(res.outcomes)} recordings into {res.out}"]
    replayed = res.n_replayed
    if replayed:
        speed = res.signal_s / res.wall_s if res.wall_s > 0 else float("nan")
        lines.append(
            f"  replayed {replayed}: {res.signal_s / 3600:.2f} h of signal in "
            f"{res.wall_s:.1f} s on {res.workers} workers ({speed:.0f}x real time)"
        )
    lines.append(f"  skipped {res.n_skipped} (unchanged since the last batch)")
    lines.append(f"  failed {n_failed}")
    for o in res.failures:
        again = " (unchanged, not retried; --rerun retries)" if o.skipped else ""
        lines.append(f"    {o.rec_id}: {o.error}{again}")
    for note in res.notes:
        lines.append(f"  note: {note}")
    lines.append(f"Table: {res.files['csv']} {res.files['parquet']}")
    lines.append(f"Page: {res.files['html']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Replay the recordings named by ``args.paths``; print the summary."""
    from attune.sessions.batch import BatchError, run_batch
    from attune.sessions.batch_inputs import (
        BatchInputError,
        ReaderOptions,
        find_inputs,
        load_rules,
    )
    from attune.sessions.config import ConfigError

    progress = _Progress()
    try:
        cfg = load_session_config(args)  # output_dir is set per recording by the batch
        if not args.audio:
            named = {} if args.config else {"name": "replay"}  # as attune replay names it
            cfg = cfg.model_copy(update={"render_audio": False, **named})
        options = ReaderOptions(
            fs=args.fs,
            kind=args.kind,
            columns=tuple(c for a in args.column or [] for c in a.split(",") if c),
            time_column=args.time_column,
            streams=tuple(args.stream or ()),
            channels=tuple(c for c in (args.channels or "").split(",") if c),
        )
        rules = load_rules(args.options) if args.options else ()
        inputs, notes = find_inputs(args.paths, options=options, rules=rules, exclude=args.out)
        res = run_batch(
            inputs,
            cfg,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            rerun=args.rerun,
            on_plan=progress.plan,
            on_cluster=progress.cluster,
            on_done=progress.done_one,
            notes=notes,
        )
    except (BatchError, BatchInputError, ConfigError) as e:
        progress.close()
        print(f"attune batch: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        progress.close()
        print(
            "attune batch: interrupted; finished recordings are kept, run it again to go on",
            file=sys.stderr,
        )
        return 130
    progress.close()
    print(_summary(res))
    return 1 if res.failures else 0
