"""The data home: where it is, sessions under it, ids, `attune sessions` from anywhere."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from attune.sessions.cli import main
from attune.sessions.home import HomeError, home_dir, sessions_dir

SHORT = ["--no-audio", "--no-report", "--duration-s", "20"]


def test_home_from_env_settings_file_or_platform(tmp_path, monkeypatch, attune_home):
    assert home_dir() == attune_home
    monkeypatch.delenv("ATTUNE_HOME")
    settings = tmp_path / "config.toml"
    monkeypatch.setenv("ATTUNE_SETTINGS", str(settings))
    import platformdirs

    assert home_dir() == Path(platformdirs.user_data_dir("attune"))  # no settings file
    settings.write_text(f'[session]\nhome = "{tmp_path / "moved"}"\n')
    assert home_dir() == tmp_path / "moved"
    assert sessions_dir() == tmp_path / "moved" / "sessions"
    settings.write_text("[session]\nhome = 3\n")
    with pytest.raises(HomeError, match="session.home"):
        home_dir()


def test_sessions_go_under_the_home_with_unique_ids(tmp_path, monkeypatch, attune_home, capsys):
    for k, seed in enumerate((3, 4)):
        cwd = tmp_path / f"cwd{k}"
        cwd.mkdir()
        monkeypatch.chdir(cwd)
        assert main(["simulate", "--seed", str(seed), *SHORT]) == 0
        assert not any(cwd.iterdir())  # nothing written where we stand
    folders = sorted((attune_home / "sessions").iterdir())
    assert len(folders) == 2
    assert [f.name.split("-", 2)[2] for f in folders] == ["demo-sim-001-s3", "demo-sim-001-s4"]
    assert oct(attune_home.stat().st_mode & 0o777) == "0o700"
    # listed from yet another directory, and a report by id from there
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["sessions"]) == 0
    out = capsys.readouterr().out
    assert all(f.name in out for f in folders)
    assert main(["export", folders[0].name, "events"]) == 0
    assert "session start: simulate seed=3" in capsys.readouterr().out


def test_explicit_output_dir_still_wins(tmp_path, attune_home):
    out = tmp_path / "mine"
    assert main(["simulate", "--out", str(out), *SHORT]) == 0
    assert len(list(out.iterdir())) == 1
    assert not (attune_home / "sessions").exists()
    assert main(["sessions", "--dir", str(out)]) == 0


def test_fresh_home_lists_nothing(capsys):
    assert main(["sessions"]) == 0
    assert "no sessions" in capsys.readouterr().out


def test_same_second_same_seed_gets_a_suffix(tmp_path):
    from attune.sessions.record import new_session_dir

    a = new_session_dir(tmp_path, "demo", "C1", seed=5)
    b = new_session_dir(tmp_path, "demo", "C1", seed=5)
    assert a != b and b.name.startswith(a.name) and os.stat(a).st_mode & 0o777 == 0o700
