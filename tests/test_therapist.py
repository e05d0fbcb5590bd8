"""The therapist's hand: pins, goal, pause, skip, emergency stop, and the command channel."""

import json
import socket
import threading

import numpy as np
import pytest

from attune.engine.affect import AffectEstimate
from attune.engine.clocks import VirtualClock
from attune.engine.controller import CommandError, parse_command
from attune.sensors.simulated_listener import SimulatedListener
from attune.sessions.build import make_controller, make_envelope
from attune.sessions.config import SessionConfig
from attune.sessions.runner import run_session
from attune.sessions.simulated_run import hear_music
from attune.sessions.store import load_session
from attune.sessions.therapist import (
    CHANNEL_FILE,
    ScriptedCommands,
    TherapistChannel,
    TherapistError,
    send_command,
)
from attune.synthesis.analysis import read_wav, rms_dbfs_windows

CFG = SessionConfig()
DT = CFG.tick_s
ALL_PHASES = CFG.phases.model_copy(
    update={
        "baseline_s": 30.0,
        "match_s": 60.0,
        "transition_s": 120.0,
        "maintain_s": 60.0,
        "recovery_s": 90.0,
        "recovery_silence_s": 60.0,
    }
)


def drive(ctrl, arousal_of_t, script=(), ticks=None, conf=0.9):
    """Tick a controller; ``script`` is [(t, callable(ctrl))] applied before that tick."""
    ticks = ticks or int(ALL_PHASES.total_s / DT)
    script = sorted(script, key=lambda x: x[0])
    out, k = [], 0
    for i in range(ticks):
        t = i * DT
        while k < len(script) and script[k][0] <= t:
            script[k][1](ctrl)
            k += 1
        ctrl.begin_tick(t)
        out.append(ctrl.update(AffectEstimate(arousal_of_t(t), 0.0, conf, t, 0.3)))
    return out


def cfg_all_phases(**changes):
    return CFG.model_copy(update={"phases": ALL_PHASES, **changes})


def test_pinned_tempo_is_reached_at_the_slew_limit_and_held_through_every_phase():
    ctrl = make_controller(cfg_all_phases())
    start = ctrl.params.tempo_bpm
    decisions = drive(ctrl, lambda t: 0.6, script=[(0.0, lambda c: c.pin("tempo_bpm", 70.0))])
    phases = {d.phase for d in decisions}
    assert phases == {"baseline", "match", "transition", "maintain", "recovery"}
    tempo = np.array([d.params.tempo_bpm for d in decisions])
    rate = CFG.safety.tempo_slew_bpm_per_min / 60 * DT
    assert np.max(np.abs(np.diff(tempo))) <= rate + 1e-9  # a pin is a target, not a jump
    reach = int(np.ceil(abs(start - 70.0) / rate))
    assert np.all(tempo[reach + 1 :] == 70.0)
    assert all("tempo_bpm" in d.overridden for d in decisions)
    assert decisions[0].events[0] == "override: pin tempo_bpm=70"
    # the rest of the music still follows the law (loudness falls toward calm)
    loud = [d.params.loudness_db for d in decisions if d.phase == "maintain"]
    assert loud[-1] < decisions[int(90 / DT)].params.loudness_db


@pytest.mark.parametrize(
    ("line", "limit"),
    [
        # issue 14: `pin loudness_db -6` played at -6 dBFS (cap -12, session ceiling -18)
        ("pin loudness_db -6", "[-40, -18]"),
        ("pin loudness_db -15", "[-40, -18]"),
        # issue 14: `pin tempo_bpm 150` jumped from 70 to 150 BPM (session maximum 115)
        ("pin tempo_bpm 150", "[55, 115]"),
        ("pin tempo_bpm 45", "[55, 115]"),
        ("pin tension 0.95", "[0, 0.8]"),
    ],
)
def test_pins_outside_the_session_envelope_are_refused_naming_the_limit(line, limit):
    ctrl = make_controller(cfg_all_phases())
    with pytest.raises(CommandError) as e:
        ctrl.command(line)
    msg = str(e.value)
    assert "\n" not in msg and "outside this session's safety envelope" in msg and limit in msg
    decisions = drive(ctrl, lambda t: 0.6, ticks=int(120 / DT))  # nothing was queued
    assert all(not d.overridden for d in decisions)
    env = make_envelope(CFG.safety)
    assert all(not env.violations(None, d.params, DT) for d in decisions)


