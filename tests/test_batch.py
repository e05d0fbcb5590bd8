"""attune batch: real and generated recordings on a real Dask LocalCluster (loopback).

One module-scoped cluster of 2 worker processes serves the in-process batches (through
``scheduler=``, as ``--scheduler`` does); the 1-worker comparison and the killed batch
start their own local clusters, the latter through the command line in a subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from attune.benchmarks.bench_batch import write_fif
from attune.benchmarks.recordings import make_recording
from attune.sessions.batch import FAILED_DIR, PARTIAL_DIR, RESULT_FILE, TABLE_CSV, run_batch
from attune.sessions.batch_inputs import (
    BatchInputError,
    ReaderOptions,
    find_inputs,
    load_rules,
)
from attune.sessions.batch_table import COLUMNS, read_csv
from attune.sessions.cli import main
from attune.sessions.config import load_config
from attune.sessions.record import MEASURED_COLUMNS
from attune.sessions.store import load_session

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[1]
CONFIG = """\
name = "batch-test"
participant = "p-000"
seed = 3
render_audio = false
lsl_outlets = false

[phases]
baseline_s = 30.0
match_s = 30.0
transition_s = 60.0
maintain_s = 30.0

[control]
command_channel = false
"""
#: Per-file options: the NeuroKit2 CSVs do not store their rate.
OPTIONS = '[[file]]\nmatch = "neurokit2/*.csv"\nfs = 100\n'
#: Real recordings copied into the dataset, with what `attune replay` needs for each.
REAL = {
    "neurokit2/bio_resting_5min_100hz.csv": ["--fs", "100"],
    "biosppy/ecg.txt": [],
    "eeg_mne/test_edf_stim_channel.edf": [],
    "eeg_mne/test_bdf_stim_channel.bdf": [],
}
BROKEN = "broken/truncated.edf"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A folder of real recordings, two generated ones and one broken file."""
    root = tmp_path_factory.mktemp("batch")
    ds = root / "ds"
    for name in REAL:
        (ds / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / name, ds / name)
    (ds / "generated").mkdir()
    for seed in (0, 1):
        rec = make_recording(100 / 3600, eeg_channels=4, eeg_fs=256.0, ecg_fs=256.0, seed=seed)
        write_fif(rec, ds / "generated" / f"gen-{seed}_raw.fif")
    (ds / "broken").mkdir()
    (ds / BROKEN).write_bytes((DATA / "eeg_mne/test_edf_stim_channel.edf").read_bytes()[:700])
    (root / "session.toml").write_text(CONFIG)
    (root / "options.toml").write_text(OPTIONS)
    return root


def _inputs(dataset):
    return find_inputs([dataset / "ds"], rules=load_rules(dataset / "options.toml"))[0]


