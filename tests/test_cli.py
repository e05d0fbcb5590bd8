"""The ``attune`` command line: one module per command, --version, light --help, flags."""

import importlib
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest

from attune.sessions.cli import build_parser, main
from attune.sessions.commands import COMMANDS
from attune.sessions.config import SessionConfig, load_config
from attune.sessions.simulated_run import BASELINE_SHARE_MAX, fit_protocol
from attune.sessions.store import load_session

DATA = Path(__file__).parent / "data"
#: Commands that run a session: they share --audio/--no-audio, --duration-s, --report.
SESSION_COMMANDS = {"simulate": [], "demo": [], "run": ["x.toml"], "replay": ["x.csv"]}
#: Modules `attune --help` (and parsing any command line) must not load.
HEAVY = ("numpy", "scipy", "mne", "neurokit2", "pyo", "matplotlib", "pylsl", "attune.engine.loop")


def test_every_command_is_one_module():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = []
    for mod_name in COMMANDS:
        mod = importlib.import_module(f"attune.sessions.commands.{mod_name}")
        assert callable(mod.add_parser) and callable(mod.run), mod_name
        assert mod.NAME.replace("-", "_") == mod_name
        names.append(mod.NAME)
    assert list(sub.choices) == names
    for name in names:  # each parses to its own module's run
        argv = {
            "export": ["s", "ticks"],
            "report": ["s"],
            "annotate": ["s", "t"],
            "console": ["s"],
        }.get(name, [])
        argv = {"render-examples": ["d"], "control": ["d", "pause"], "batch": ["d"]}.get(name, argv)
        argv = {"client": ["list"], "progress": ["C"], "erase": ["C"]}.get(name, argv)
        argv = {"export-client": ["C", "--out", "d"]}.get(name, argv)
        sam = ["s", "--when", "post", "--arousal", "3", "--valence", "5"]
        argv = {"selfreport": sam, "feeling": ["s", "calm"]}.get(name, argv)
        args = parser.parse_args([name, *SESSION_COMMANDS.get(name, argv)])
        assert args.command == name
        assert args.func.__module__ == f"attune.sessions.commands.{name.replace('-', '_')}"


def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"attune {version('attune')}"