def test_unpin_returns_to_the_law_at_the_slew_limit():
    ctrl = make_controller(cfg_all_phases())
    lo_env = make_envelope(CFG.safety).bounds["tempo_bpm"][0]
    decisions = drive(
        ctrl,
        lambda t: 0.6,
        script=[(100.0, lambda c: c.pin("tempo_bpm", lo_env)), (150.0, lambda c: c.unpin())],
        ticks=int(250 / DT),
    )
    tempo = np.array([d.params.tempo_bpm for d in decisions])
    assert np.max(np.abs(np.diff(tempo))) <= CFG.safety.tempo_slew_bpm_per_min / 60 * DT + 1e-9
    assert tempo.min() >= lo_env
    assert "override: unpin tempo_bpm" in decisions[int(150 / DT)].events


def test_pinned_loudness_rises_at_the_loudness_slew_limit():
    ctrl = make_controller(cfg_all_phases())
    decisions = drive(
        ctrl, lambda t: 0.0, script=[(100.0, lambda c: c.pin("loudness_db", -18.0))], ticks=1200
    )
    loud = np.array([d.params.loudness_db for d in decisions[int(100 / DT) :]])
    assert np.max(np.abs(np.diff(loud))) <= CFG.safety.loudness_slew_db_per_s * DT + 1e-9
    assert loud[-1] == -18.0 and loud.max() <= CFG.safety.loudness_db_max


def test_goal_change_ramps_the_target_monotonically():
    ctrl = make_controller(cfg_all_phases())
    decisions = drive(
        ctrl, lambda t: 0.6, script=[(230.0, lambda c: c.set_goal(-0.8))], ticks=int(400 / DT)
    )
    tgt = np.array([d.target_arousal for d in decisions[int(230 / DT) :]])
    assert tgt[0] == pytest.approx(CFG.goal.arousal, abs=0.01)
    assert np.all(np.diff(tgt) <= 1e-12)
    assert tgt[-1] == pytest.approx(-0.8)
    assert any(
        e.startswith("override: goal arousal=-0.800") for e in decisions[int(230 / DT)].events
    )


def test_pause_freezes_protocol_and_music_then_resume_continues():
    ctrl = make_controller(cfg_all_phases())
    decisions = drive(
        ctrl,
        lambda t: 0.6,
        script=[(150.0, lambda c: c.pause()), (200.0, lambda c: c.resume())],
        ticks=int(260 / DT),
    )
    paused = decisions[int(150 / DT) : int(200 / DT)]
    assert all(d.paused for d in paused)
    assert len({d.params for d in paused}) == 1
    assert len({d.target_arousal for d in paused}) == 1
    # the transition ends 50 s later than planned
    phases = [d.phase for d in decisions]
    assert phases[int(209 / DT)] == "transition" and phases[int(258 / DT)] == "transition"
    assert "override: resume" in decisions[int(200 / DT)].events


def test_skip_phase_moves_on_and_skipping_baseline_starts_matching():
    ctrl = make_controller(cfg_all_phases())
    decisions = drive(
        ctrl,
        lambda t: 0.6,
        script=[(10.0, lambda c: c.skip_phase()), (20.0, lambda c: c.skip_phase())],
        ticks=int(30 / DT),
    )
    assert decisions[int(9 / DT)].phase == "baseline"
    assert decisions[int(10 / DT)].phase == "match"
    assert decisions[int(20 / DT)].phase == "transition"
    assert "override: skip phase baseline" in decisions[int(10 / DT)].events