@pytest.fixture(scope="module")
def cluster():
    import dask
    from dask.distributed import LocalCluster

    with (
        dask.config.set({"distributed.worker.daemon": False}),  # as run_batch: audio needs it
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def two_workers(dataset, cluster):
    """The dataset replayed on the 2-worker cluster."""
    cfg = load_config(dataset / "session.toml")
    return run_batch(_inputs(dataset), cfg, dataset / "out-2", scheduler=cluster.scheduler_address)


def _same_session(a: Path, b: Path) -> None:
    x, y = load_session(a), load_session(b)
    assert list(x.ticks) == list(y.ticks)
    assert x.n_ticks == y.n_ticks > 0
    for c in x.ticks:
        if c not in MEASURED_COLUMNS:
            np.testing.assert_array_equal(x.ticks[c], y.ticks[c], err_msg=c)
    for c in x.beats:
        np.testing.assert_array_equal(x.beats[c], y.beats[c], err_msg=c)
    assert x.events == y.events
    for k in ("participant", "mode", "seed", "tick_s", "status"):
        assert x.meta[k] == y.meta[k], k

    def cfg(m):
        return [ln for ln in m["config_toml"].splitlines() if not ln.startswith("output_dir")]

    assert cfg(x.meta) == cfg(y.meta)


def test_results_match_one_worker_and_attune_replay(dataset, two_workers, tmp_path, capsys):
    cfg = load_config(dataset / "session.toml")
    one = run_batch(_inputs(dataset), cfg, tmp_path / "out-1", workers=1)
    assert (one.workers, two_workers.workers) == (1, 2)
    assert one.dashboard and one.dashboard.startswith("http://127.0.0.1:")
    # the dataset tables are byte-identical, whatever the number of workers
    csv2 = two_workers.files["csv"].read_bytes()
    assert one.files["csv"].read_bytes() == csv2
    import pyarrow.parquet as pq

    assert pq.read_table(one.files["parquet"]).equals(pq.read_table(two_workers.files["parquet"]))
    rows = read_csv(two_workers.files["csv"])
    assert [r["recording"] for r in rows] == sorted(r["recording"] for r in rows)
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == len(REAL) + 2
    for r in ok:
        _same_session(tmp_path / "out-1" / r["recording"], dataset / "out-2" / r["recording"])
    # ... and every session is what `attune replay FILE` records for that file
    for name, opts in [*REAL.items(), ("generated/gen-0_raw.fif", [])]:
        path = dataset / "ds" / name
        rc = main(
            ["replay", str(path), "--config", str(dataset / "session.toml")]
            + ["--out", str(tmp_path / "replay"), "--no-report", *opts]
        )
        out = capsys.readouterr().out
        assert rc == 0, out
        folder = Path(out.strip().splitlines()[-1].split(": ", 1)[1])
        rid = name.replace("/", "__")
        _same_session(folder, dataset / "out-2" / rid)
        row = next(r for r in ok if r["recording"] == rid)
        replayed = load_session(folder)
        assert row["n_beats"] == replayed.beats["time_s"].size
        assert row["n_ticks"] == replayed.n_ticks
        hr = replayed.ticks["hr_bpm"]
        if np.isfinite(hr).any():
            assert row["mean_hr_bpm"] == pytest.approx(float(np.nanmean(hr)), rel=1e-12)
    assert next(r for r in ok if r["recording"].startswith("neurokit2"))["n_beats"] > 300


def test_broken_recording_is_listed_with_its_error(dataset, two_workers):
    res = two_workers
    assert [o.rec_id for o in res.failures] == ["broken__truncated.edf"]
    err = res.failures[0].error
    assert "truncated.edf" in err and "\n" not in err and "Traceback" not in err
    saved = json.loads((dataset / "out-2" / FAILED_DIR / "broken__truncated.edf.json").read_text())
    assert saved["row"]["error"] == err
    assert not (dataset / "out-2" / "broken__truncated.edf").exists()
    page = res.files["html"].read_text()
    assert "Failures" in page and "truncated.edf" in page and "data:image/png;base64," in page
    for o in res.outcomes:
        assert o.rec_id in page
    # every other recording went through; nothing half-written is left
    assert all(not o.failed for o in res.outcomes if o.rec_id != "broken__truncated.edf")
    assert not (dataset / "out-2" / PARTIAL_DIR).exists()
    gen = next(o.row for o in res.outcomes if o.rec_id == "generated__gen-0_raw.fif")
    assert gen["streams"] == "ecg+eeg" and gen["n_beats"] > 60
    assert np.isfinite(gen["eeg_alpha_ln"]) and np.isfinite(gen["ln_rmssd"])


def test_rerun_skips_everything(dataset, two_workers):
    out = dataset / "out-2"
    before = {
        d.name: (d / "session.db").stat().st_mtime_ns
        for d in out.iterdir()
        if d.is_dir() and not d.name.startswith(".")
    }
    csv = two_workers.files["csv"].read_bytes()
    cfg = load_config(dataset / "session.toml")
    res = run_batch(_inputs(dataset), cfg, out, workers=2)
    assert res.n_replayed == 0 and res.n_skipped == len(res.outcomes) == len(REAL) + 3
    assert res.workers == 0 and res.dashboard is None  # no cluster needed
    assert [o.rec_id for o in res.failures] == ["broken__truncated.edf"]
    after = {
        d.name: (d / "session.db").stat().st_mtime_ns
        for d in out.iterdir()
        if d.is_dir() and not d.name.startswith(".")
    }
    assert after == before
    assert res.files["csv"].read_bytes() == csv


@pytest.mark.slow
def test_changed_input_config_or_rerun_replays_again(tmp_path, cluster):
    ds = tmp_path / "ds"
    ds.mkdir()
    shutil.copy(DATA / "biosppy/ecg.txt", ds / "ecg.txt")
    shutil.copy(DATA / "eeg_mne/test_edf_stim_channel.edf", ds / "eeg.edf")
    cfg = load_config_text(tmp_path, CONFIG)
    sched = cluster.scheduler_address

    def batch(c=cfg, **kw):
        res = run_batch(find_inputs([ds])[0], c, tmp_path / "out", scheduler=sched, **kw)
        assert not res.failures
        return {o.rec_id for o in res.outcomes if not o.skipped}

    assert batch() == {"ecg.txt", "eeg.edf"}
    with open(ds / "ecg.txt", "a") as f:
        f.write("2048\n")  # one more sample: new content
    assert batch() == {"ecg.txt"}
    assert batch() == set()
    assert batch(rerun=True) == {"ecg.txt", "eeg.edf"}
    assert batch(c=cfg.model_copy(update={"seed": 4})) == {"ecg.txt", "eeg.edf"}
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == [
        "dataset.csv",
        "dataset.html",
        "dataset.parquet",
        "ecg.txt",
        "eeg.edf",
    ]
    assert load_session(tmp_path / "out" / "ecg.txt").meta["seed"] == 4


def load_config_text(folder: Path, text: str):
    (folder / "session.toml").write_text(text)
    return load_config(folder / "session.toml")


def _cli(dataset, out):
    return [sys.executable, "-m", "attune.sessions.cli", "batch", str(dataset / "ds")] + [
        "--out",
        str(out),
        "--workers",
        "2",
        "--config",
        str(dataset / "session.toml"),
        "--options",
        str(dataset / "options.toml"),
    ]


@pytest.mark.slow
def test_killed_batch_restarts_without_duplicates(dataset, two_workers, cluster, tmp_path, capsys):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        _cli(dataset, out),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # its own process group: the cluster dies with it
    )
    watchdog = threading.Timer(120, lambda: os.killpg(proc.pid, signal.SIGKILL))
    watchdog.start()
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if ": ok (" in line:
                os.killpg(proc.pid, signal.SIGKILL)  # half-way: the first recording is done
                break
    finally:
        watchdog.cancel()
        proc.wait(timeout=30)
        proc.stderr.close()
    assert any("dashboard: http://127.0.0.1:" in s for s in seen), seen
    n_inputs = len(REAL) + 3
    finished = {d.name for d in out.iterdir() if (d / RESULT_FILE).is_file()}
    assert 1 <= len(finished) < n_inputs - 1, seen
    assert not (out / TABLE_CSV).exists()
    # no half session is visible: every folder shown is a finished session
    assert {d.name for d in out.iterdir() if not d.name.startswith(".")} == finished
    stamps = {n: (out / n / "session.db").stat().st_mtime_ns for n in finished}
    failed_before = (out / FAILED_DIR / "broken__truncated.edf.json").is_file()

    # restarted (in-process, on the module's cluster through --scheduler)
    cmd = _cli(dataset, out)[4:]
    i = cmd.index("--workers")
    cmd[i : i + 2] = ["--scheduler", cluster.scheduler_address]
    assert main(["batch", *cmd]) == 1  # the broken file
    done = capsys.readouterr()
    skipped = len(finished) + failed_before
    assert f"{n_inputs - skipped} to replay, {skipped} unchanged (skipped)" in done.err
    todo = n_inputs - skipped
    assert f"[{todo}/{todo}]" in done.err and f"[{todo + 1}/" not in done.err  # without a TTY
    assert "failed 1" in done.out and "broken__truncated.edf: " in done.out
    assert {n: (out / n / "session.db").stat().st_mtime_ns for n in finished} == stamps
    rows = read_csv(out / TABLE_CSV)
    ids = [r["recording"] for r in rows]
    assert len(ids) == len(set(ids)) == n_inputs
    folders = sorted(d.name for d in out.iterdir() if not d.name.startswith(".") and d.is_dir())
    assert folders == sorted(r["recording"] for r in rows if r["status"] == "ok")
    for name in folders:
        assert load_session(out / name).meta["status"] == "ended"
    assert not (out / PARTIAL_DIR).exists()
    # the resumed batch gives the same table as the uninterrupted one
    assert (out / TABLE_CSV).read_bytes() == two_workers.files["csv"].read_bytes()


