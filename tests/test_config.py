import pytest

from sessions.config import ConfigError, SessionConfig, dump_config, load_config


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


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("bogus = 1", "bogus"),
        ("[phases]\nmatch_s = -5", "phases.match_s"),
        ("[safety]\ntempo_bpm_min = 120\ntempo_bpm_max = 90", "tempo_bpm_min"),
        ("[safety]\nloudness_db_max = 0", "safety.loudness_db_max"),
        ("[goal]\narousal = 2", "goal.arousal"),
    ],
)
def test_invalid_config_gets_one_line_naming_the_field(tmp_path, text, field):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert str(path) in msg and field in msg


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="no such session file"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "x.toml"
    bad.write_text("[goal\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