def test_emergency_stop_silences_within_two_seconds_and_beats_pins():
    ctrl = make_controller(cfg_all_phases())
    decisions = drive(
        ctrl,
        lambda t: 0.6,
        script=[
            (100.0, lambda c: c.pin("fade", 1.0)),
            (120.0, lambda c: c.emergency_stop()),
            (150.0, lambda c: c.resume()),
        ],
        ticks=int(170 / DT),
    )
    fade = np.array([d.params.fade for d in decisions])
    i = int(120 / DT)
    assert fade[i - 1] == 1.0
    assert np.all(fade[i + int(np.ceil(CFG.safety.estop_fade_s / DT)) - 1 : int(150 / DT)] == 0.0)
    assert (
        decisions[i].stopped and "override: EMERGENCY STOP (fade to silence)" in decisions[i].events
    )
    # after resume the fade comes back (pinned at 1), no faster than the fade-in rate
    back = fade[int(150 / DT) :]
    assert back[-1] > 0 and np.max(np.diff(back)) <= 1 / CFG.safety.fade_in_s * DT + 1e-9


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "empty command"),
        ("fly", "unknown command 'fly'"),
        ("pin tempo", "expected 'pin NAME VALUE'"),
        ("pin speed 70", "NAME must be one of"),
        ("pin tempo_bpm fast", "tempo_bpm must be a number, got 'fast'"),
        ("pin tempo_bpm 300", "tempo_bpm must be in [40, 160], got 300"),
        ("pin mode 2.5", "mode must be an integer"),
        ("goal 2", "arousal must be in [-1, 1], got 2"),
        ("pause now", "takes no arguments"),
        ("unpin x", "unpin: expected"),
    ],
)
def test_invalid_commands_give_one_line_errors(line, message):
    with pytest.raises(CommandError, match=None) as info:
        parse_command(line)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_commands_parse():
    assert parse_command("pin tempo_bpm 70") == ("pin", ("tempo_bpm", 70.0))
    assert parse_command("GOAL -0.4 0.2") == ("goal", (-0.4, 0.2))
    assert parse_command(" estop ") == ("estop", ())


def _read_all(sock, ch, submit):
    """Poll ``ch`` like the runner does until the server closes ``sock``; return the bytes."""
    sock.settimeout(0.0)
    buf = b""
    for _ in range(2_000_000):
        ch.poll(0.0, submit)
        try:
            part = sock.recv(4096)
        except BlockingIOError:
            continue
        if not part:
            break
        buf += part
    return buf


def test_channel_round_trip_and_rejections(tmp_path):
    ch = TherapistChannel(tmp_path)
    info = json.loads((tmp_path / CHANNEL_FILE).read_text())
    assert info["port"] == ch.port and (tmp_path / CHANNEL_FILE).stat().st_mode & 0o077 == 0
    got: list[str] = []
    results: dict[str, object] = {}

    def client():
        try:
            results["ok"] = send_command(tmp_path, "pin tempo_bpm 70", timeout_s=10)
            send_command(tmp_path, "pin tempo_bpm 999", timeout_s=10)
        except TherapistError as e:
            results["err"] = str(e)

    th = threading.Thread(target=client)
    th.start()
    events: list[str] = []
    # poll like the runner does, once per (virtual) tick, until the client is done
    for _ in range(200_000):
        events += ch.poll(0.0, lambda line: (parse_command(line), got.append(line)))
        if not th.is_alive():
            break
        th.join(timeout=0.001)
    th.join(timeout=10)
    assert results["ok"] == "pin tempo_bpm 70"
    assert got == ["pin tempo_bpm 70"]
    assert "tempo_bpm must be in [40, 160], got 999" in results["err"]
    assert events == ["command rejected: pin: tempo_bpm must be in [40, 160], got 999"]
    # a client without the token is refused, and the connection closed
    with socket.create_connection(("127.0.0.1", ch.port), timeout=10) as s:
        s.sendall(b"nope estop\n")
        buf = _read_all(s, ch, got.append)
    assert json.loads(buf) == {"ok": False, "error": "bad token"}
    assert got == ["pin tempo_bpm 70"]
    ch.close()
    assert not (tmp_path / CHANNEL_FILE).exists()
    with pytest.raises(TherapistError, match="no running session"):
        send_command(tmp_path, "pause")