def test_bids_dataset_gives_participants(tmp_path, cluster):
    import mne
    from mne_bids import BIDSPath, write_raw_bids

    root = tmp_path / "bids"
    sources = [
        ("01", None, "eeg_mne/test_edf_stim_channel.edf"),
        ("02", "b", "eeg_mne/test_bdf_stim_channel.bdf"),
        ("03", None, "eeg_mne/test.bdf"),
    ]
    for sub, ses, name in sources:
        raw = mne.io.read_raw(DATA / name, verbose="error")
        raw.info["line_freq"] = 50
        bp = BIDSPath(subject=sub, session=ses, task="rest", datatype="eeg", root=root)
        write_raw_bids(raw, bp, verbose="error", overwrite=True)
    inputs, notes = find_inputs([root])
    assert notes == []
    assert [(i.participant, i.bids.get("session")) for i in inputs] == [
        ("sub-01", None),
        ("sub-02", "b"),
        ("sub-03", None),
    ]
    cfg = load_config_text(tmp_path, CONFIG)
    res = run_batch(inputs, cfg, tmp_path / "out", scheduler=cluster.scheduler_address)
    assert not res.failures, [o.error for o in res.failures]
    listed = (root / "participants.tsv").read_text().split()
    for o in res.outcomes:
        assert o.row["participant"] in listed and o.row["task"] == "rest"
        assert load_session(tmp_path / "out" / o.rec_id).meta["participant"] == o.row["participant"]
    assert [o.rec_id for o in res.outcomes] == [
        "sub-01_task-rest_eeg",
        "sub-02_ses-b_task-rest_eeg",
        "sub-03_task-rest_eeg",
    ]
    assert res.outcomes[1].row["bids_session"] == "b"


