"""Every example session file validates, says how to run it, and runs (shortened).

Examples are found by glob, so a new file in ``sessions/examples/`` is covered without
touching this test. Each file's header holds a ``# Run: attune ...`` line; the test
parses it with the real ``attune`` parser and runs the example the way that command
would (simulated listener, or replay of the named recording), shortened.
"""

import shlex
from pathlib import Path

import numpy as np
import pytest

from attune.sessions.cli import build_parser
from attune.sessions.config import SessionConfig, load_config
from attune.sessions.store import load_session

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted((ROOT / "sessions" / "examples").glob("*.toml"))
PHASES = ("baseline_s", "match_s", "transition_s", "maintain_s", "recovery_s")


def run_command(path: Path):
    """Parse the example's ``# Run: attune ...`` header line with the CLI parser."""
    lines = [ln for ln in path.read_text().splitlines() if ln.startswith("# Run: attune ")]
    assert len(lines) == 1, f"{path.name}: needs exactly one '# Run: attune ...' header line"
    argv = shlex.split(lines[0].removeprefix("# Run: attune "))
    return build_parser().parse_args(argv)


def shortened(cfg: SessionConfig, tmp_path: Path, *, factor: float = 10.0) -> SessionConfig:
    """Every phase a ``factor``-th as long (at least 10 s), silence shortened, no audio."""
    ph = cfg.phases
    short = {k: max(getattr(ph, k) / factor, 10.0) for k in PHASES if getattr(ph, k) > 0}
    short["recovery_silence_s"] = min(ph.recovery_silence_s, 5.0)
    return cfg.model_copy(
        update={
            "phases": ph.model_copy(update=short),
            "output_dir": tmp_path,
            "render_audio": False,
            "lsl_outlets": False,
            "control": cfg.control.model_copy(update={"command_channel": False}),
        }
    )


def test_there_are_examples():
    names = {p.stem for p in EXAMPLES}
    assert {"relax", "energize", "resonance-breathing", "research-replay", "simulate"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_has_header_naming_its_command(path):
    text = path.read_text()
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    assert len(header) >= 3, f"{path.name}: a comment header says what the session is"
    args = run_command(path)
    assert args.command in ("simulate", "replay", "run")
    config = args.config
    assert config is not None and (ROOT / config).resolve() == path.resolve()
    if args.command == "replay":
        assert (ROOT / args.file).is_file(), f"{path.name}: the recording it names exists"


def test_simulate_example_is_the_demo_written_out():
    assert load_config(ROOT / "sessions/examples/simulate.toml") == SessionConfig()


def _check_envelope(cfg: SessionConfig, ticks: dict) -> None:
    sf = cfg.safety
    tempo, loud, tension = ticks["tempo_bpm"], ticks["loudness_db"], ticks["tension"]
    assert tempo.min() >= sf.tempo_bpm_min - 1e-9 and tempo.max() <= sf.tempo_bpm_max + 1e-9
    assert loud.max() <= sf.loudness_db_max + 1e-9 and loud.min() >= sf.loudness_db_min - 1e-9
    assert tension.max() <= sf.tension_max + 1e-9
    # loudness never rises faster than its slew limit (dB per tick)
    assert np.diff(loud).max() <= sf.loudness_slew_db_per_s * cfg.tick_s + 1e-9


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_shortened(path, tmp_path):
    args = run_command(path)
    cfg = shortened(load_config(path), tmp_path)
    if args.command == "simulate":
        from attune.sessions.simulated_run import run_simulation

        s = run_simulation(cfg)
        ticks = load_session(s.folder).ticks
        n = int(round(cfg.phases.total_s / cfg.tick_s))
        assert ticks["t_s"].size == n and s.duration_s == pytest.approx(cfg.phases.total_s)
        assert ticks["t_s"] == pytest.approx(np.arange(n) * cfg.tick_s)
        phases = list(dict.fromkeys(ticks["phase"]))
        expected = [k.removesuffix("_s") for k in PHASES if getattr(cfg.phases, k) > 0]
        assert phases == expected
        _check_envelope(cfg, ticks)
        # the music is heard: faded in after the baseline, silent at the start
        fades = ticks["fade"]
        assert fades[0] == 0.0 and fades.max() > 0.5
        # the estimator is fed: heart rate and, where switched on, EEG features
        assert np.isfinite(ticks["hr_bpm"][-1]) == cfg.features.hrv
        assert np.isfinite(ticks["eeg_alpha_ln"][-1]) == cfg.features.eeg
        assert np.isfinite(s.end_arousal) and np.isfinite(s.end_arousal_estimate)
    elif args.command == "replay":
        from attune.sensors.readers import read_recording
        from attune.sessions.replay_run import replay_recording

        rec = read_recording(ROOT / args.file, fs=args.fs, kind=args.kind, columns=args.column)
        s = replay_recording(rec, cfg)
        assert s.n_ticks >= int(s.duration_s / cfg.tick_s) > 0
        assert s.n_beats > 0 and s.mean_hr_bpm is not None and 40.0 < s.mean_hr_bpm < 140.0
        assert np.isfinite(s.arousal_end)
        assert s.folder.name.endswith(f"{cfg.name}-{cfg.participant}")  # its own name kept
        assert "audio" not in s.files
    else:  # pragma: no cover - no live example yet: it would need LSL outlets here
        pytest.fail(f"{path.name}: a live example needs a test against LSL outlets")


def test_resonance_example_paces_the_music_and_drops_hf(tmp_path):
    from attune.sensors.simulated_listener import SimulatedListener
    from attune.sessions.build import build_engine, make_estimator, make_renderer

    cfg = load_config(ROOT / "sessions/examples/resonance-breathing.toml")
    assert cfg.features.paced_breathing_hz == pytest.approx(0.1)
    assert cfg.estimator.w_hf > 0 and make_estimator(cfg).weights["hf_ln"] == 0.0
    engine = build_engine(cfg, sources=SimulatedListener(seed=1).sources(), synths=[])
    assert engine.composer.breathing_hz == pytest.approx(0.1)
    r = make_renderer(cfg, tmp_path / "s.wav")
    assert r._kw["breathing_hz"] == pytest.approx(0.1) and r._kw["pacer"] is True


def test_realtime_simulation_is_paced_on_the_wall_clock(tmp_path):
    from attune.sessions.simulated_run import run_simulation

    cfg = SessionConfig(output_dir=tmp_path, render_audio=False, lsl_outlets=False)
    cfg = cfg.model_copy(
        update={
            "phases": cfg.phases.model_copy(
                update={"baseline_s": 1.0, "match_s": 2.0, "transition_s": 0.0, "maintain_s": 0.0}
            ),
            "control": cfg.control.model_copy(update={"command_channel": False}),
        }
    )
    s = run_simulation(cfg, realtime=True)
    t = load_session(s.folder).ticks["t_s"]
    assert t.size == 12 and s.duration_s == pytest.approx(3.0)
    # tick times are the live clock's readings: one per period, no drift
    assert np.all(np.abs(np.diff(t) - 0.25) < 0.1) and abs(t[-1] - 2.75) < 0.1
    # the listener's samples are produced up to each tick's actual time
    assert np.isfinite(s.end_arousal)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_survives_the_session_folder_round_trip(path, tmp_path):
    # a session folder keeps config.toml; `attune simulate --config` must take it back
    from attune.sessions.config import dump_config

    cfg = load_config(path)
    again = tmp_path / "config.toml"
    again.write_text(dump_config(cfg))
    assert load_config(again) == cfg
