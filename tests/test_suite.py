"""The benchmark suite runs end to end at tiny sizes and writes well-formed output.

No timed assertions: only structure (every stage present, figures finite and positive).
"""

import json
import math
import subprocess
import sys

import pytest

from attune.benchmarks.suite import SMOKE, run_and_report, to_markdown


@pytest.mark.slow  # `make test` runs `attune bench --smoke` from the built wheel
def test_suite_writes_json_and_markdown(tmp_path, capsys):
    assert run_and_report(quick=True, out=tmp_path, params=SMOKE) == 0
    res = json.loads((tmp_path / "bench.json").read_text())
    md = (tmp_path / "bench.md").read_text()
    assert md in capsys.readouterr().out
    assert set(res) >= {"machine", "params", "ticks", "loopback", "replay", "render", "startup"}
    assert {"cpu", "cores", "python", "numpy"} <= set(res["machine"])
    (tick,) = res["ticks"]
    for side in ("engine", "naive"):
        for kind in ("wall_ms", "cpu_ms"):
            s = tick[side][kind]
            assert s["n"] > 0 and s["median"] > 0 and s["p99"] >= s["median"]
    assert tick["speedup_wall"]["median"] > 0
    lb = res["loopback"]
    assert lb["latency_ms"]["n"] > 0 and math.isfinite(lb["latency_ms"]["p99"])
    (rp,) = res["replay"]
    assert rp["speed_x"] > 0 and rp["n_ticks"] > 0
    assert res["render"]["error"] is None and res["render"]["speed_x"] > 0
    assert res["startup"]["best_ms"] > 0
    assert res["memory"]["peak_rss_mb"]
    # one table row per configuration, one per replay, and the fixed rows
    assert "| 4 ch 256 Hz EEG + 250 Hz ECG |" in md
    assert md.count("| replay ") == 1
    for row in ("LSL loopback", "offline pyo render", "`attune --help`", "peak RSS"):
        assert row in md
    assert to_markdown(res) == md


def test_bench_is_a_cli_command_and_help_stays_light():
    code = (
        "import sys; from attune.sessions.cli import build_parser; "
        "a = build_parser().parse_args(['bench', '--quick']); "
        "assert a.quick and a.command == 'bench' and a.func.__module__.endswith('commands.bench'); "
        "bad = [m for m in ('numpy', 'scipy', 'engine', 'benchmarks') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
