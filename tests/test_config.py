import subprocess
import sys

import pytest
from pydantic import ValidationError

from attune.sessions.config import (
    LOUDNESS_HARD_CAP_DB,
    ConfigError,
    Safety,
    SessionConfig,
    dump_config,
    load_config,
    validate_config,
)


def test_defaults_are_the_ten_minute_demo():
    cfg = SessionConfig()
    assert cfg.phases.total_s == 600.0
    assert cfg.goal.arousal == -0.5 and cfg.goal.valence == 0.3
    assert cfg.simulation.arousal0 == pytest.approx(0.6)


def test_round_trip_through_toml(tmp_path):
    cfg = SessionConfig(seed=3)
    path = tmp_path / "s.toml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


#: (file text, the error line after "bad.toml: ") for the invalid configs of issue 8.
INVALID = [
    ("bogus = 1", "bogus: unknown key"),
    ("[safty]\ntension_max = 0.5", "safty: unknown key (did you mean 'safety'?)"),
    ("[phases]\nmatch_s = -5", "phases.match_s: must be >= 0.0, got -5"),
    (
        "[safety]\ntempo_bpm_min = 120\ntempo_bpm_max = 90",
        "safety: tempo_bpm_min = 120 must be below tempo_bpm_max = 90 (inverted tempo range)",
    ),
    (
        f"[safety]\nloudness_db_max = {LOUDNESS_HARD_CAP_DB + 6}",
        f"safety.loudness_db_max: must be at most the hard cap of {LOUDNESS_HARD_CAP_DB:g} "
        f"dBFS, got {LOUDNESS_HARD_CAP_DB + 6}",
    ),
    ("[goal]\narousal = 2", "goal.arousal: must be <= 1.0, got 2"),
    (
        "[features]\neeg_window_s = 2\neeg_segment_s = 4",
        "features.eeg_segment_s: must not exceed eeg_window_s = 2 s, got 4",
    ),
    (
        "[features]\nhrv = false\neeg = false",
        "features: hrv and eeg are both false: the estimator would have no input",
    ),
    ("[features]\npaced_breathing_hz = 0.5", "features.paced_breathing_hz: must be 0 (none)"),
    ("[audio]\nbreathing_pacer = true", "audio.breathing_pacer needs features.paced_breathing_hz"),
    ('[midi]\nport = ""', "midi.port: "),
    ('[[streams]]\nkind = "ecg"\nnmae = "x"', "streams.0.nmae: unknown key"),
]


