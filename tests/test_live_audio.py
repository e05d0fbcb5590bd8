"""A live session is heard, or refuses to start saying why (issue 14)."""

from __future__ import annotations

from attune.sessions.cli import build_parser, main
from attune.sessions.commands.run import live_config
from attune.sessions.config import dump_config, load_config
from attune.synthesis.devices import list_audio_outputs


def _session_without_device(tmp_path):
    """live.toml's streams, with no audio.device (the finding: it played nothing, silently)."""
    from pathlib import Path

    cfg = load_config(Path(__file__).parents[1] / "sessions" / "examples" / "live.toml")
    cfg = cfg.model_copy(update={"audio": cfg.audio.model_copy(update={"device": None})})
    path = tmp_path / "nodevice.toml"
    path.write_text(dump_config(cfg))
    assert load_config(path).audio.device is None
    return path


def test_no_device_configured_means_the_default_output_and_no_audio_means_silent(tmp_path):
    path = str(_session_without_device(tmp_path))
    parser = build_parser()
    assert live_config(parser.parse_args(["run", path])).audio.device == "default"
    silent = live_config(parser.parse_args(["run", path, "--no-audio"]))
    assert silent.audio.device is None and silent.render_audio is False


def test_a_live_session_with_no_output_refuses_in_one_line(tmp_path, capsys):
    path = _session_without_device(tmp_path)
    argv = ["run", str(path), "--resolve-timeout-s", "0.5", "--out", str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    _, default, problem = list_audio_outputs()
    if default >= 0 and problem is None:  # a sound card: it would play; stops at the stream
        assert "LSL: no stream with" in err
    else:  # no sound card here: refused before anything starts, naming the problem
        assert err.startswith("attune: audio.device")
        if problem is None:
            assert "this system has no default audio output" in err and "--no-audio" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