def test_inputs_from_files_folders_and_globs(tmp_path):
    a = tmp_path / "a"
    (a / "x").mkdir(parents=True)
    (a / ".hidden").mkdir()
    for p in ("x/r1.csv", "r2.edf", ".hidden/r3.csv", "README.txt", "notes.md"):
        (a / p).write_text("1\n")
    b = tmp_path / "b"
    b.mkdir()
    (b / "r2.edf").write_text("2\n")
    (a / "out").mkdir()
    (a / "out" / "dataset.csv").write_text("x\n")
    rules = load_rules_text(
        tmp_path, '[[file]]\nmatch = "a/x/*.csv"\nfs = 250\nparticipant = "p7"\n'
    )
    found, _ = find_inputs(
        [a, str(b / "*.edf"), a / "r2.edf"],
        options=ReaderOptions(kind="ecg"),
        rules=rules,
        exclude=a / "out",
    )
    ids = [i.rec_id for i in found]
    assert len(ids) == 3 and "x__r1.csv" in ids  # a/r2.edf counted once; out/ left out
    r2 = sorted(i for i in ids if i.startswith("r2.edf-"))
    assert len(r2) == 2  # same name in two places: told apart by a hash of the path
    r1 = next(i for i in found if i.rec_id == "x__r1.csv")
    assert (r1.options.fs, r1.options.kind, r1.participant) == (250.0, "ecg", "p7")
    other = next(i for i in found if i.rec_id != "x__r1.csv")
    assert (other.options.fs, other.participant) == (None, None)
    with pytest.raises(BatchInputError, match="nope: no such file or folder"):
        find_inputs([tmp_path / "nope"])
    with pytest.raises(BatchInputError, match=r"\*\.xdf: no recordings match"):
        find_inputs([str(tmp_path / "*.xdf")])
    with pytest.raises(BatchInputError, match=r"#1, fs: Input should be greater than 0"):
        load_rules_text(tmp_path, '[[file]]\nmatch = "*"\nfs = -1\n')