@pytest.mark.parametrize(("text", "expected"), INVALID, ids=[e.split(":")[0] for _, e in INVALID])
def test_invalid_config_gets_one_line_naming_the_field(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: {expected}")


def test_loudness_hard_cap_holds_for_every_ceiling_above_it():
    safety = SessionConfig().safety
    assert Safety(loudness_db_max=LOUDNESS_HARD_CAP_DB).loudness_db_max == LOUDNESS_HARD_CAP_DB
    for db in (LOUDNESS_HARD_CAP_DB + 0.1, -6.0, 0.0):
        with pytest.raises(ValidationError, match="hard cap"):
            Safety(loudness_db_max=db)
    assert safety.loudness_db_max <= LOUDNESS_HARD_CAP_DB


@pytest.mark.parametrize(("text", "expected"), INVALID[:6], ids=lambda x: str(x)[:12])
def test_cli_prints_the_one_line_and_exits_2(tmp_path, capsys, text, expected):
    from attune.sessions.cli import main

    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["simulate", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"attune: {path}: {expected}\n"
    assert not (tmp_path / "out").exists()  # nothing started


def test_console_script_exit_code_and_stderr(tmp_path):
    path = tmp_path / "loud.toml"
    path.write_text("[safety]\nloudness_db_max = -3")
    p = subprocess.run(
        [sys.executable, "-m", "attune.sessions.cli", "simulate", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.splitlines() == [
        f"attune: {path}: safety.loudness_db_max: must be at most the hard cap of "
        f"{LOUDNESS_HARD_CAP_DB:g} dBFS, got -3"
    ]


def test_missing_midi_port_is_one_line_at_session_start(tmp_path, capsys):
    from attune.sessions.cli import main
    from attune.synthesis.midi import list_midi_outputs

    path = tmp_path / "midi.toml"
    path.write_text('[midi]\nport = "NoSuchSynth"')
    assert main(["simulate", "--realtime", "--config", str(path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(
        "attune: midi.port: no MIDI output port matches 'NoSuchSynth'; available: "
    )
    names, problem = list_midi_outputs()
    assert (problem or "none") in err and all(repr(n) in err for n in names)
    assert not list(tmp_path.glob("*-demo-*"))  # checked before the session folder exists


def test_live_session_checks_its_midi_port_before_opening_streams(tmp_path):
    from attune.sessions.live_run import run_live

    cfg = validate_config(
        {
            "output_dir": str(tmp_path),
            "midi": {"port": "NoSuchSynth"},
            "streams": [{"kind": "ecg", "source_id": "never-published"}],
        }
    )
    with pytest.raises(
        ConfigError, match=r"^midi\.port: no MIDI output port matches 'NoSuchSynth'"
    ):
        run_live(cfg)


def test_streams_of_a_switched_off_modality_are_not_read():
    from attune.sessions.live_run import wanted_streams

    streams = [{"kind": "ecg", "name": "h10"}, {"kind": "eeg", "name": "muse"}]
    cfg = validate_config({"streams": streams, "features": {"eeg": False}})
    assert [s.kind for s in wanted_streams(cfg)] == ["ecg"]
    cfg = validate_config({"streams": streams[1:], "features": {"eeg": False}})
    with pytest.raises(ValueError, match="no \\[\\[streams\\]\\] feed the estimator"):
        wanted_streams(cfg)


def test_features_reach_the_engine():
    from attune.sensors.simulated_listener import SimulatedListener
    from attune.sessions.build import build_engine, make_estimator

    sources = SimulatedListener(seed=0).sources()
    default = build_engine(SessionConfig(), sources=sources, synths=[])
    assert default.stages["hrv"].window_s == 60.0 and default.stages["eeg"].n_window == 3
    assert default.stages["eeg"]._sos is None and default.composer.breathing_hz == 0.0
    cfg = validate_config(
        {
            "estimator": {"w_hf": 0.7},
            "features": {
                "hrv_window_s": 90,
                "hrv_spectral_window_s": 240,
                "eeg_window_s": 8,
                "eeg_segment_s": 1,
                "eeg_notch_hz": 50,
                "eeg_highpass_hz": 1.0,
            },
        }
    )
    eng = build_engine(cfg, sources=sources, synths=[])
    hrv, eeg = eng.stages["hrv"], eng.stages["eeg"]
    assert hrv.window_s == 90.0 and hrv.spectral_window_s == 240.0
    assert eeg.nperseg == 256 and eeg.n_window == 15  # 1 s segments, 50 % overlap, 8 s
    assert eeg._sos is not None
    assert make_estimator(cfg).weights["hf_ln"] == 0.7
    paced = cfg.model_copy(
        update={"features": cfg.features.model_copy(update={"paced_breathing_hz": 0.1})}
    )
    assert make_estimator(paced).weights["hf_ln"] == 0.0
    assert build_engine(paced, sources=sources, synths=[]).composer.breathing_hz == 0.1
    no_eeg = validate_config({"features": {"eeg": False}})
    eng = build_engine(no_eeg, sources=sources, synths=[])
    assert set(eng.stages) == {"hrv"} and [s.info.kind for s in eng.sources] == ["ecg"]


def test_audio_device_default_and_index(tmp_path):
    from attune.sessions.build import _audio_device, make_renderer

    assert _audio_device(validate_config({"audio": {"device": "default"}})) is None
    assert _audio_device(validate_config({"audio": {"device": 2}})) == 2
    assert _audio_device(validate_config({"audio": {"device": "USB"}})) == "USB"
    assert type(make_renderer(SessionConfig(render_audio=False), tmp_path / "x.wav")).__name__ == (
        "SilentBackend"
    )
    with pytest.raises(ConfigError, match=r"^x: audio\.device: a device index must be >= 0"):
        validate_config({"audio": {"device": -1}}, source="x")


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="no such session file"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "x.toml"
    bad.write_text("[goal\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


# ---------------------------------------------------------------- issue 14: strict types
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # issue 14: `tempo_bpm_min = 150` alone played 115-150 BPM
        (
            "[safety]\ntempo_bpm_min = 150",
            "safety: tempo_bpm_min = 150 must be below tempo_bpm_max = 115 (inverted tempo range)",
        ),
        # issue 14: `loudness_db_min = -15` played above the -18 ceiling
        (
            "[safety]\nloudness_db_min = -15",
            "safety: loudness_db_min = -15 must be below loudness_db_max = -18 "
            "(inverted loudness range)",
        ),
        # issue 14: `goal.arousal = true` was read as +1.0
        ("[goal]\narousal = true", "goal.arousal: must be a valid number, got True"),
        ("seed = true", "seed: must be a valid integer, got True"),
        ("[control]\nenabled = 1", "control.enabled: must be a valid boolean, got 1"),
        ('tick_s = "0.25"', "tick_s: must be a valid number, got '0.25'"),
        # issue 14: tracebacks for maintain_s = inf and transition_s = 1e12
        ("[phases]\nmaintain_s = inf", "phases.maintain_s: must be a finite number, got inf"),
        ("[phases]\nbaseline_s = nan", "phases.baseline_s: must be a finite number, got nan"),
        (
            "[phases]\ntransition_s = 1e12",
            "phases.transition_s: must be <= 14400.0, got 1000000000000.0",
        ),
        (
            "[phases]\ntransition_s = 14000\nmaintain_s = 14000",
            "phases: the phases add up to 28090 s, more than the longest session of 14400 s",
        ),
        ("[safety]\nfade_in_s = inf", "safety.fade_in_s: must be a finite number, got inf"),
        ("[simulation]\necg_fs = 1e9", "simulation.ecg_fs: must be <= 2000.0, got 1000000000.0"),
        ("[simulation]\neeg_channels = []", "simulation.eeg_channels: "),
        # a traceback from the band-pass filter before
        ("[simulation]\neeg_fs = 64", "simulation.eeg_fs: must be >= 100.0, got 64"),
        ("[simulation]\neeg_channels = ['a\\nb']", "simulation.eeg_channels.0: "),
    ],
    ids=lambda x: str(x)[:24],
)
def test_issue14_configs_fail_with_one_line(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{path}: {expected}"), msg


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x00\xff\xfe binary", "not a text file"),
        (b"[" * 5000, "not valid TOML"),
        (b"a = " + b"[" * 3000 + b"]" * 3000, "nested too deeply"),
    ],
    ids=["binary", "brackets", "deep"],
)
def test_unreadable_session_files_fail_with_one_line(tmp_path, content, expected):
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=expected) as e:
        load_config(path)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="a folder"):
        load_config(tmp_path)


# ---------------------------------------------------------------- property-based (hypothesis)
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from attune.engine.envelope import HARD_BOUNDS  # noqa: E402
from attune.sessions.build import make_controller, make_envelope  # noqa: E402


def _fields(model):
    """Every (table, key) of the session schema, and the nested models."""
    out = []
    for name, f in model.model_fields.items():
        ann = f.annotation
        sub = ann if isinstance(ann, type) and hasattr(ann, "model_fields") else None
        out.append((name, sub))
    return out


_HOSTILE = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-200, max_value=200),
    st.text(max_size=20),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def hostile_configs(draw):
    """A dict shaped like a session file, with random (often wrong) values."""
    raw: dict = {}
    for name, sub in _fields(SessionConfig):
        if not draw(st.booleans()):
            continue
        if sub is None:
            raw[name] = draw(_HOSTILE)
        else:
            keys = list(sub.model_fields)
            picked = draw(st.lists(st.sampled_from(keys), max_size=4, unique=True))
            raw[name] = {k: draw(_HOSTILE) for k in picked}
    if draw(st.booleans()):
        raw[draw(st.text(max_size=8))] = draw(_HOSTILE)
    return raw


def _check_config(raw):
    try:
        cfg = validate_config(raw, source="h.toml")
    except ConfigError as e:
        assert "\n" not in str(e) and str(e).startswith("h.toml: ")
        return
    # a valid config always builds, inside the global hard limits
    env = make_envelope(cfg.safety)
    for name, (lo, hi) in env.bounds.items():
        hard_lo, hard_hi = HARD_BOUNDS[name]
        assert hard_lo <= lo < hi <= hard_hi or (lo == hi and name == "tension")
    make_controller(cfg)
    assert 0 < cfg.phases.total_s <= 4 * 3600


@settings(max_examples=400, deadline=200, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_configs())
def test_random_and_hostile_configs_fail_with_one_line_or_build(raw):
    _check_config(raw)


@pytest.mark.slow
@settings(max_examples=30_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_configs())
def test_random_and_hostile_configs_many(raw):
    _check_config(raw)


@settings(max_examples=300, deadline=500)
@given(st.binary(max_size=400))
def test_random_session_files_fail_with_one_line(content):
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "h.toml"
        path.write_bytes(content)
        try:
            load_config(path)
        except ConfigError as e:
            assert "\n" not in str(e)