def _short_session(tmp_path, script, *, audio, total_s):
    phases = CFG.phases.model_copy(
        update={"baseline_s": 5.0, "match_s": total_s - 5.0, "transition_s": 0.0, "maintain_s": 0.0}
    )
    cfg = CFG.model_copy(
        update={"phases": phases, "output_dir": tmp_path, "render_audio": audio, "seed": 3}
    )
    listener = SimulatedListener(seed=3)
    out = run_session(
        cfg,
        mode="simulate",
        sources=listener.sources(),
        clock=VirtualClock(tick_s=cfg.tick_s),
        n_ticks=int(round(total_s / cfg.tick_s)),
        listeners=[lambda t, p: hear_music(listener, t, p)],
        commands=[ScriptedCommands(script)],
    )
    return out, load_session(out.folder).events


def test_emergency_stop_reaches_silence_within_two_seconds_in_the_rendered_audio(tmp_path):
    t_stop = 25.0
    out, events = _short_session(
        tmp_path, [(10.0, "pin tempo_bpm 72"), (t_stop, "estop")], audio=True, total_s=32.0
    )
    assert (t_stop, "override: EMERGENCY STOP (fade to silence)") in events
    assert (10.0, "override: pin tempo_bpm=72") in events
    x, sr = read_wav(out.folder / "session.wav")
    before = rms_dbfs_windows(x[:, int((t_stop - 5) * sr) : int(t_stop * sr)], sr, window_s=1.0)
    assert np.all(before > -45.0), before
    # every 50 ms window from t_stop + 2 s to the end is below -60 dBFS
    after = rms_dbfs_windows(x[:, int((t_stop + 2.0) * sr) :], sr, window_s=0.05)
    assert after.size >= 40 and np.all(after < -60.0), after.max()


def test_commands_are_recorded_and_rejections_too(tmp_path):
    _, events = _short_session(
        tmp_path,
        [(6.0, "pin tempo_bpm 500"), (7.0, "pause"), (8.0, "resume")],
        audio=False,
        total_s=10.0,
    )
    texts = [e for _, e in events]
    assert "command rejected: pin: tempo_bpm must be in [40, 160], got 500" in texts
    assert "override: pause (protocol clock and control law frozen)" in texts
    assert "override: resume" in texts
    assert any(e.startswith("therapist channel: 127.0.0.1:") for e in texts)


# ---------------------------------------------------------------- channel hardening (issue 14)
class Ticker:
    """Poll a channel every ``period_s`` from a thread, as the session runner does per tick.

    Commands go to a real controller (``Controller.command``), which validates them
    against the session's envelope.
    """

    def __init__(self, ch, period_s=0.002):
        self.ch = ch
        self.ctrl = make_controller(CFG)
        self.accepted: list[str] = []
        self.events: list[str] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._period = period_s
        self._th = threading.Thread(target=self._run, daemon=True)

    def _submit(self, line):
        self.ctrl.command(line)
        self.accepted.append(line)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.events += self.ch.poll(0.0, self._submit)
            except BaseException as e:  # the test fails on any
                self.errors.append(e)
            self._stop.wait(self._period)

    def __enter__(self):
        self._th.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join(timeout=10)
        self.ch.close()