def load_rules_text(folder: Path, text: str):
    (folder / "options.toml").write_text(text)
    return load_rules(folder / "options.toml")


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["batch", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == f"attune batch: {tmp_path / 'missing'}: no such file or folder\n"
    (tmp_path / "r.csv").write_text("1\n")
    (tmp_path / "opt.toml").write_text("[[file]]\nmatch = 1\n")
    rc = main(["batch", str(tmp_path / "r.csv"), "--options", str(tmp_path / "opt.toml")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("attune batch: ") and "opt.toml: [[file]] #1, match" in err
    assert err.count("\n") == 1
    with pytest.raises(SystemExit) as e:  # refused by the shared CLI number type
        main(["batch", str(tmp_path / "r.csv"), "--workers", "0"])
    assert e.value.code == 2
    assert capsys.readouterr().err == "attune batch: argument --workers: must be >= 1, got 0\n"


def test_table_columns_are_documented():
    from attune.sessions.batch_table import COLUMN_HELP

    assert list(COLUMN_HELP) == list(COLUMNS)
    assert all(COLUMN_HELP.values())


@pytest.mark.slow
def test_batch_benchmark_runs_side_by_side():
    from attune.benchmarks.bench_batch import bench_batch, format_result

    r = bench_batch(hours=60 / 3600, recordings=2, eeg_channels=2)
    assert [run["workers"] for run in r["runs"]] == [1, 2]
    assert all(run["failed"] == 0 and run["speed_x"] > 0 for run in r["runs"])
    assert r["same_table"] and r["speedup"] > 0
    assert "speed-up" in format_result(r)


def test_batch_command_parses_without_heavy_imports():
    code = (
        "import sys; from attune.sessions.cli import build_parser; "
        "a = build_parser().parse_args(['batch', 'x', '--workers', '2', '--rerun']); "
        "assert a.func.__module__.endswith('commands.batch') and a.workers == 2 and a.rerun; "
        "bad = [m for m in ('numpy', 'dask', 'distributed', 'pyarrow', 'mne_bids', 'matplotlib')"
        " if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_audio_is_rendered_on_a_worker(tmp_path, cluster):
    from attune.synthesis.analysis import read_wav, rms_dbfs_windows

    cfg = load_config_text(tmp_path, CONFIG.replace("baseline_s = 30.0", "baseline_s = 3.0"))
    cfg = cfg.model_copy(update={"render_audio": True})
    inputs = find_inputs([DATA / "biosppy/ecg.txt"])[0]
    res = run_batch(inputs, cfg, tmp_path / "out", scheduler=cluster.scheduler_address)
    assert not res.failures, [o.error for o in res.failures]
    x, sr = read_wav(tmp_path / "out" / "ecg.txt" / "session.wav")
    assert x.shape[-1] / sr == pytest.approx(res.outcomes[0].row["duration_s"], abs=0.5)
    level = rms_dbfs_windows(x, sr, window_s=1.0)
    assert level[:2].max() < -80 and level[-3:].min() > -50  # silent baseline, then music


@pytest.mark.slow
def test_progress_bar_on_a_terminal(dataset, two_workers):
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        _cli(dataset, dataset / "out-2"), stderr=slave, stdout=subprocess.PIPE, cwd=ROOT
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    err = b"".join(chunks).decode(errors="replace")
    n = len(REAL) + 3
    assert "batch: 100%" in err and f"{n}/{n}" in err, err  # tqdm's bar, redrawn in place
    assert "[1/" not in err  # no per-recording lines on a terminal
    assert proc.stdout.read().decode().startswith(f"Batch of {n} recordings")
