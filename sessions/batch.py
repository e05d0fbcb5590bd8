"""Replay whole datasets: one replay per recording, in parallel on Dask, resumable.

:func:`run_batch` replays every :class:`~attune.sessions.batch_inputs.BatchInput`
through the same engine and session store as ``attune replay``
(:func:`attune.sessions.replay_run.run_replay`), one Dask task per recording, on a
``LocalCluster`` of worker processes (one thread each) or an existing cluster. Each
replay is deterministic (same file, options and configuration, same record), so the
results do not depend on the number of workers.

The output folder ``OUT`` holds::

    OUT/<recording id>/       one finished session folder per recording
        session.db, config.toml, session.mid   (as attune replay writes them)
        batch.json            the recording's cache key and its dataset-table row
    OUT/dataset.csv           the dataset table (batch_table), also as
    OUT/dataset.parquet
    OUT/dataset.html          distributions and per-recording QC flags (batch_page)
    OUT/.failed/<id>.json     recordings that failed, with their one-line error
    OUT/.partial/             replays in progress (removed when a batch starts)

Resuming: the cache key of a recording is a SHA-256 of its content, its reader options,
the configuration and the Attune version (:func:`cache_key`). A recording whose key
matches its finished folder (or its recorded failure) is skipped; ``rerun=True``
replays everything. Writes are atomic: a replay writes under ``OUT/.partial`` and its
folder is renamed to ``OUT/<id>`` once complete, so a killed batch leaves finished
folders and no half session. One batch at a time writes to ``OUT`` (a lock file).

A failure is isolated: the exception is caught on the worker and recorded as one line
(:func:`one_line_error`); a worker that dies is reported likewise; the batch goes on.
With an existing cluster (``scheduler``) the workers must see ``OUT`` and the
recordings at the same paths (a shared file system) and have Attune installed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from attune.sessions.batch_inputs import BatchInput
from attune.sessions.config import SessionConfig

if TYPE_CHECKING:
    from dask.distributed import Client

#: Replays in progress, below the output folder (hidden from ``attune sessions``).
PARTIAL_DIR = ".partial"
#: Failure records, below the output folder.
FAILED_DIR = ".failed"
#: The cache key and dataset row inside a finished session folder.
RESULT_FILE = "batch.json"
#: Held while a batch writes to the output folder.
LOCK_FILE = ".batch.lock"
#: Dataset outputs, in the output folder.
TABLE_CSV, TABLE_PARQUET, PAGE_HTML = "dataset.csv", "dataset.parquet", "dataset.html"


class BatchError(Exception):
    """The batch cannot run (output folder locked, no cluster ...): one line."""


def attune_version() -> str:
    """Return the installed Attune version (part of every cache key)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("attune")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "unknown"