def _exchange(port, data, timeout=10.0):
    """Send ``data`` on a new connection and read until the server closes or replies."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may close on a long line before reading it all
        buf = b""
        while b"\n" not in buf:
            try:
                part = s.recv(4096)
            except OSError:
                break
            if not part:
                break
            buf += part
    return buf


@pytest.mark.parametrize(
    ("data", "error"),
    [
        # issue 14: a 3 kB nested array crashed the session before any token check
        (b"[" * 3000 + b"\n", "line over 1024 bytes"),
        (b"[" * 500 + b"\n", "bad token"),
        # issue 14: a non-ASCII token crashed it too
        ("tökén estop\n".encode(), "bad token"),
        (b"\xff\xfe\x00 estop\n", "bad token"),
        (b'{"token": "x", "command": "estop"}\n', "bad token"),
    ],
)
def test_hostile_lines_are_refused_before_parsing_and_the_session_goes_on(tmp_path, data, error):
    with Ticker(TherapistChannel(tmp_path)) as tk:
        reply = json.loads(_exchange(tk.ch.port, data).split(b"\n")[0])
        assert reply == {"ok": False, "error": error}
        assert tk.accepted == []
        assert send_command(tmp_path, "pause", timeout_s=10) == "pause"
    assert tk.errors == [] and tk.accepted == ["pause"]


def test_a_valid_token_with_a_non_ascii_command_is_refused(tmp_path):
    with Ticker(TherapistChannel(tmp_path)) as tk:
        reply = _exchange(tk.ch.port, tk.ch.token.encode() + " pin tempo_bpm 7０\n".encode())
        assert json.loads(reply) == {"ok": False, "error": "a command must be ASCII text"}
        out = _exchange(tk.ch.port, tk.ch.token.encode() + b" pin tempo_bpm 150\n")
        msg = json.loads(out)["error"]
        assert msg == "pin: tempo_bpm 150 refused: outside this session's safety envelope [55, 115]"
    assert tk.events == [f"command rejected: {msg}"] and tk.accepted == []


def test_connections_are_bounded_and_time_out(tmp_path):
    """Issue 14: held connections exhausted the file descriptors after ~4 min."""
    ch = TherapistChannel(tmp_path, auth_timeout_s=0.3, max_clients=2)
    with Ticker(ch) as tk:
        held = [socket.create_connection(("127.0.0.1", ch.port), timeout=10) for _ in range(200)]
        for s in held:
            s.settimeout(10)
        # the server holds at most MAX_UNAUTHENTICATED of them: the others are closed
        closed = 0
        for s in held:
            data = s.recv(4096)  # b"" (evicted) or the timeout reply, then EOF
            closed += 1
            assert data in (b"", b'{"ok": false, "error": "no token in time"}\n')
            s.close()
        assert closed == 200
        # authenticated clients beyond max_clients are refused, the first ones served
        tok = ch.token.encode()
        a = socket.create_connection(("127.0.0.1", ch.port), timeout=10)
        b = socket.create_connection(("127.0.0.1", ch.port), timeout=10)
        for s in (a, b):
            s.sendall(tok + b" pause\n")
            assert json.loads(s.recv(4096)) == {"ok": True, "command": "pause"}
        third = _exchange(ch.port, tok + b" resume\n")
        assert json.loads(third) == {"ok": False, "error": "too many clients"}
        a.close()
        b.close()
    assert tk.errors == [] and tk.accepted == ["pause", "pause"]


def test_a_bad_token_closes_the_connection(tmp_path):
    with Ticker(TherapistChannel(tmp_path)) as tk:
        with socket.create_connection(("127.0.0.1", tk.ch.port), timeout=10) as s:
            s.sendall(b"guess1 estop\nguess2 estop\n" + tk.ch.token.encode() + b" estop\n")
            buf = b""
            while part := s.recv(4096):
                buf += part
        assert buf == b'{"ok": false, "error": "bad token"}\n'
    assert tk.accepted == []


# ---------------------------------------------------------------- property-based (hypothesis)
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_WORDS = st.sampled_from(
    ["pin", "unpin", "goal", "pause", "resume", "skip", "estop", "end", "all", "tempo_bpm",
     "loudness_db", "fade", "mode", "nan", "inf", "-inf", "1e308", "-0", "150", "-6", "0.5"]
)  # fmt: skip
_LINES = st.one_of(
    st.binary(max_size=1200),
    st.lists(st.one_of(_WORDS, st.text(max_size=12)), max_size=5).map(
        lambda w: " ".join(w).encode("utf-8", "replace")
    ),
)


def _channel_property(tmp_path, max_examples):
    with Ticker(TherapistChannel(tmp_path)) as tk:
        tok = tk.ch.token.encode()

        @settings(
            max_examples=max_examples,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(_LINES, st.sampled_from(["token", "none", "wrong"]))
        def check(body, auth):
            body = body.replace(b"\n", b" ")
            prefix = {"token": tok + b" ", "none": b"", "wrong": tok[:-1] + b"x "}[auth]
            data = prefix + body + b"\n"
            reply = json.loads(_exchange(tk.ch.port, data).split(b"\n")[0])
            assert reply["ok"] in (True, False) and set(reply) <= {"ok", "command", "error"}
            if len(data) > 1024:
                assert reply == {"ok": False, "error": "line over 1024 bytes"}
            elif auth != "token":
                assert reply == {"ok": False, "error": "bad token"}
            if not reply["ok"]:
                assert "\n" not in reply["error"]

        n_before = len(tk.accepted)
        check()
        assert tk.errors == []
        # the session survived every message and still answers
        assert send_command(tmp_path, "pause", timeout_s=10) == "pause"
        assert len(tk.accepted) > n_before
    # and the controller, fed every accepted command, never leaves its envelope
    ctrl = tk.ctrl
    env = ctrl.envelope
    prev = None
    for i in range(int(120 / DT)):
        t = i * DT
        ctrl.begin_tick(t)
        d = ctrl.update(AffectEstimate(0.6, 0.0, 0.9, t, 0.3))
        exempt = ("fade",) if d.stopped else ()
        assert env.violations(prev, d.params, DT, exempt=exempt) == []
        prev = d.params


def test_random_and_hostile_messages_on_the_channel(tmp_path):
    _channel_property(tmp_path, 600)


@pytest.mark.slow
def test_random_and_hostile_messages_on_the_channel_many(tmp_path):
    _channel_property(tmp_path, 20_000)


# ---------------------------------------------------------------- flood and slow client
def test_flood_and_slow_client_leave_commands_answered_within_half_a_second(tmp_path):
    """Issue 14: 50 held connections and a slow client, during a real-time session."""
    import glob
    import time

    from attune.sessions.simulated_run import run_simulation

    phases = CFG.phases.model_copy(
        update={"baseline_s": 2.0, "match_s": 5.0, "transition_s": 0.0, "maintain_s": 0.0}
    )
    cfg = CFG.model_copy(
        update={
            "phases": phases,
            "output_dir": tmp_path,
            "render_audio": False,
            "lsl_outlets": False,
        }
    )
    result: dict = {}
    runner = threading.Thread(
        target=lambda: result.update(summary=run_simulation(cfg, realtime=True)), daemon=True
    )
    runner.start()
    deadline = time.monotonic() + 20
    while not (found := glob.glob(str(tmp_path / "*" / CHANNEL_FILE))):
        assert time.monotonic() < deadline, "the session did not open its channel"
        time.sleep(0.01)  # waiting for the session to start, not timing a result
    folder = found[0].rsplit("/", 1)[0]
    info = json.loads(open(found[0]).read())
    port, token = info["port"], info["token"].encode()
    flood = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(50)]
    for s in flood[:25]:
        s.sendall(b"[" * 600)  # half a line, never finished
    slow = socket.create_connection(("127.0.0.1", port), timeout=5)
    slow.sendall(token[:3])  # a slow client: the rest of its token never comes in time
    latencies = []
    for line in ["pin tempo_bpm 80", "pause", "resume", "goal -0.4", "unpin all"]:
        t0 = time.monotonic()
        assert send_command(folder, line, timeout_s=5) == line
        latencies.append(time.monotonic() - t0)
    for s in [*flood, slow]:
        s.close()
    runner.join(timeout=30)
    summary = result["summary"]
    print(f"command latencies under flood: {[round(x, 3) for x in latencies]} s")
    assert max(latencies) < 0.5, latencies
    # every tick ran, on time: the session took its length in wall time, not more
    t_s = load_session(summary.folder).ticks["t_s"]
    assert len(t_s) == int(phases.total_s / CFG.tick_s)
    assert np.max(np.diff(t_s)) < 2 * CFG.tick_s  # no tick held up
    assert summary.engine_wall_s < phases.total_s + 3.0
    events = [e for _, e in load_session(summary.folder).events]
    assert (
        "override: pin tempo_bpm=80" in events
        and "override: pause (protocol clock and control law frozen)" in events
    )


# ---------------------------------------------------------------- many sessions, random commands
_SHORT = CFG.phases.model_copy(
    update={
        "baseline_s": 5.0,
        "match_s": 10.0,
        "transition_s": 20.0,
        "maintain_s": 10.0,
        "recovery_s": 15.0,
        "recovery_silence_s": 5.0,
    }
)


def _random_script(rng, total_s):
    """Random therapist commands at random times: pins (some outside the envelope), goals,
    pauses, skips, stops, ends, and some garbage."""
    lines = []
    for _ in range(int(rng.integers(3, 20))):
        kind = rng.choice(["pin", "pin", "unpin", "goal", "pause", "resume", "skip", "estop",
                           "end", "junk"])  # fmt: skip
        if kind == "pin":
            name = str(rng.choice(["tempo_bpm", "loudness_db", "tension", "brightness", "density",
                                   "register_st", "fade", "mode"]))  # fmt: skip
            lo, hi = HARD[name]
            value = rng.uniform(lo - 10, hi + 10)
            value = round(value) if name == "mode" else value
            lines.append(f"pin {name} {value}")
        elif kind == "unpin":
            lines.append("unpin " + str(rng.choice(["all", "tempo_bpm", "loudness_db", "fade"])))
        elif kind == "goal":
            lines.append(f"goal {rng.uniform(-1.2, 1.2)} {rng.uniform(-1, 1)}")
        elif kind == "junk":
            lines.append(str(rng.choice(["pin tempo_bpm nan", "goal inf", "fly", "", "pin"])))
        else:
            lines.append(str(kind))
    times = np.sort(rng.uniform(0, total_s, len(lines)))
    return list(zip(times.tolist(), lines, strict=True))


def _check_session(seed):
    """One short simulated session with random commands; return the ticks that broke the
    envelope or a slew limit (checked on every tick) and the number of commands."""
    from attune.engine.envelope import phrase_s
    from attune.sessions.build import build_engine

    rng = np.random.default_rng(seed)
    cfg = CFG.model_copy(update={"phases": _SHORT, "seed": seed})
    listener = SimulatedListener(seed=seed, arousal0=float(rng.uniform(-0.8, 0.8)))
    engine = build_engine(
        cfg,
        sources=listener.sources(),
        synths=[],
        listeners=[lambda t, p: hear_music(listener, t, p)],
    )
    ctrl = engine.controller
    env = ctrl.envelope
    script = _random_script(rng, _SHORT.total_s)
    commands = ScriptedCommands(script)
    clock = VirtualClock(tick_s=DT)
    clock.begin()
    bad, prev, last_mode_t = [], None, -np.inf
    rejected = 0
    for _ in range(int(_SHORT.total_s / DT)):
        t = clock.next_tick()
        rejected += len(commands.poll(t, ctrl.command))
        d = engine.step(t).decision
        p = d.params
        # only a fade toward silence may be faster, and only in an emergency stop
        errs = env.violations(prev, p, DT, exempt=("fade",) if d.stopped else ())
        if d.stopped and prev is not None and p.fade > prev.fade:
            errs.append("fade rose during an emergency stop")
        if prev is not None and p.mode != prev.mode:
            if t - last_mode_t < phrase_s(prev.tempo_bpm) - 1e-9:
                errs.append("mode stepped twice in a phrase")
            last_mode_t = t
        if p.loudness_db > -12.0 or not 40.0 <= p.tempo_bpm <= 160.0:
            errs.append("outside the global hard limits")
        bad += [f"seed {seed} t={t}: {e}" for e in errs]
        prev = p
    return bad, len(script), rejected


HARD = {
    "tempo_bpm": (40.0, 160.0),
    "loudness_db": (-60.0, -6.0),
    "tension": (0.0, 1.0),
    "brightness": (0.0, 1.0),
    "density": (0.0, 1.0),
    "register_st": (-12.0, 12.0),
    "fade": (0.0, 1.0),
    "mode": (0.0, 6.0),
}


def test_ten_sessions_with_random_commands_stay_in_the_envelope_on_every_tick():
    results = [_check_session(seed) for seed in range(10)]
    assert [b for bad, _, _ in results for b in bad] == []
    assert sum(n for _, n, _ in results) > 50 and sum(r for _, _, r in results) > 5


@pytest.mark.slow
def test_a_hundred_sessions_with_random_commands_stay_in_the_envelope_on_every_tick():
    results = [_check_session(seed) for seed in range(100, 200)]
    assert [b for bad, _, _ in results for b in bad] == []
