"""What the console page shows, as JSON-ready dicts: one *hello* per session, one *frame* per tick.

A frame is built from the tick's recorded row (the store's ``ticks`` columns, so the page
shows exactly what the store keeps) and the event texts of that tick; a running session
adds what the store does not keep (each sensor's age, the protocol clock, the measured
output level) as *extras*. The same builder serves a live session (fed by the runner) and
a session followed through its store (``attune console SESSION``).

Alarms follow the shared convention: an event ``ALARM <priority> <code>: <message>``
(priority high, medium or low) raises one; ``ack CODE`` acknowledges it.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from attune.sessions.config import SessionConfig
from attune.synthesis.params import BOUNDS, PARAM_NAMES

#: Feature traces the page draws (row column -> label); None means "not enough data yet".
TRACES: dict[str, str] = {
    "hr_bpm": "heart rate (bpm)",
    "ln_rmssd": "ln RMSSD (ln ms)",
    "eeg_alpha_ln": "EEG alpha (ln power)",
    "eeg_theta_ln": "EEG theta (ln power)",
    "eeg_beta_ln": "EEG beta (ln power)",
}
#: An alarm event: priority, code, message.
ALARM_RE = re.compile(r"^ALARM (high|medium|low) ([a-z0-9]+(?:-[a-z0-9]+)*):\s*(.*)$")
_ISO_RE = re.compile(r"^iso start arousal=(-?[\d.]+) valence=(-?[\d.]+)")
_GOAL_RE = re.compile(r"^override: goal arousal=(-?[\d.]+) valence=(-?[\d.]+)")
_PIN_RE = re.compile(r"^override: pin (\w+)=(\S+)")
_UNPIN_RE = re.compile(r"^override: unpin (\w+)")
_STALE_RE = re.compile(r"^stream '(.+?)' stale")
_RECONNECT_RE = re.compile(r"^stream '(.+?)' reconnected")


def num(x: object) -> float | None:
    """Return ``x`` as a finite float, or None (NULL, NaN, missing)."""
    if x is None:
        return None
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def session_hello(
    cfg: SessionConfig,
    *,
    folder_name: str,
    mode: str,
    controllable: bool,
    sensors: list[dict[str, str]],
    status: str = "running",
) -> dict[str, Any]:
    """Return the static part of the page: session, limits, protocol, sensors.

    Parameters
    ----------
    cfg : SessionConfig
        The session's configuration (from the run, or the store's ``config_toml``).
    folder_name : str
        The session id.
    mode : str
        simulate, replay or live.
    controllable : bool
        False for a finished session or one without a command channel (read-only page).
    sensors : list of dict
        ``{"name": ..., "kind": ...}`` per signal stream.
    status : str
        running, ended, interrupted, failed or crashed.
    """
    from attune.sessions.build import make_envelope, make_plan, starting_params

    env = make_envelope(cfg.safety)
    plan = make_plan(cfg)
    es = cfg.estimator
    return {
        "type": "hello",
        "session": folder_name,
        "name": cfg.name,
        "participant": cfg.participant,
        "mode": mode,
        "status": status,
        "controllable": controllable,
        "tick_s": cfg.tick_s,
        "total_s": plan.end_s,
        "phases": [[p, a, b] for p, a, b in plan.spans],
        "goal": [cfg.goal.arousal, cfg.goal.valence],
        "arousal_axis": "relative" if es.prior_arousal is None else "absolute",
        "valence_axis": "relative" if es.prior_valence is None else "absolute",
        "min_confidence": es.min_confidence,
        "params": list(PARAM_NAMES),
        "limits": {n: list(env.bounds.get(n, BOUNDS[n])) for n in PARAM_NAMES},
        "traces": TRACES,
        "sensors": sensors,
        "starting_loudness_db": starting_params(cfg).loudness_db,
    }


@dataclass
class _State:
    """What the builder carries from tick to tick (derived from events)."""

    goal: tuple[float, float]
    iso_start: tuple[float, float] | None = None
    pins: dict[str, float] = field(default_factory=dict)
    paused: bool = False
    stopped: bool = False
    ending: bool = False
    fallback: bool = False
    reasons: dict[str, dict[str, Any]] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    reconnects: dict[str, int] = field(default_factory=dict)
    alarms: dict[str, dict[str, Any]] = field(default_factory=dict)


class FrameBuilder:
    """Turn tick rows and events into page frames, keeping the state events imply.

    Parameters
    ----------
    cfg : SessionConfig
        The session (goal, minimum confidence).
    """

    def __init__(self, cfg: SessionConfig) -> None:
        self.min_conf = cfg.estimator.min_confidence
        self.state = _State(goal=(cfg.goal.arousal, cfg.goal.valence))
        self.seq = 0

    def _events(self, t: float, events: list[str]) -> list[dict[str, Any]]:
        """Update the state from this tick's events; return the alarms they raise."""
        st = self.state
        raised = []
        for text in events:
            if m := ALARM_RE.match(text):
                alarm = {
                    "t": t,
                    "priority": m.group(1),
                    "code": m.group(2),
                    "message": m.group(3),
                    "acked": False,
                }
                st.alarms[m.group(2)] = alarm
                raised.append(alarm)
                if s := _STALE_RE.match(m.group(3)):  # a stale sensor is also a drop
                    st.drops[s.group(1)] = st.drops.get(s.group(1), 0) + 1
            elif text.startswith("ack "):
                code = text[4:].strip()
                if code in st.alarms:
                    st.alarms[code]["acked"] = True
            elif m := _ISO_RE.match(text):
                st.iso_start = (float(m.group(1)), float(m.group(2)))
            elif m := _GOAL_RE.match(text):
                st.goal = (float(m.group(1)), float(m.group(2)))
            elif m := _PIN_RE.match(text):
                st.pins[m.group(1)] = float(m.group(2))
            elif m := _UNPIN_RE.match(text):
                st.pins.pop(m.group(1), None)
            elif text.startswith("override: pause"):
                st.paused = True
            elif text.startswith("override: resume"):
                st.paused = st.stopped = False
            elif text.startswith("override: EMERGENCY STOP"):
                st.stopped = True
            elif text.startswith("session ending"):
                st.ending = True
            elif text.startswith("fallback:"):
                st.fallback = True
            elif text.startswith("resume: confidence restored"):
                st.fallback = False
            elif m := _STALE_RE.match(text):
                st.drops[m.group(1)] = st.drops.get(m.group(1), 0) + 1
            elif m := _RECONNECT_RE.match(text):
                st.reconnects[m.group(1)] = st.reconnects.get(m.group(1), 0) + 1
        return raised

    def _reason(self, name: str, hold: bool) -> str:
        st = self.state
        if name in st.pins:
            return "pin"
        if name == "fade" and st.stopped:
            return "emergency stop"
        if name == "fade" and st.ending:
            return "end (fade out)"
        if st.paused:
            return "pause"
        if st.fallback:
            return "fallback"
        if hold:
            return "hold"
        return "controller"

    def frame(
        self,
        row: dict[str, Any],
        events: list[str],
        extras: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Return the page frame of one tick.

        Parameters
        ----------
        row : dict
            The tick's store row (column -> value).
        events : list of str
            Event texts recorded at this tick.
        extras : dict, optional
            ``sensors`` (list of dicts: name, kind, age_s, quality), ``remaining_s``,
            ``level`` (measured output level), ``paused``/``stopped``/``fallback``
            (authoritative flags of a running session).
        """
        extras = extras or {}
        t = float(row["t_s"])
        raised = self._events(t, events)
        st = self.state
        for flag in ("paused", "stopped", "fallback"):
            if flag in extras:
                setattr(st, flag, bool(extras[flag]))
        hold = bool(row.get("hold") or 0)
        params = {n: num(row.get(n)) for n in PARAM_NAMES}
        for n, v in params.items():
            if v is None:
                continue
            old = st.last.get(n)
            if old is None or abs(v - old) > 1e-9:
                st.reasons[n] = {"reason": self._reason(n, hold), "t": t}
            st.last[n] = v
        conf = num(row.get("confidence")) or 0.0
        vconf = num(row.get("valence_confidence")) or 0.0
        sensors = []
        for s in extras.get("sensors", []):
            name = s["name"]
            sensors.append(
                {
                    **s,
                    "drops": st.drops.get(name, 0),
                    "reconnects": st.reconnects.get(name, 0),
                    "latency_ms": num(row.get("latency_ms")),
                }
            )
        self.seq += 1
        return {
            "type": "tick",
            "seq": self.seq,
            "t": t,
            "wall_ms": time.time() * 1e3,
            "phase": row.get("phase") or "",
            "remaining_s": num(extras.get("remaining_s")),
            "arousal": num(row.get("arousal")),
            "valence": num(row.get("valence")),
            "confidence": conf,
            "valence_confidence": vconf,
            "arousal_measured": conf >= self.min_conf,
            "valence_measured": vconf >= self.min_conf,
            "target": [num(row.get("target_arousal")), num(row.get("target_valence"))],
            "music_arousal": num(row.get("music_arousal")),
            "goal": list(st.goal),
            "iso_start": None if st.iso_start is None else list(st.iso_start),
            "hold": hold,
            "paused": st.paused,
            "stopped": st.stopped,
            "ending": st.ending,
            "fallback": st.fallback,
            "params": params,
            "reasons": {n: dict(r) for n, r in st.reasons.items()},
            "pins": dict(st.pins),
            "traces": {k: num(row.get(k)) for k in TRACES},
            "sensors": sensors,
            "latency_ms": num(row.get("latency_ms")),
            "alarms": raised,
            "acked": [c for c, a in st.alarms.items() if a["acked"]],
            "events": list(events),
            "level": extras.get("level"),
        }
