"""The controller: protocol, control law and safety envelope composed into one tick.

One tick (:meth:`Controller.update`, after :meth:`Controller.begin_tick` applied the
therapist's queued commands):

1. the protocol (:mod:`attune.engine.protocol`) says where in the session we are and
   where the listener should be (the iso-principle target);
2. the control law (:mod:`attune.engine.control_law`, :meth:`ControlLaw.decide`)
   decides where the music should go (the cue model
   :func:`attune.synthesis.params.params_for` turns an expressed arousal and valence
   into parameters);
3. the safety envelope (:mod:`attune.engine.envelope`, :meth:`Envelope.step`) moves
   the music from where it is toward that wish within its slew and bound limits, with
   the therapist's pins, the emergency stop and the graceful end.

Therapist overrides (:meth:`Controller.pin`, :meth:`Controller.set_goal`, ...)
    Commands are validated (:func:`parse_command`), queued and applied at the start of
    the next tick (:meth:`attune.engine.protocol.SessionProtocol.apply_command`), each
    recorded as an event. The emergency stop fades to silence within
    ``estop_fade_s`` (the synth's 1 s fade ramp comes on top, < 2 s to silence) and
    wins over everything until :meth:`Controller.resume`. :meth:`Controller.end`
    (Ctrl-C, SIGTERM, ``attune control FOLDER end``) fades out at the normal rate,
    pins included, and the session runner stops once the music is silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from attune.engine.affect import AffectEstimate
from attune.engine.control_law import ControlLaw, LawSettings
from attune.engine.envelope import Envelope, phrase_s
from attune.engine.protocol import (
    COMMANDS,
    PHASES,
    PLAYING,
    CommandError,
    Phase,
    PhasePlan,
    SelfReport,
    SessionProtocol,
    parse_command,
)
from attune.engine.response import ResponseLearner, ResponseState
from attune.synthesis.params import MusicParams, music_arousal

__all__ = [
    "COMMANDS",
    "PHASES",
    "PLAYING",
    "CommandError",
    "Controller",
    "Decision",
    "Envelope",
    "Phase",
    "PhasePlan",
    "SelfReport",
    "parse_command",
    "phrase_s",
]


@dataclass(frozen=True)
class Decision:
    """What the controller decided at one tick.

    Attributes
    ----------
    params : MusicParams
        The parameters to play: inside the session's envelope, every parameter within
        its slew limit (pins included); only the fade may fall faster, during an
        emergency stop.
    phase : str
        Protocol phase at the tick.
    target_arousal, target_valence : float or None
        Where the listener should be now (None during baseline).
    music_arousal : float
        Arousal the played parameters express (cue model), [-1, 1].
    hold : bool
        True when low confidence kept the parameters where they were (or, after the
        hold timeout, drifting to the neutral preset).
    events : tuple of str
        Things worth a line in the session record (phase changes, holds, fallbacks,
        mode steps, therapist commands).
    overridden : tuple of str
        Parameters a therapist override steered this tick (pins; ``fade`` during an
        emergency stop or the graceful end).
    paused : bool
        True while the therapist has paused the protocol.
    stopped : bool
        True after an emergency stop (until resumed).
    fallback : bool
        True while drifting to the neutral preset for lack of trustworthy data.
    """

    params: MusicParams
    phase: str
    target_arousal: float | None
    target_valence: float | None
    music_arousal: float
    hold: bool
    events: tuple[str, ...] = field(default=())
    overridden: tuple[str, ...] = field(default=())
    paused: bool = False
    stopped: bool = False
    fallback: bool = False


class Controller:
    """Closed-loop controller from affect estimate to music parameters.

    See the module docstring for how the protocol, the law and the envelope compose.

    Parameters
    ----------
    plan : PhasePlan
        Protocol phases.
    envelope : Envelope
        Safety envelope (its ``estop_fade_s`` is set from the argument of that name).
    goal_arousal, goal_valence : float
        Where the session should lead the listener.
    start : MusicParams
        Parameters before the first fade-in (their fade is forced to 0).
    tick_s : float
        Tick period, seconds.
    law : LawSettings
        Gains and hold rules of the control law (``law.enabled`` False freezes the
        music at ``start``; fades still follow the protocol and overrides still apply).
    transition_shape : {"linear", "cosine"}
        Shape of the iso-principle trajectory.
    goal_ramp_s : float
        Shortest ramp of the target to a goal changed by the therapist, seconds.
    recovery_silence_s : float
        Silence at the end of the recovery phase, seconds (the music tapers to the
        neutral preset before it, then fades out at the normal fade-out rate).
    response_prior : ResponseState, optional
        What a previous visit learned of this listener's response (the learner's prior;
        used only with ``law.learn_response``).

    Response learning (``law.learn_response``)
        From the start of the transition :class:`attune.engine.response.ResponseLearner`
        tracks how the measured arousal answers the music. When it latches
        ``paradoxical`` the event ``ALARM high paradoxical-response: ...`` is raised,
        when it latches ``none`` ``ALARM medium no-response: ...``; either way the music
        returns to the neutral preset through the envelope (slew limits) and stays
        there. A strong response is noted once (``response: strong ...``).

    Notes
    -----
    Not thread-safe: call the therapist methods from the thread that ticks (the
    session runner polls its command channel between ticks).
    """

    def __init__(
        self,
        *,
        plan: PhasePlan,
        envelope: Envelope,
        goal_arousal: float,
        goal_valence: float,
        start: MusicParams,
        tick_s: float,
        law: LawSettings,
        transition_shape: Literal["linear", "cosine"],
        goal_ramp_s: float,
        recovery_silence_s: float,
        response_prior: ResponseState | None = None,
    ) -> None:
        self.envelope = envelope
        self.protocol = SessionProtocol(
            plan=plan,
            goal=(goal_arousal, goal_valence),
            tick_s=tick_s,
            transition_shape=transition_shape,
            goal_ramp_s=goal_ramp_s,
        )
        self.start = start.with_(fade=0.0).clipped(self.envelope.bounds)
        self.law = ControlLaw(
            bounds=self.envelope.bounds,
            start=self.start,
            tick_s=tick_s,
            settings=law,
        )
        self.params = self.start
        self.tick_s = tick_s
        self.recovery_silence_s = recovery_silence_s
        self.last_mode_step_t = -np.inf
        self.response: ResponseLearner | None = None
        if law.learn_response and law.enabled:
            self.response = ResponseLearner(
                tick_s=tick_s, settings=law.response, prior=response_prior
            )
        self._said: set[str] = set()
        self._lever_ref: MusicParams | None = None

    # ------------------------------------------------------------ therapist API
    def pin(self, name: str, value: float) -> None:
        """Pin parameter ``name`` at ``value``: the music moves there at the slew limits."""
        self.command(f"pin {name} {value!r}")

    def unpin(self, name: str = "all") -> None:
        """Release the pin on ``name`` (or ``"all"``); it returns to the law at the slew limits."""
        self.command(f"unpin {name}")

    def set_goal(self, arousal: float, valence: float | None = None) -> None:
        """Change the session goal; the target ramps to it (see the module docstring)."""
        self.command(f"goal {arousal!r}" + ("" if valence is None else f" {valence!r}"))

    def pause(self) -> None:
        """Freeze the protocol clock and the law; the music holds where it is."""
        self.command("pause")

    def resume(self) -> None:
        """Resume after :meth:`pause` or :meth:`emergency_stop` (the music fades back in)."""
        self.command("resume")

    def skip_phase(self) -> None:
        """End the current protocol phase now and go on with the next one."""
        self.command("skip")

    def emergency_stop(self) -> None:
        """Fade to silence within ``estop_fade_s`` (plus the synth's 1 s ramp), and stay silent."""
        self.command("estop")

    def end(self) -> None:
        """End the session gracefully: fade out at the normal rate, whatever is pinned."""
        self.command("end")

    def command(self, line: str) -> None:
        """Validate a command line and queue it for the next tick.

        The grammar is :func:`parse_command`'s; a pin must also lie inside the session's
        safety envelope (:meth:`attune.engine.envelope.Envelope.check_pin`).

        Raises
        ------
        CommandError
            If the command is invalid or outside the envelope (nothing is queued); the
            message names the limit.
        """
        verb, args = parse_command(line)
        if verb == "pin":
            self.envelope.check_pin(*args)
        if verb == "feeling":
            raise CommandError("feeling: this session has no feeling scorer (use 'sam' instead)")
        self.protocol.queue((verb, args))

    def self_report(
        self,
        arousal: float,
        valence: float,
        kind: str = "during",
        *,
        source: str = "channel",
        text: str | None = None,
    ) -> None:
        """Queue the listener's SAM rating (1..9) for the next tick, with where it came from.

        The engine hands it to the estimator (an intake sets the starting point, a
        rating during the session anchors the estimate) and the session record stores
        it; ``text`` is a described feeling it was scored from (kept only with consent).

        Raises
        ------
        CommandError
            If a rating is outside 1..9 or ``kind`` is not pre, during or post.
        """
        verb, args = parse_command(f"sam {float(arousal)!r} {float(valence)!r} {kind}")
        self.protocol.queue((verb, (*args, source, text)))

    def take_self_reports(self) -> tuple[SelfReport, ...]:
        """Return and clear the self-reports applied at this tick (after :meth:`begin_tick`)."""
        return self.protocol.take_self_reports()

    @property
    def ending(self) -> bool:
        """True once the graceful end has been applied."""
        return self.protocol.ending

    @property
    def goal(self) -> tuple[float, float]:
        """The session goal (arousal, valence)."""
        return self.protocol.goal

    # ------------------------------------------------------------ one tick
    def protocol_time(self, t: float) -> float:
        """Protocol-clock time for session time ``t``, seconds."""
        return self.protocol.protocol_time(t)

    def begin_tick(self, t: float) -> str:
        """Apply queued commands for the tick at ``t`` and return its protocol phase.

        Called once per tick by :class:`attune.engine.loop.Engine`, before the affect
        estimate (so the estimator knows whether the baseline is still running), then
        :meth:`update`. Idempotent for one ``t``.
        """
        return self.protocol.begin_tick(t)

    def update(self, est: AffectEstimate) -> Decision:
        """Decide the parameters for the tick at ``est.t`` (after :meth:`begin_tick`).

        Raises
        ------
        RuntimeError
            If :meth:`begin_tick` was not called for ``est.t``.
        """
        t = est.t
        pr = self.protocol
        if not pr.began(t):
            raise RuntimeError(f"Controller.update: begin_tick({t!r}) was not called first")
        phase, _p_start, p_end = pr.enter(t, est.arousal, est.valence)
        ta, tv = pr.target(t, est.arousal, est.valence)
        events = pr.take_events()
        learner = self.response
        if learner is not None and phase in ("transition", "maintain"):
            self._learn(learner, est, phase, events)
        want, hold, fallback = self.law.decide(
            est,
            phase=phase,
            target=(ta, tv),
            iso_start=pr.iso_start,
            paused=pr.paused,
            played=self.params,
            events=events,
            response=learner,
        )
        want = want.with_(fade=self._fade_target(phase, pr.protocol_time(t), p_end))
        new, overridden, mode_stepped = self.envelope.step(
            self.params,
            want,
            self.tick_s,
            since_mode_step_s=t - self.last_mode_step_t,
            pins=pr.pins,
            ending=pr.ending,
            stopped=pr.stopped,
        )
        if mode_stepped is not None:
            self.last_mode_step_t = t
            events.append(f"mode -> {mode_stepped} (from the next phrase)")
        self.params = new
        if learner is not None:
            learner.hear(music_arousal(new) * float(new.fade))
        return Decision(
            params=new,
            phase=phase,
            target_arousal=None if ta is None else float(ta),
            target_valence=None if tv is None else float(tv),
            music_arousal=music_arousal(new),
            hold=hold,
            events=tuple(events),
            overridden=overridden,
            paused=pr.paused,
            stopped=pr.stopped,
            fallback=fallback,
        )

    def _learn(
        self, learner: ResponseLearner, est: AffectEstimate, phase: str, events: list[str]
    ) -> None:
        """Update the response learner; raise its alarms and notes as events."""
        if learner.ref is None:
            learner.start(est.t, est.arousal, self.protocol.goal[0])
            self._lever_ref = self.params
            if learner.cautious and learner.carried is not None:
                events.append(
                    f"carry-over: the previous visit ended '{learner.carried.verdict}' "
                    f"(gain {learner.carried.gain:+.2f}); the music rests at the neutral preset"
                )
        if self.protocol.paused:
            return
        was = learner.state.verdict
        st = learner.update(est.t, est.arousal, est.confidence)
        if self._lever_ref is not None:
            ref = self._lever_ref.__dict__
            st.levers = {
                n: float(self.params.__dict__[n]) - float(ref[n])
                for n in ("tempo_bpm", "loudness_db", "density", "register_st")
            }
        if st.verdict == was or st.verdict in self._said:
            return
        ci = f"gain {st.gain:+.2f} +- {learner.s.k_sigma * st.gain_sd:.2f}"
        if learner.latched and st.verdict == "paradoxical":
            events.append(
                f"ALARM high paradoxical-response: measured arousal moved {st.wrong_way:.2f} "
                f"away from the goal while the music moved {st.excursion:.2f} toward it "
                f"({ci}); the music returns to the neutral preset"
            )
        elif learner.latched and st.verdict == "none":
            events.append(
                f"ALARM medium no-response: the music moved {st.excursion:.2f} toward the "
                f"goal without moving the measured arousal ({ci}); the music rests at the "
                "neutral preset"
            )
        elif st.verdict == "strong":
            events.append(f"response: strong ({ci}): the lead is reduced")
        else:
            return
        self._said.add(st.verdict)

    def _fade_target(self, phase: str, tau: float, p_end: float) -> float:
        """Return the protocol's fade: full while playing, out before the recovery's silence."""
        if phase in PLAYING:
            return 1.0
        if phase == "recovery":
            fade_out_s = 1.0 / self.envelope.slew_per_s["fade"]
            return 1.0 if tau < p_end - self.recovery_silence_s - fade_out_s else 0.0
        return 0.0