def test_help_and_parsing_load_nothing_heavy():
    code = (
        "import sys, contextlib, io\n"
        "from attune.sessions.cli import build_parser, main\n"
        "p = build_parser()\n"
        "for name in p._actions[-1].choices:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main([name, '--help'])\n"
        "        except SystemExit:\n"
        "            pass\n"
        "p.parse_args(['demo', '--no-audio', '--duration-s', '60'])\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_version_subprocess_is_one_line():
    out = subprocess.run(
        [sys.executable, "-m", "attune.sessions.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.startswith("attune ") and out.stdout.count("\n") == 1


@pytest.mark.parametrize("name", sorted(SESSION_COMMANDS))
def test_session_commands_share_flags(name):
    p = build_parser()
    pos = SESSION_COMMANDS[name]
    a = p.parse_args([name, *pos, "--no-audio", "--duration-s", "60", "--no-report"])
    assert a.audio is False and a.duration_s == 60.0 and a.report is False
    a = p.parse_args([name, *pos, "--audio"])
    assert a.audio is True and a.duration_s is None and a.report is True
    a = p.parse_args([name, *pos])
    # default: the session file decides; replay renders no audio unless asked
    assert a.audio is (False if name == "replay" else None)
    helps = {act.dest: act.help for act in p._subparsers._group_actions[0].choices[name]._actions}
    assert "seconds" in helps["duration_s"] or "S seconds" in helps["duration_s"]


def test_fit_protocol_keeps_the_shape():
    cfg = SessionConfig()
    ph = cfg.phases
    for d in (30.0, 60.0, 300.0, 1200.0):
        f = fit_protocol(cfg, d).phases
        assert f.total_s == pytest.approx(d)
        assert f.baseline_s == pytest.approx(min(ph.baseline_s, BASELINE_SHARE_MAX * d))
        k = f.transition_s / ph.transition_s
        assert f.match_s / ph.match_s == pytest.approx(k)
        assert f.maintain_s / ph.maintain_s == pytest.approx(k)
    with pytest.raises(ValueError, match="--duration-s must be > 0"):
        fit_protocol(cfg, 0.0)


def test_demo_of_60_s(tmp_path, capsys):
    """`attune demo --no-audio --duration-s 60`: a whole protocol in one minute."""
    rc = main(["demo", "--no-audio", "--no-report", "--duration-s", "60", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert out.startswith("Session of 1.0 min")
    folder = Path(out.strip().splitlines()[-1].split(": ", 1)[1])
    data = load_session(folder)
    t = data.ticks["t_s"]
    assert t.size == 240 and t[-1] == pytest.approx(59.75)
    assert list(dict.fromkeys(data.ticks["phase"])) == [
        "baseline",
        "match",
        "transition",
        "maintain",
    ]
    assert (data.ticks["phase"] == "baseline").sum() == 60  # 15 s of the 60
    kept = load_config(folder / "config.toml")
    assert kept.phases.total_s == pytest.approx(60.0) and kept.render_audio is False
    assert not (folder / "session.wav").exists() and not (folder / "report.html").exists()
    # the music played: faded in after the baseline
    assert data.ticks["fade"][0] == 0.0 and data.ticks["fade"].max() > 0.5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--duration-s", "0"], "attune demo: argument --duration-s: must be > 0, got 0\n"),
        (
            ["replay", "x.csv", "--duration-s", "-1"],
            "attune replay: argument --duration-s: must be >",
        ),
        (["run", "x.toml", "--resolve-timeout-s", "0"], "attune run: argument --resolve-timeout-s"),
        (
            ["demo", "--duration-s", "1e12"],
            "attune demo: argument --duration-s: must be at most 86400",
        ),
        (
            ["run", "x.toml", "--duration-s", "inf"],
            "attune run: argument --duration-s: must be a finite",
        ),
        (
            ["simulate", "--duration-s", "nan"],
            "attune simulate: argument --duration-s: must be a fin",
        ),
    ],
)
def test_bad_durations_are_one_line(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main([*argv, "--out", str(tmp_path)])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_replay_duration_limits_the_span(tmp_path, capsys):
    """--duration-s 60 replays the first minute: the same features as the whole replay's first.

    The protocol is fitted to the replayed span (a shorter recording gets a shorter
    baseline), so phases and estimates may differ; the signal features must not."""
    path = DATA / "neurokit2" / "bio_resting_5min_100hz.csv"
    outs = []
    for extra in ([], ["--duration-s", "60"]):
        rc = main(
            ["replay", str(path), "--fs", "100", "--no-report", "--out", str(tmp_path), *extra]
        )
        out = capsys.readouterr().out
        assert rc == 0, out
        outs.append(out)
        folder = Path(out.strip().splitlines()[-1].split(": ", 1)[1])
        outs.append(load_session(folder).ticks)
    full, short = outs[1], outs[3]
    assert "replayed the first 60 s only (--duration-s)" in outs[2]
    n = short["t_s"].size
    assert n == int(np.ceil(60.0 / 0.25)) + 1 and full["t_s"].size > 4 * n
    cols = list(full)
    for col in cols[: cols.index("arousal")]:
        if col == "phase":
            continue
        a, b = full[col][: n - 8], short[col][: n - 8]  # the last 2 s see the cut
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b, err_msg=col)
        else:
            assert list(a) == list(b), col


def test_python_rtmidi_is_declared():
    from importlib.metadata import requires

    assert any(r.replace("_", "-").startswith("python-rtmidi") for r in requires("attune"))


@pytest.mark.parametrize("backend", ["installed", "missing"])
def test_no_midi_port_is_one_line(backend, tmp_path):
    """A configured MIDI port that cannot be opened (no backend, no ALSA sequencer, no such
    port) stops a real-time session with one line on stderr, and nothing else."""
    cfg = tmp_path / "midi.toml"
    cfg.write_text('[midi]\nport = "NoSuchSynth"\n')
    block = "sys.modules['rtmidi'] = None\n" if backend == "missing" else ""
    code = (
        f"import sys\n{block}from attune.sessions.cli import main\n"
        f"sys.exit(main(['simulate', '--realtime', '--config', {str(cfg)!r}, '--out', "
        f"{str(tmp_path / 'out')!r}]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("attune: midi.port: no MIDI output port matches 'NoSuchSynth'")
    if backend == "missing":
        assert "MIDI ports need python-rtmidi" in out.stderr
    assert not (tmp_path / "out").exists()


def test_no_audio_makes_a_silent_session():
    from attune.sessions.commands._common import audio_changes

    cfg = load_config(Path(__file__).parents[1] / "sessions" / "examples" / "live.toml")
    assert cfg.audio.device == "default" and cfg.render_audio
    silent = cfg.model_copy(update=audio_changes(cfg, False))
    assert silent.audio.device is None and not silent.render_audio
    assert cfg.model_copy(update=audio_changes(cfg, None)) == cfg
    assert cfg.model_copy(update=audio_changes(silent, True)).render_audio


def test_streams_kinds_match_the_sensors():
    from attune.sensors.types import STREAM_KINDS
    from attune.sessions.commands.streams import KINDS

    assert set(KINDS) == set(STREAM_KINDS)


def test_every_time_option_says_seconds_in_its_name():
    """Options taking seconds are spelled ``--...-s`` first (older names stay as aliases)."""
    sub = build_parser()._subparsers._group_actions[0]
    seen = 0
    for name, parser in sub.choices.items():
        for act in parser._actions:
            if getattr(act.type, "integer", True) is False and act.help and "second" in act.help:
                assert act.option_strings[0].endswith("-s"), (name, act.option_strings)
                seen += 1
    assert seen >= 8  # duration (x5), --t-s, --wait-s, --timeout-s