def default_workers() -> int:
    """Worker processes of the default local cluster: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def batch_config(cfg: SessionConfig) -> SessionConfig:
    """Return the configuration as a batch replays it: nothing opened for a person.

    No therapist command channel (nobody steers an offline replay, and it would open a
    port per recording) and no LSL outlets; everything else, including ``render_audio``,
    is the caller's.
    """
    return cfg.model_copy(
        update={
            "control": cfg.control.model_copy(update={"command_channel": False}),
            "lsl_outlets": False,
        }
    )


def recording_config(cfg: SessionConfig, inp: BatchInput) -> SessionConfig:
    """Return the configuration of one recording: with its participant, if known."""
    if inp.participant is None or inp.participant == cfg.participant:
        return cfg
    return cfg.model_copy(update={"participant": inp.participant})


def cache_key(inp: BatchInput, cfg: SessionConfig, content_hash: str, version: str) -> str:
    """SHA-256 (hex) of what determines a recording's result.

    Parameters
    ----------
    inp : BatchInput
        The recording (its reader options count).
    cfg : SessionConfig
        Its configuration (:func:`recording_config`); ``output_dir`` does not count.
    content_hash : str
        :meth:`BatchInput.content_hash`.
    version : str
        Attune version.
    """
    from attune.sessions.config import dump_config

    payload = {
        "content": content_hash,
        "reader": inp.options.as_dict(),
        "config": dump_config(cfg.model_copy(update={"output_dir": Path(".")})),
        "attune": version,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def one_line_error(e: BaseException, path: Path) -> str:
    """One line describing ``e``, naming ``path`` if the message does not already."""
    text = " ".join(str(e).split()) or type(e).__name__
    from attune.sensors.types import SensorError
    from attune.sessions.config import ConfigError

    if not isinstance(e, SensorError | ConfigError | ValueError):
        text = f"{type(e).__name__}: {text}"
    if str(path) not in text and path.name not in text:
        text = f"{path}: {text}"
    return text


def _ident(inp: BatchInput, participant: str, key: str, version: str) -> dict[str, str]:
    return {
        "recording": inp.rec_id,
        "participant": participant,
        "bids_session": inp.bids.get("session", ""),
        "task": inp.bids.get("task", ""),
        "run": inp.bids.get("run", ""),
        "file": str(inp.path),
        "key": key,
        "attune_version": version,
    }


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True, allow_nan=True)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _rename_session_id(folder: Path, new_id: str) -> None:
    """Make the store's ``sessions.id`` the folder's final name."""
    from attune.sessions.store import open_store

    con = open_store(folder)
    try:
        with con:
            con.execute("UPDATE sessions SET id = ?", (new_id,))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()


def _install(new: Path, final: Path, scratch: Path) -> None:
    """Rename the finished folder ``new`` to ``final``, replacing an older one atomically.

    An older ``final`` is first renamed into ``scratch`` (so ``final`` is, at every
    moment, either absent or a complete folder), then removed.
    """
    if final.exists():
        old = scratch / f"old-{uuid.uuid4().hex[:8]}"
        os.rename(final, old)
        os.rename(new, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(new, final)


def _remove_atomically(folder: Path, scratch: Path) -> None:
    """Remove a finished folder atomically (rename away first, then delete)."""
    scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
    old = scratch / f"old-{uuid.uuid4().hex[:8]}"
    os.rename(folder, old)
    shutil.rmtree(old, ignore_errors=True)


def replay_one(inp: BatchInput, cfg: SessionConfig, out: str, key: str) -> dict[str, object]:
    """Replay one recording into ``out/<id>`` (runs on a Dask worker).

    Parameters
    ----------
    inp : BatchInput
        The recording.
    cfg : SessionConfig
        The batch configuration (:func:`batch_config`); the participant is set here.
    out : str
        The output folder (absolute; shared with the client).
    key : str
        The recording's cache key (:func:`cache_key`), stored with the result.

    Returns
    -------
    dict
        ``row`` (the dataset-table row), ``wall_s``, ``cpu_s`` (the worker process's CPU
        time) and ``signal_s`` (seconds replayed).
        A failure is returned, not raised: ``row["status"] == "failed"`` with the error.
    """
    from attune.sensors.readers import read_recording
    from attune.sessions.batch_table import failed_row, session_row
    from attune.sessions.replay_run import choose_streams, replay_recording
    from attune.sessions.store import load_session

    wall0, cpu0 = time.perf_counter(), time.process_time()
    out_dir = Path(out)
    version = attune_version()
    rcfg = recording_config(cfg, inp)
    ident = _ident(inp, rcfg.participant, key, version)
    scratch = out_dir / PARTIAL_DIR
    work = scratch / f"{inp.rec_id}.{uuid.uuid4().hex[:8]}"
    failed_file = out_dir / FAILED_DIR / f"{inp.rec_id}.json"
    try:
        scratch.mkdir(exist_ok=True, mode=0o700)
        work.mkdir(mode=0o700)
        o = inp.options
        rec = read_recording(
            inp.path,
            fs=o.fs,
            kind=o.kind,
            columns=list(o.columns) or None,
            time_column=o.time_column,
        )
        chosen = choose_streams(rec, names=o.streams, channels=o.channels)
        kinds = list(dict.fromkeys(st.info.kind for st in chosen))
        s = replay_recording(
            rec,
            rcfg.model_copy(update={"output_dir": work}),
            names=o.streams,
            channels=o.channels,
        )
        del rec, chosen
        if s.interrupted:
            raise RuntimeError("replay interrupted before the end of the recording")
        row = session_row(
            load_session(s.folder),
            ident,
            kinds=kinds,
            n_warnings=len(s.warnings),
            baseline_s=rcfg.phases.baseline_s,
        )
        _rename_session_id(s.folder, inp.rec_id)
        _write_json(
            s.folder / RESULT_FILE,
            {"key": key, "row": row, "streams": list(s.streams), "warnings": list(s.warnings)},
        )
        _install(s.folder, out_dir / inp.rec_id, scratch)
        failed_file.unlink(missing_ok=True)
        signal_s = s.duration_s
    except Exception as e:  # isolated: recorded as one line, the batch goes on
        row = failed_row(ident, one_line_error(e, inp.path))
        failed_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_json(failed_file, {"key": key, "row": row})
        stale = out_dir / inp.rec_id  # a result of other inputs no longer stands
        if (stale / RESULT_FILE).is_file():
            _remove_atomically(stale, scratch)
        signal_s = 0.0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "row": row,
        "wall_s": time.perf_counter() - wall0,
        "cpu_s": time.process_time() - cpu0,
        "signal_s": signal_s,
    }


@dataclass
class Outcome:
    """What became of one recording in this batch run.

    Attributes
    ----------
    rec_id : str
        Recording id.
    row : dict
        Its dataset-table row.
    skipped : bool
        True if an earlier run's result (or failure) with the same key was kept.
    wall_s : float
        Wall time of its replay, s (0 if skipped).
    cpu_s : float
        CPU time of its replay, s (0 if skipped).
    signal_s : float
        Session time replayed, s (0 if skipped or failed).
    """

    rec_id: str
    row: dict[str, object]
    skipped: bool = False
    wall_s: float = 0.0
    cpu_s: float = 0.0
    signal_s: float = 0.0

    @property
    def failed(self) -> bool:
        """True if the recording could not be replayed."""
        return self.row.get("status") != "ok"

    @property
    def error(self) -> str:
        """The one-line error of a failure ('' otherwise)."""
        return str(self.row.get("error", ""))


@dataclass
class BatchResult:
    """A finished batch.

    Attributes
    ----------
    out : Path
        The output folder.
    outcomes : list of Outcome
        One per recording, sorted by recording id.
    wall_s : float
        Wall time of the whole batch, s.
    workers : int
        Dask workers used (0 if nothing had to be replayed).
    dashboard : str or None
        The Dask dashboard link, if a cluster was used.
    files : dict of str to Path
        ``csv``, ``parquet``, ``html``.
    notes : list of str
        Conditions found while collecting the inputs.
    """

    out: Path
    outcomes: list[Outcome]
    wall_s: float
    workers: int
    dashboard: str | None
    files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[dict[str, object]]:
        """Dataset-table rows, sorted by recording id."""
        return [o.row for o in self.outcomes]

    @property
    def failures(self) -> list[Outcome]:
        """Recordings that failed (now or, unchanged, in an earlier run)."""
        return [o for o in self.outcomes if o.failed]

    @property
    def n_replayed(self) -> int:
        """Recordings replayed in this run (successfully or not)."""
        return sum(1 for o in self.outcomes if not o.skipped)

    @property
    def n_skipped(self) -> int:
        """Recordings skipped because their inputs were unchanged."""
        return sum(1 for o in self.outcomes if o.skipped)

    @property
    def signal_s(self) -> float:
        """Session time replayed in this run, s."""
        return sum(o.signal_s for o in self.outcomes)


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    fd = os.open(out / LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchError(f"{out}: another batch is writing to this folder") from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """Yield a Dask client of the cluster at ``scheduler``, or of a new local cluster.

    The local cluster runs ``workers`` (default :func:`default_workers`) worker
    processes of one thread each, listening on 127.0.0.1 only, with its dashboard on a
    free port.
    """
    import logging

    from dask.distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise BatchError(f"no Dask scheduler at {scheduler} ({e})") from None
        try:
            yield client
        finally:
            client.close()
        return
    import dask

    n = default_workers() if workers is None else workers
    # Non-daemonic worker processes: a replay with audio starts the synth's own process.
    # They still exit with this process (distributed watches the parent).
    with dask.config.set({"distributed.worker.daemon": False}):
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=logging.ERROR,
        )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _cached(inp: BatchInput, out: Path, key: str) -> dict[str, object] | None:
    """Return the row of an earlier run with the same key (finished or failed), if any."""
    done = _read_json(out / inp.rec_id / RESULT_FILE)
    if done is not None and done.get("key") == key and isinstance(done.get("row"), dict):
        return done["row"]
    failed = _read_json(out / FAILED_DIR / f"{inp.rec_id}.json")
    if failed is not None and failed.get("key") == key and isinstance(failed.get("row"), dict):
        return failed["row"]
    return None


def run_batch(
    inputs: Sequence[BatchInput],
    cfg: SessionConfig,
    out: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    rerun: bool = False,
    on_plan: Callable[[int, int], None] | None = None,
    on_cluster: Callable[[str | None, int], None] | None = None,
    on_done: Callable[[Outcome], None] | None = None,
    notes: Sequence[str] = (),
) -> BatchResult:
    """Replay every recording not done yet, in parallel, and write the dataset outputs.

    Parameters
    ----------
    inputs : sequence of BatchInput
        The recordings (:func:`attune.sessions.batch_inputs.find_inputs`).
    cfg : SessionConfig
        The configuration of every replay (passed through :func:`batch_config`).
    out : Path
        The output folder (created 0700).
    workers : int, optional
        Worker processes of the local cluster (default: every core).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) instead.
    rerun : bool
        Replay every recording, even unchanged ones.
    on_plan : callable, optional
        ``on_plan(n_total, n_to_replay)`` once the cache was checked.
    on_cluster : callable, optional
        ``on_cluster(dashboard_link, n_workers)`` once the cluster is up.
    on_done : callable, optional
        ``on_done(outcome)`` per recording, skipped ones first, then as replays finish.
    notes : sequence of str
        Conditions found while collecting the inputs (kept in the result).

    Returns
    -------
    BatchResult
    """
    if workers is not None and workers < 1:
        raise BatchError(f"--workers must be >= 1, got {workers}")
    if workers is not None and scheduler is not None:
        raise BatchError("give --workers or --scheduler, not both")
    wall0 = time.perf_counter()
    out = Path(out).absolute()
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    cfg = batch_config(cfg)
    version = attune_version()
    with _locked(out):
        shutil.rmtree(out / PARTIAL_DIR, ignore_errors=True)  # left by a killed batch
        outcomes: dict[str, Outcome] = {}
        todo: list[tuple[BatchInput, str]] = []
        for inp in inputs:
            try:
                content = inp.content_hash()
            except OSError as e:
                from attune.sessions.batch_table import failed_row

                row = failed_row(
                    _ident(inp, recording_config(cfg, inp).participant, "", version),
                    f"{inp.path}: cannot read ({e.strerror})",
                )
                outcomes[inp.rec_id] = Outcome(inp.rec_id, row)
                continue
            key = cache_key(inp, recording_config(cfg, inp), content, version)
            cached = None if rerun else _cached(inp, out, key)
            if cached is not None:
                outcomes[inp.rec_id] = Outcome(inp.rec_id, cached, skipped=True)
            else:
                todo.append((inp, key))
        if on_plan is not None:
            on_plan(len(inputs), len(todo))
        if on_done is not None:
            for o in outcomes.values():
                on_done(o)
        dashboard, n_workers = None, 0
        if todo:
            dashboard, n_workers = _run_on_dask(
                todo, cfg, out, workers, scheduler, outcomes, on_cluster, on_done
            )
        with contextlib.suppress(OSError):
            (out / PARTIAL_DIR).rmdir()  # empty once every replay has moved its folder
        ordered = [outcomes[i.rec_id] for i in inputs if i.rec_id in outcomes]
        result = BatchResult(out, ordered, 0.0, n_workers, dashboard, notes=list(notes))
        result.files = write_outputs(result)
    result.wall_s = time.perf_counter() - wall0
    return result


def _run_on_dask(
    todo: list[tuple[BatchInput, str]],
    cfg: SessionConfig,
    out: Path,
    workers: int | None,
    scheduler: str | None,
    outcomes: dict[str, Outcome],
    on_cluster: Callable[[str | None, int], None] | None,
    on_done: Callable[[Outcome], None] | None,
) -> tuple[str | None, int]:
    from dask.distributed import as_completed

    from attune.sessions.batch_table import failed_row

    # Largest recordings first: the batch ends sooner when the long ones do not come last.
    order = sorted(todo, key=lambda t: (-t[0].path.stat().st_size, t[0].rec_id))
    with dask_client(scheduler, workers) as client:
        n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
        link = getattr(client, "dashboard_link", None)
        if on_cluster is not None:
            on_cluster(link, n_workers)
        futures = {}
        # Task keys name the output folder too: two batches on one cluster never share a task.
        where = hashlib.sha256(str(out).encode()).hexdigest()[:8]
        for rank, (inp, key) in enumerate(order):
            fut = client.submit(
                replay_one,
                inp,
                cfg,
                str(out),
                key,
                key=f"attune-replay-{inp.rec_id}-{key[:12]}-{where}",
                priority=len(order) - rank,
                retries=0,
            )
            futures[fut.key] = (fut, inp, key)
        try:
            for fut in as_completed([f for f, _, _ in futures.values()]):
                _, inp, key = futures[fut.key]
                try:
                    res = fut.result()
                    o = Outcome(
                        inp.rec_id,
                        res["row"],
                        wall_s=res["wall_s"],
                        cpu_s=res["cpu_s"],
                        signal_s=res["signal_s"],
                    )
                except Exception as e:  # the worker died (KilledWorker) or was lost
                    ident = _ident(
                        inp, recording_config(cfg, inp).participant, key, attune_version()
                    )
                    msg = f"{inp.path}: the worker replaying it failed ({type(e).__name__}: {e})"
                    o = Outcome(inp.rec_id, failed_row(ident, " ".join(msg.split())))
                outcomes[inp.rec_id] = o
                if on_done is not None:
                    on_done(o)
        except BaseException:
            client.cancel([f for f, _, _ in futures.values()])
            raise
    return link, n_workers


def write_outputs(result: BatchResult) -> dict[str, Path]:
    """Write the dataset table (CSV, Parquet) and page (HTML) of a batch into its folder."""
    from attune.sessions.batch_page import write_page
    from attune.sessions.batch_table import write_csv, write_parquet

    rows = result.rows
    return {
        "csv": write_csv(rows, result.out / TABLE_CSV),
        "parquet": write_parquet(rows, result.out / TABLE_PARQUET),
        "html": write_page(result, result.out / PAGE_HTML),
    }
