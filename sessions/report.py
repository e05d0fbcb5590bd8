"""The session report: one self-contained HTML page with figures and a summary table.

:func:`write_report` reads a session folder's store (:func:`attune.sessions.store.load_session`)
and writes ``report.html`` beside it (mode 0600): the session header and status, a
summary table (baseline against end, time to target, holds, beats, compute time),
figures of the arousal-valence estimate against the target, the heart (HR, HRV,
tachogram), the EEG, the music parameters within the safety envelope and signal
quality, and the events and annotations. Figures are matplotlib PNGs embedded as base64;
the page has inline CSS, no scripts and no external resources, so it can be mailed or
archived as it is.

matplotlib is imported inside :func:`write_report` (``attune --help`` must not pay for
it) and drawn through its object API (``matplotlib.figure.Figure`` with the Agg canvas),
never through pyplot: no global figure state, no GUI backend.

Every column may be missing or all-NaN (a replay with only an RR stream has no EEG, a
session that crashed after 30 s has no HRV yet): empty panels are left out or carry a
note, and nothing warns.
"""

from __future__ import annotations

import base64
import html
import io
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from attune.sessions.record import private_open
from attune.sessions.sealed import seal_folder
from attune.sessions.selfreport import SelfReport, read_reports, summarize
from attune.sessions.simulated_run import TARGET_BAND, TARGET_HOLD_S, time_to_band
from attune.sessions.store import SessionData, is_relative, load_session

#: File name of the report inside a session folder.
REPORT_FILE = "report.html"
#: Lines are drawn with at most about this many points (stride decimation).
MAX_PLOT_POINTS = 3000
#: The "end" of a session in the summary: the last this many seconds.
END_WINDOW_S = 60.0
#: Figure width (inches) and resolution (dots per inch): 1100 px, readable at 100 %.
FIG_WIDTH_IN = 11.0
FIG_DPI = 100

#: Mode names by index (attune.synthesis.params.MODES, capitalised for display).
MODE_LABELS = ("Lydian", "Ionian", "Mixolydian", "Dorian", "Aeolian", "Phrygian", "Locrian")

#: One colour per meaning, the same in every figure.
COLORS = {
    "estimate": "#1f5fa8",
    "target": "#111111",
    "true": "#2e9e44",
    "goal": "#d4ac0d",
    "hold": "#d62728",
    "limit": "#c0392b",
    "event": "#555555",
    "annotation": "#8e44ad",
    "hr": "#c0392b",
    "rmssd": "#1f5fa8",
    "sdnn": "#16a085",
    "rr": "#34495e",
    "alpha": "#1f5fa8",
    "theta": "#2e9e44",
    "beta": "#e67e22",
    "engagement": "#8e44ad",
    "faa": "#16a085",
    "tempo": "#1f5fa8",
    "loudness": "#c0392b",
    "mode": "#8e44ad",
    "tension": "#e67e22",
    "brightness": "#d4ac0d",
    "density": "#2e9e44",
    "fade": "#34495e",
    "hrv_quality": "#c0392b",
    "eeg_quality": "#1f5fa8",
    "confidence": "#111111",
    "valence_confidence": "#8e44ad",
    "selfreport": "#ff7f0e",
}
#: Background shading of the protocol phases.
PHASE_COLORS = {
    "baseline": "#d9d9d9",
    "match": "#c6dbef",
    "transition": "#fde0b2",
    "maintain": "#c7e9c0",
    "recovery": "#dadaeb",
}
#: Fixed margins of the time-series figures (inches), so that the time axes of all
#: figures line up on the page; legends go in the right margin.
MARGIN_LEFT_IN, MARGIN_RIGHT_IN, MARGIN_TOP_IN, MARGIN_BOTTOM_IN = 1.1, 2.45, 0.75, 0.6

_STATUS_TEXT = {
    "ended": "Ended normally.",
    "interrupted": "Interrupted: the session was stopped before its planned end. "
    "This report covers the recorded part.",
    "crashed": "Crashed: the process recording this session died before closing it. "
    "This report covers the recorded part (saved up to about one second before the "
    "crash).",
    "failed": "Failed: an error stopped the session.",
    "running": "Still running (or its process is on another computer): this report covers "
    "the part recorded so far.",
}


# --------------------------------------------------------------------------- helpers


def _finite(x: np.ndarray) -> bool:
    """Return True if ``x`` holds at least one finite value."""
    return bool(x.size) and bool(np.isfinite(x).any())


def _median(x: np.ndarray) -> float | None:
    """Median of the finite values of ``x`` (None if there are none; never warns)."""
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else None


def _percentile(x: np.ndarray, q: float) -> float | None:
    x = x[np.isfinite(x)]
    return float(np.percentile(x, q)) if x.size else None


def mmss(t_s: float) -> str:
    """Format a session time in seconds as ``m:ss`` (minutes unbounded, e.g. ``75:03``)."""
    t = int(round(max(0.0, float(t_s))))
    return f"{t // 60}:{t % 60:02d}"


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop indices (stop exclusive) of the runs of True in ``mask``."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _phase_spans(phase: np.ndarray, t: np.ndarray, tick_s: float) -> list[tuple[str, float, float]]:
    """``(name, start_s, end_s)`` of each run of equal phase labels."""
    if phase.size == 0:
        return []
    change = np.flatnonzero(phase[1:] != phase[:-1]) + 1
    starts = np.concatenate(([0], change))
    stops = np.concatenate((change, [phase.size]))
    return [
        (str(phase[a]), float(t[a]), float(t[b - 1] + tick_s))
        for a, b in zip(starts, stops, strict=True)
    ]


@dataclass(frozen=True)
class _Limits:
    """What the report needs from the session configuration."""

    goal_arousal: float | None
    goal_valence: float | None
    tempo: tuple[float, float] | None
    loudness: tuple[float, float] | None
    tension_max: float | None
    min_confidence: float | None
    planned_s: float | None
    note: str


def _limits(config_toml: str | None) -> _Limits:
    """Goal, safety envelope and hold threshold from the stored configuration text.

    A configuration that no longer validates (written by another version) is read
    section by section; what cannot be read is left out and said in ``note``.
    """
    from attune.sessions.config import ConfigError, Estimator, Goal, Phases, Safety, validate_config

    if not config_toml:
        return _Limits(None, None, None, None, None, None, None, "no configuration stored")
    try:
        raw = tomllib.loads(config_toml)
    except tomllib.TOMLDecodeError as e:
        return _Limits(None, None, None, None, None, None, None, f"unreadable TOML ({e})")
    note = ""
    try:
        cfg = validate_config(raw, source="stored configuration")
        goal, safety, est, phases = cfg.goal, cfg.safety, cfg.estimator, cfg.phases
    except ConfigError as e:
        note = f"{e}; limits read section by section"
        parts: list[Any] = []
        for model, key in (
            (Goal, "goal"),
            (Safety, "safety"),
            (Estimator, "estimator"),
            (Phases, "phases"),
        ):
            try:
                parts.append(model.model_validate(raw.get(key, {})))
            except Exception:  # noqa: BLE001 - any validation failure: leave it out
                parts.append(None)
        goal, safety, est, phases = parts
    return _Limits(
        goal_arousal=goal.arousal if goal else None,
        goal_valence=goal.valence if goal else None,
        tempo=(safety.tempo_bpm_min, safety.tempo_bpm_max) if safety else None,
        loudness=(safety.loudness_db_min, safety.loudness_db_max) if safety else None,
        tension_max=safety.tension_max if safety else None,
        min_confidence=est.min_confidence if est else None,
        planned_s=phases.total_s if phases else None,
        note=note,
    )


# --------------------------------------------------------------------------- figures


class _Plotter:
    """Draws the report's figures of one session (shared time axis, phases, marks)."""

    def __init__(
        self, data: SessionData, limits: _Limits, reports: Sequence[SelfReport] = ()
    ) -> None:
        from matplotlib.ticker import FuncFormatter, MultipleLocator

        self._FuncFormatter, self._MultipleLocator = FuncFormatter, MultipleLocator
        self.data = data
        self.limits = limits
        tk = data.ticks
        self.t = tk["t_s"]
        n = self.t.size
        self.tick_s = float(data.meta.get("tick_s") or (self.t[1] - self.t[0] if n > 1 else 0.25))
        self.stride = max(1, int(np.ceil(n / MAX_PLOT_POINTS)))
        self.ts = self.t[:: self.stride]
        self.t_end = float(self.t[-1] + self.tick_s) if n else 0.0
        self.phases = _phase_spans(tk["phase"], self.t, self.tick_s) if "phase" in tk else []
        hold = self.col("hold")
        a, b = _runs(np.nan_to_num(hold) > 0.5)
        self.holds = [
            (float(self.t[i]), float(self.t[j - 1] + self.tick_s))
            for i, j in zip(a, b, strict=True)
        ]
        self.axes_width_in = FIG_WIDTH_IN - MARGIN_LEFT_IN - MARGIN_RIGHT_IN
        self.ev_t = np.array([e[0] for e in data.events], dtype=float)
        self.ann_t = np.array([e[0] for e in data.annotations], dtype=float)
        self.reports = list(reports)

    def col(self, name: str) -> np.ndarray:
        """Return a tick column as float64 (all-NaN if the session has no such column)."""
        x = self.data.ticks.get(name)
        if x is None:
            return np.full(self.t.size, np.nan)
        return np.asarray(x, dtype=float)

    def sc(self, name: str) -> np.ndarray:
        """Return a tick column decimated for plotting."""
        return self.col(name)[:: self.stride]

    def has(self, *names: str) -> bool:
        """Return True if any of the columns has a finite value."""
        return any(_finite(self.col(n)) for n in names)

    # -- figure scaffolding

    def figure(self, n_rows: int, height_in: float, title: str, ratios=None):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(FIG_WIDTH_IN, height_in), dpi=FIG_DPI)
        axes = fig.subplots(
            n_rows,
            1,
            sharex=True,
            squeeze=False,
            gridspec_kw={"height_ratios": ratios} if ratios else None,
        )[:, 0]
        fig.subplots_adjust(
            left=MARGIN_LEFT_IN / FIG_WIDTH_IN,
            right=1.0 - MARGIN_RIGHT_IN / FIG_WIDTH_IN,
            top=1.0 - MARGIN_TOP_IN / height_in,
            bottom=MARGIN_BOTTOM_IN / height_in,
            hspace=0.38 / max(1.0, height_in / n_rows - 0.2) * 1.0,
        )
        fig.suptitle(title, fontsize=13, fontweight="bold", x=0.01, ha="left")
        for ax in axes:
            self.decorate(ax)
        self.phase_labels(axes[0])
        self.time_axis(axes[-1])
        return fig, axes

    def time_axis(self, ax) -> None:
        span = max(self.t_end, self.tick_s)
        step = next(
            (s for s in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600) if span / s <= 14), 7200
        )
        ax.xaxis.set_major_locator(self._MultipleLocator(step))
        ax.xaxis.set_major_formatter(self._FuncFormatter(lambda x, _pos: mmss(x)))
        ax.set_xlim(0.0, span)
        ax.set_xlabel("Session time (min:s)")

    def decorate(self, ax) -> None:
        """Phase shading, hold periods, event and annotation marks, grid."""
        for _name, a, _b in self.phases[1:]:
            ax.axvline(a, color="#808080", lw=0.9, ls=(0, (4, 3)), zorder=0.4)
        for a, b in self.holds:
            ax.axvspan(a, b, color=COLORS["hold"], alpha=0.18, lw=0, zorder=0.5)
        xf = ax.get_xaxis_transform()
        if self.ev_t.size:
            ax.plot(
                self.ev_t,
                np.zeros_like(self.ev_t),
                ls="none",
                marker="^",
                ms=6,
                color=COLORS["event"],
                transform=xf,
                clip_on=False,
                zorder=5,
            )
        if self.ann_t.size:
            ax.plot(
                self.ann_t,
                np.zeros_like(self.ann_t),
                ls="none",
                marker="^",
                ms=8,
                color=COLORS["annotation"],
                transform=xf,
                clip_on=False,
                zorder=6,
            )
        ax.grid(True, color="#ffffff", lw=0.8, alpha=0.9, zorder=0.6)
        ax.grid(True, axis="y", color="#c8c8c8", lw=0.5, zorder=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)

    def phase_labels(self, ax) -> None:
        """Draw a ribbon above the axes: one shaded, named box per protocol phase."""
        from matplotlib.patches import Rectangle

        xf = ax.get_xaxis_transform()
        span = max(self.t_end, self.tick_s)
        for name, a, b in self.phases:
            ax.add_patch(
                Rectangle(
                    (a, 1.015),
                    b - a,
                    0.085,
                    transform=xf,
                    clip_on=False,
                    facecolor=PHASE_COLORS.get(name, "#f2f2f2"),
                    edgecolor="white",
                    lw=1.0,
                )
            )
            # Axes width in inches over ~0.068 in per character at 9 pt: shorten to fit.
            fits = int((b - a) / span * self.axes_width_in / 0.068)
            label = name if len(name) <= fits else name[: fits - 1] + "." if fits >= 4 else ""
            if label:
                ax.text(
                    (a + b) / 2,
                    1.057,
                    label,
                    transform=xf,
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="#333333",
                )

    def legend_extras(self) -> list:
        """Proxy artists for hold periods, events and annotations (when there are any)."""
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        out: list = []
        if self.holds:
            out.append(Patch(color=COLORS["hold"], alpha=0.18, label="hold (music frozen)"))
        if self.ev_t.size:
            out.append(Line2D([], [], ls="none", marker="^", color=COLORS["event"], label="event"))
        if self.ann_t.size:
            out.append(
                Line2D(
                    [],
                    [],
                    ls="none",
                    marker="^",
                    ms=8,
                    color=COLORS["annotation"],
                    label="annotation",
                )
            )
        return out

    @staticmethod
    def legend(ax, extra=(), ncol: int | None = None) -> None:
        handles, _labels = ax.get_legend_handles_labels()
        handles = handles + list(extra)
        if handles:
            ax.legend(
                handles=handles,
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
                fontsize=9,
                frameon=False,
                ncol=ncol or 1,
            )

    @staticmethod
    def empty(ax, text: str) -> None:
        ax.text(
            0.5,
            0.5,
            text,
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=10,
            color="#777777",
        )
        ax.set_yticks([])

    # -- the figures

    def affect(self):
        lim = self.limits
        fig, axes = self.figure(2, 6.4, _TITLES["affect"])
        specs = (
            (
                "arousal",
                "confidence",
                "target_arousal",
                "sim_arousal",
                lim.goal_arousal,
                "Arousal (-1 calm .. +1 aroused)",
            ),
            (
                "valence",
                "valence_confidence",
                "target_valence",
                "sim_valence",
                lim.goal_valence,
                "Valence (-1 negative .. +1 positive)",
            ),
        )
        for ax, (est, conf, tgt, true, goal, ylabel) in zip(axes, specs, strict=True):
            t = self.ts
            if goal is not None:
                ax.axhspan(
                    goal - TARGET_BAND,
                    goal + TARGET_BAND,
                    color=COLORS["goal"],
                    alpha=0.22,
                    lw=0,
                    zorder=0.7,
                    label=f"goal ±{TARGET_BAND:g}",
                )
                ax.axhline(goal, color=COLORS["goal"], lw=1.2, ls=":", zorder=0.8)
            x, c = self.sc(est), self.sc(conf)
            if _finite(x):
                half = 1.0 - np.clip(np.nan_to_num(c, nan=0.0), 0.0, 1.0)
                ax.fill_between(
                    t,
                    np.clip(x - half, -1, 1),
                    np.clip(x + half, -1, 1),
                    color=COLORS["estimate"],
                    alpha=0.2,
                    lw=0,
                    label="estimate ± (1 − confidence)",
                )
                ax.plot(t, x, color=COLORS["estimate"], lw=1.8, label="estimate")
            if self.has(true):
                ax.plot(
                    t, self.sc(true), color=COLORS["true"], lw=1.3, label="true state (simulated)"
                )
            if self.has(tgt):
                ax.plot(t, self.sc(tgt), color=COLORS["target"], lw=1.4, ls="--", label="target")
            if self.reports:  # the listener's own ratings, on the same -1..+1 scale
                axis = "arousal" if est == "arousal" else "valence"
                ax.plot(
                    [min(max(r.t_s, 0.0), self.t_end) for r in self.reports],
                    [(getattr(r, axis) - 5.0) / 4.0 for r in self.reports],
                    ls="none",
                    marker="D",
                    ms=7,
                    mfc=COLORS["selfreport"],
                    mec="black",
                    clip_on=False,
                    zorder=5,
                    label="self-report (SAM)",
                )
            if _finite(x) and not (np.nan_to_num(c) > 0.0).any():
                ax.text(
                    0.5,
                    0.04,
                    f"{est} confidence was 0 throughout: the estimate stayed at "
                    "its intake prior (no usable input for this axis)",
                    transform=ax.transAxes,
                    ha="center",
                    va="bottom",
                    fontsize=9.5,
                    color="#444444",
                    bbox={"facecolor": "white", "alpha": 0.85, "lw": 0},
                )
            ax.set_ylim(-1.05, 1.05)
            ax.set_ylabel(ylabel)
            self.legend(ax, self.legend_extras() if ax is axes[0] else ())
        return fig

    def plane(self):
        a, v = self.sc("arousal"), self.sc("valence")
        ok = np.isfinite(a) & np.isfinite(v)
        if not ok.any():
            return None
        from matplotlib.figure import Figure

        h = 6.0
        fig = Figure(figsize=(FIG_WIDTH_IN, h), dpi=FIG_DPI)
        # A square plot at the left margin, the colour bar and legend to its right.
        side = h - MARGIN_TOP_IN - MARGIN_BOTTOM_IN
        ax = fig.add_axes(
            (MARGIN_LEFT_IN / FIG_WIDTH_IN, MARGIN_BOTTOM_IN / h, side / FIG_WIDTH_IN, side / h)
        )
        cax = fig.add_axes(
            (
                (MARGIN_LEFT_IN + side + 0.25) / FIG_WIDTH_IN,
                MARGIN_BOTTOM_IN / h,
                0.18 / FIG_WIDTH_IN,
                side / h,
            )
        )
        fig.suptitle(_TITLES["plane"], fontsize=13, fontweight="bold", x=0.01, ha="left")
        ax.axhline(0, color="#bbbbbb", lw=0.8)
        ax.axvline(0, color="#bbbbbb", lw=0.8)
        for x, y, text, ha, va in (
            (-0.97, 0.97, "tense, distressed", "left", "top"),
            (0.97, 0.97, "excited, elated", "right", "top"),
            (-0.97, -0.97, "sad, fatigued", "left", "bottom"),
            (0.97, -0.97, "calm, content", "right", "bottom"),
        ):
            ax.text(x, y, text, ha=ha, va=va, fontsize=9, color="#8a8a8a", style="italic")
        if self.has("sim_arousal", "sim_valence"):
            ax.plot(
                self.sc("sim_valence"),
                self.sc("sim_arousal"),
                color=COLORS["true"],
                lw=0.9,
                alpha=0.6,
                label="true state (simulated listener)",
            )
        pts = ax.scatter(
            v[ok],
            a[ok],
            c=self.ts[ok] / 60.0,
            cmap="viridis",
            s=5,
            zorder=3,
            label="estimate (colour = time)",
        )
        i0, i1 = np.flatnonzero(ok)[[0, -1]]
        ax.plot(
            v[i0],
            a[i0],
            marker="o",
            ms=11,
            mfc="white",
            mec="#111111",
            mew=1.5,
            ls="none",
            zorder=4,
            label=f"start ({mmss(self.ts[i0])})",
        )
        ax.plot(
            v[i1],
            a[i1],
            marker="s",
            ms=9,
            mfc="#111111",
            mec="#111111",
            ls="none",
            zorder=4,
            label=f"end ({mmss(self.ts[i1])})",
        )
        lim = self.limits
        if lim.goal_arousal is not None and lim.goal_valence is not None:
            ax.plot(
                lim.goal_valence,
                lim.goal_arousal,
                marker="*",
                ms=20,
                color=COLORS["goal"],
                mec="#111111",
                ls="none",
                zorder=5,
                label="goal",
            )
        ax.set_xlim(-1.05, 1.05)
        ax.set_ylim(-1.05, 1.05)
        ax.set_xlabel("Valence (-1 negative .. +1 positive)")
        ax.set_ylabel("Arousal (-1 calm .. +1 aroused)")
        ax.grid(True, color="#e3e3e3", lw=0.6)
        cb = fig.colorbar(pts, cax=cax)
        cb.set_label("Session time (min)")
        leg = ax.legend(
            loc="upper left", bbox_to_anchor=(1.0 + 1.4 / side, 1.0), fontsize=9, frameon=False
        )
        lines = [
            f"start  arousal {a[i0]:+.2f}  valence {v[i0]:+.2f}",
            f"end    arousal {a[i1]:+.2f}  valence {v[i1]:+.2f}",
        ]
        if lim.goal_arousal is not None and lim.goal_valence is not None:
            lines.append(f"goal   arousal {lim.goal_arousal:+.2f}  valence {lim.goal_valence:+.2f}")
        ax.text(
            1.0 + 1.47 / side,
            0.55,
            "\n".join(lines),
            transform=ax.transAxes,
            fontsize=9.5,
            family="monospace",
            va="top",
            ha="left",
            color="#333333",
        )
        del leg
        return fig

    def heart(self):
        b = self.data.beats
        has_beats = b["time_s"].size > 0 and _finite(b["rr_ms"])
        if not (self.has("hr_bpm", "ln_rmssd", "sdnn_ms") or has_beats):
            return None
        fig, axes = self.figure(4, 9.0, _TITLES["heart"])
        rows = (
            ("hr_bpm", "hr", "Heart rate (bpm)", "HR (60 s window)"),
            ("ln_rmssd", "rmssd", "ln RMSSD (ln ms)", "ln RMSSD (60 s window)"),
            ("sdnn_ms", "sdnn", "SDNN (ms)", "SDNN (60 s window)"),
        )
        for ax, (name, color, ylabel, label) in zip(axes[:3], rows, strict=True):
            ax.set_ylabel(ylabel)
            if self.has(name):
                ax.plot(self.ts, self.sc(name), color=COLORS[color], lw=1.6, label=label)
                self.legend(ax, self.legend_extras() if ax is axes[0] else ())
            else:
                self.empty(ax, f"{label}: not available in this session")
        ax = axes[3]
        ax.set_ylabel("RR interval (ms)")
        if has_beats:
            t, rr, corr = b["time_s"], b["rr_ms"], b["corrected"].astype(bool)
            if t.size <= 1500:
                ax.plot(
                    t,
                    rr,
                    color=COLORS["rr"],
                    lw=0.8,
                    marker=".",
                    ms=2.5,
                    label=f"RR, {t.size} beats",
                )
            else:  # a long session: a dense trace and its 31-beat running median
                from numpy.lib.stride_tricks import sliding_window_view

                ax.plot(t, rr, color="#9aa5b1", lw=0.4, label=f"RR, {t.size} beats")
                good = np.isfinite(rr)
                med = np.median(sliding_window_view(rr[good], 31), axis=1)
                ax.plot(
                    t[good][15:-15], med, color=COLORS["rr"], lw=1.6, label="31-beat running median"
                )
            if corr.any():
                ax.plot(
                    t[corr],
                    rr[corr],
                    ls="none",
                    marker="x",
                    ms=6,
                    mew=1.5,
                    color=COLORS["hold"],
                    label=f"corrected beat ({int(corr.sum())})",
                )
            lo, hi = np.nanpercentile(rr, [0.5, 99.5])
            pad = max(30.0, 0.25 * (hi - lo))
            ax.set_ylim(lo - pad, hi + pad)
            self.legend(ax)
        else:
            self.empty(ax, "no heartbeats recorded")
        return fig

    def eeg(self):
        bands = (
            ("eeg_alpha_ln", "alpha", "alpha 8-13 Hz"),
            ("eeg_theta_ln", "theta", "theta 4-8 Hz"),
            ("eeg_beta_ln", "beta", "beta 13-30 Hz"),
        )
        if not self.has(*(b[0] for b in bands), "faa", "eeg_engagement_ln"):
            return None
        fig, axes = self.figure(3, 7.6, _TITLES["eeg"])
        ax = axes[0]
        for name, color, label in bands:
            if self.has(name):
                ax.plot(self.ts, self.sc(name), color=COLORS[color], lw=1.4, label=label)
        ax.set_ylabel("Band power (ln µV²)")
        self.legend(ax, self.legend_extras())
        ax = axes[1]
        if self.has("eeg_engagement_ln"):
            ax.plot(
                self.ts,
                self.sc("eeg_engagement_ln"),
                color=COLORS["engagement"],
                lw=1.4,
                label="engagement β/(α+θ)",
            )
            self.legend(ax)
        else:
            self.empty(ax, "engagement index not available")
        ax.set_ylabel("Engagement (ln ratio)")
        ax = axes[2]
        if self.has("faa"):
            ax.axhline(0, color="#888888", lw=0.8)
            ax.plot(
                self.ts,
                self.sc("faa"),
                color=COLORS["faa"],
                lw=1.4,
                label="FAA = ln α(right) − ln α(left)",
            )
            self.legend(ax)
        else:
            self.empty(ax, "frontal alpha asymmetry not available (needs AF7/AF8 or F3/F4)")
        ax.set_ylabel("FAA (ln ratio)")
        return fig

    def music(self):
        if not self.has("tempo_bpm", "loudness_db", "mode", "fade"):
            return None
        lim = self.limits
        fig, axes = self.figure(5, 11.0, _TITLES["music"], ratios=(1, 1, 1.2, 1, 0.7))

        def limit_lines(ax, values, label):
            for k, y in enumerate(values):
                ax.axhline(
                    y, color=COLORS["limit"], lw=1.2, ls="--", label=label if k == 0 else None
                )

        ax = axes[0]
        ax.plot(self.ts, self.sc("tempo_bpm"), color=COLORS["tempo"], lw=1.8, label="tempo")
        if lim.tempo:
            limit_lines(ax, lim.tempo, "safety limits")
        ax.set_ylabel("Tempo (BPM)")
        self.legend(ax, self.legend_extras())
        ax = axes[1]
        ax.plot(
            self.ts,
            self.sc("loudness_db"),
            color=COLORS["loudness"],
            lw=1.8,
            label="loudness (program level)",
        )
        if lim.loudness:
            limit_lines(ax, lim.loudness, "safety limits")
        ax.set_ylabel("Loudness (dBFS)")
        self.legend(ax)
        ax = axes[2]
        mode = self.col("mode")
        if _finite(mode):
            ax.step(self.t, mode, where="post", color=COLORS["mode"], lw=1.8, label="mode")
        ax.set_yticks(range(len(MODE_LABELS)), MODE_LABELS)
        ax.set_ylim(len(MODE_LABELS) - 0.5, -0.5)  # brightest (Lydian) on top
        ax.set_ylabel("Mode (bright → dark)")
        self.legend(ax)
        ax = axes[3]
        for name, ls, lw in (
            ("brightness", "-", 3.0),
            ("tension", "-", 1.6),
            ("density", "--", 1.6),
        ):
            if self.has(name):
                ax.plot(self.ts, self.sc(name), color=COLORS[name], lw=lw, ls=ls, label=name)
        if lim.tension_max is not None:
            limit_lines(ax, (lim.tension_max,), "tension ceiling")
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel("Timbre (0-1)")
        self.legend(ax)
        ax = axes[4]
        fade = np.nan_to_num(self.sc("fade"))
        ax.fill_between(self.ts, 0, fade, color=COLORS["fade"], alpha=0.15, lw=0)
        ax.plot(self.ts, fade, color=COLORS["fade"], lw=1.6, label="fade (0 silent, 1 full)")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("Fade (0-1)")
        self.legend(ax)
        return fig

    def quality(self):
        fig, axes = self.figure(2, 5.6, _TITLES["quality"])
        ax = axes[0]
        any_q = False
        for name, label in (("hrv_quality", "heart (HRV) quality"), ("eeg_quality", "EEG quality")):
            if self.has(name):
                ax.plot(self.ts, self.sc(name), color=COLORS[name], lw=1.5, label=label)
                any_q = True
        if not any_q:
            self.empty(ax, "no signal-quality values recorded")
        ax.set_ylim(-0.03, 1.05)
        ax.set_ylabel("Quality (0-1)")
        self.legend(ax, self.legend_extras())
        ax = axes[1]
        for name, label in (
            ("confidence", "arousal confidence"),
            ("valence_confidence", "valence confidence"),
        ):
            if self.has(name):
                ax.plot(self.ts, self.sc(name), color=COLORS[name], lw=1.5, label=label)
        if self.limits.min_confidence is not None:
            ax.axhline(
                self.limits.min_confidence,
                color=COLORS["limit"],
                lw=1.2,
                ls="--",
                label=f"hold threshold ({self.limits.min_confidence:g})",
            )
        ax.set_ylim(-0.03, 1.05)
        ax.set_ylabel("Confidence (0-1)")
        self.legend(ax)
        return fig


def _png(fig) -> str:
    """Render a figure to PNG and return it base64-encoded."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIG_DPI, facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class SummaryRow:
    """One row of the baseline-against-end table.

    Attributes
    ----------
    label : str
        What is compared, with its unit.
    column : str
        The tick column.
    baseline, end : float or None
        Median over the baseline phase, median over the last :data:`END_WINDOW_S`.
    decimals : int
        Decimals shown.
    """

    label: str
    column: str
    baseline: float | None
    end: float | None
    decimals: int

    @property
    def change(self) -> float | None:
        """``end - baseline`` (None if either is missing)."""
        if self.baseline is None or self.end is None:
            return None
        return self.end - self.baseline


#: (label, column, decimals) of the summary table.
SUMMARY_ROWS: tuple[tuple[str, str, int], ...] = (
    ("Arousal (estimate)", "arousal", 2),
    ("Arousal (true, simulated)", "sim_arousal", 2),
    ("Valence (estimate)", "valence", 2),
    ("Valence (true, simulated)", "sim_valence", 2),
    ("Heart rate (bpm)", "hr_bpm", 1),
    ("ln RMSSD (ln ms)", "ln_rmssd", 2),
    ("EEG alpha power (ln µV²)", "eeg_alpha_ln", 2),
    ("Tempo (BPM)", "tempo_bpm", 1),
    ("Loudness (dBFS)", "loudness_db", 1),
)


def summary_rows(data: SessionData) -> list[SummaryRow]:
    """Baseline (median over the ``baseline`` phase) against end (median, last 60 s).

    Rows whose column the session does not have (e.g. ``sim_arousal`` outside
    simulation) are left out; rows with no finite values keep None.
    """
    t = data.ticks["t_s"]
    phase = data.ticks.get("phase", np.array([], dtype=object))
    base = phase == "baseline" if phase.size else np.zeros(t.size, bool)
    end = t > t[-1] - END_WINDOW_S if t.size else np.zeros(0, bool)
    out = []
    relative = is_relative(data.meta.get("config_toml"))
    for label, col, dec in SUMMARY_ROWS:
        if col not in data.ticks:
            continue
        if relative and col in ("arousal", "valence"):
            label = label.replace("(estimate)", "(estimate, relative to baseline)")
        x = np.asarray(data.ticks[col], dtype=float)
        out.append(SummaryRow(label, col, _median(x[base]), _median(x[end]), dec))
    return out


def _fmt(x: float | None, dec: int, *, sign: bool = False) -> str:
    if x is None:
        return "–"
    return f"{x:+.{dec}f}" if sign else f"{x:.{dec}f}"


def _num_td(x: float | None, dec: int, *, sign: bool = False) -> str:
    value = "" if x is None else f' data-value="{x!r}"'
    return f'<td class="num"{value}>{_fmt(x, dec, sign=sign)}</td>'


def _facts(data: SessionData, limits: _Limits) -> list[tuple[str, str, float | None]]:
    """Other summary figures: ``(label, text, value)``."""
    t = data.ticks["t_s"]
    facts: list[tuple[str, str, float | None]] = []
    goal = limits.goal_arousal
    for col, who in (("arousal", "estimate"), ("sim_arousal", "true state")):
        if col not in data.ticks or not t.size:
            continue
        label = f"Time to target, arousal {who}"
        if goal is None:
            facts.append((label, "goal unknown", None))
            continue
        tt = time_to_band(t, np.asarray(data.ticks[col], dtype=float), goal)
        text = (f"{mmss(tt)} (min:s)" if tt is not None else "not reached") + (
            f": first time arousal came within {TARGET_BAND:g} of the goal ({goal:+g}) "
            f"and stayed there {TARGET_HOLD_S:g} s"
        )
        facts.append((label, text, tt))
    hold = np.asarray(data.ticks.get("hold", np.full(t.size, np.nan)), dtype=float)
    if t.size:
        frac = float(np.mean(np.nan_to_num(hold) > 0.5))
        facts.append(
            (
                "Ticks on hold",
                f"{100 * frac:.1f} % ({int(round(frac * t.size))} of "
                f"{t.size} ticks; music frozen for low confidence)",
                frac,
            )
        )
    nb = int(data.beats["time_s"].size)
    nc = int(np.sum(data.beats["corrected"])) if nb else 0
    pct = 100.0 * nc / nb if nb else None
    facts.append(("Heartbeats detected", f"{nb}", float(nb)))
    facts.append(("Beats corrected", f"{nc} ({_fmt(pct, 1)} %)" if nb else "–", pct))
    cm = np.asarray(data.ticks.get("compute_ms", np.full(t.size, np.nan)), dtype=float)
    med, p99 = _median(cm), _percentile(cm, 99)
    facts.append(("Engine compute per tick, median", f"{_fmt(med, 2)} ms", med))
    facts.append(("Engine compute per tick, p99", f"{_fmt(p99, 2)} ms", p99))
    return facts


def _spans_between(
    events: list[tuple[float, str]], start: str, stop: str, end_t: float
) -> list[tuple[float, float, str]]:
    """``(t0, t1, start event text)`` from each ``start`` event to the next ``stop`` one."""
    out, open_at, text = [], None, ""
    for ts, ev in events:
        if open_at is None and ev.startswith(start):
            open_at, text = ts, ev
        elif open_at is not None and ev.startswith(stop):
            out.append((open_at, ts, text))
            open_at = None
    if open_at is not None:
        out.append((open_at, end_t, text))
    return out


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def explain(data: SessionData) -> list[str]:
    """Say what the estimate and the music did, and why, in plain words (one line each).

    Covers: an estimate relative to the baseline (no intake rating), a baseline shorter
    than the science supports, HRV left out for irregular beats, implausible values,
    beats corrected, valence not measured, and the holds with their likely causes.

    Parameters
    ----------
    data : SessionData
        The session.

    Returns
    -------
    list of str
    """
    from attune.engine.affect import MIN_BASELINE_S

    t = data.ticks["t_s"]
    lines: list[str] = []
    if not t.size:
        return lines
    tick_s = float(data.meta.get("tick_s") or 0.25)
    end_t = float(t[-1]) + tick_s
    config_toml = data.meta.get("config_toml")
    limits = _limits(config_toml)
    if is_relative(config_toml):
        anchored = [ts for ts, ev in data.events if "no longer relative" in ev]
        lines.append(
            "Arousal and valence are relative to the baseline: there was no intake "
            "self-report (SAM), so 0 means 'as during the baseline', not 'neutral'."
            + (
                f" From {mmss(anchored[0])} on they are anchored on the listener's own "
                "rating, so absolute."
                if anchored
                else ""
            )
        )
    phase = data.ticks.get("phase", np.array([], dtype=object))
    base_s = float(np.count_nonzero(phase == "baseline")) * tick_s if phase.size else 0.0
    if 0.0 < base_s < MIN_BASELINE_S:
        lines.append(
            f"Baseline {base_s:.0f} s: shorter than the {MIN_BASELINE_S:.0f} s of rest the "
            "science supports, so the spreads rest on their published floors and the "
            "estimate is coarse."
        )
    for t0, t1, text in _spans_between(
        data.events, "warning: HRV not used", "info: HRV used again", end_t
    ):
        pct = text.split(": ")[2].split("%")[0] if text.count(": ") >= 2 else "?"
        lines.append(
            f"HRV not used for {_minutes(t1 - t0)} (from {mmss(t0)}): {pct}% of beats "
            "irregular (ectopic beats or artifacts); heart rate alone fed the estimate."
        )
    for ts, ev in data.events:
        if ev.startswith("warning: implausible"):
            lines.append(f"At {mmss(ts)}: {ev.removeprefix('warning: ')}.")
        elif ev.startswith("carry-over"):  # personalisation across visits
            lines.append(f"Carried over from an earlier visit: {ev.split(': ', 1)[-1]}.")
        elif ev.startswith("ALARM "):
            lines.append(f"At {mmss(ts)}: {ev}.")
        elif ev.startswith("learned: "):
            lines.append(f"Learned for the next visit: {ev.removeprefix('learned: ')}.")
    nb = int(data.beats["time_s"].size)
    if nb:
        nc = int(np.sum(data.beats["corrected"]))
        if nc:
            lines.append(
                f"{nc} of {nb} heartbeats ({100 * nc / nb:.0f}%) were flagged as ectopic or "
                "artifacts and left out of the HRV features."
            )
    post = phase != "baseline" if phase.size else np.ones(t.size, bool)
    thr = limits.min_confidence if limits.min_confidence is not None else 0.3
    vc = np.asarray(data.ticks.get("valence_confidence", np.full(t.size, np.nan)), float)
    if post.any():
        measured = np.nan_to_num(vc[post]) >= thr
        if measured.mean() < 0.5:
            lines.append(
                f"Valence not measured: its confidence stayed below {thr:.2f} for "
                f"{100 * (1 - measured.mean()):.0f}% of the session; the valence cues "
                "followed the goal, not the listener."
            )
    hold = np.nan_to_num(np.asarray(data.ticks.get("hold", np.zeros(t.size)), float)) > 0.5
    if hold.any():
        causes = []
        hq = np.asarray(data.ticks.get("hrv_quality", np.full(t.size, np.nan)), float)
        eq = np.asarray(data.ticks.get("eeg_quality", np.full(t.size, np.nan)), float)
        hr = np.asarray(data.ticks.get("hr_bpm", np.full(t.size, np.nan)), float)
        no_signal = hold & ~np.isfinite(hr) & ~(np.nan_to_num(eq) > 0)
        irregular = hold & ~no_signal & (np.nan_to_num(hq, nan=1.0) < 0.7)
        eeg_bad = hold & ~no_signal & ~irregular & (np.nan_to_num(eq, nan=1.0) < 0.5)
        other = hold & ~no_signal & ~irregular & ~eeg_bad
        for mask, why in (
            (no_signal, "no usable signal"),
            (irregular, "irregular heartbeats"),
            (eeg_bad, "EEG artifacts"),
            (other, "the estimate was uncertain (saturated, flat or modalities disagreeing)"),
        ):
            if mask.any():
                causes.append(f"{_minutes(mask.sum() * tick_s)} {why}")
        lines.append(
            f"Music held for {_minutes(hold.sum() * tick_s)} ({100 * hold.mean():.0f}% of the "
            f"session) because confidence fell below {thr:.2f}: " + "; ".join(causes) + "."
        )
    return lines


# --------------------------------------------------------------------------- HTML

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1d1d1d;
       margin: 0; background: #f4f5f7; font-size: 15px; line-height: 1.45; }
main { max-width: 1140px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #e3e6ea; }
.sub { color: #5a5a5a; margin: 0 0 18px; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { padding: 5px 12px; border-bottom: 1px solid #e3e6ea; text-align: left;
         vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.meta th { background: none; color: #5a5a5a; font-weight: normal; padding-left: 0; }
.status { padding: 10px 14px; border-radius: 6px; margin: 12px 0 4px; font-weight: 600; }
.status.ok { background: #e5f4e8; border-left: 6px solid #2e9e44; }
.status.bad { background: #fdecea; border-left: 6px solid #c0392b; color: #a61b0f; }
.status.warn { background: #fff4e0; border-left: 6px solid #e67e22; }
figure { margin: 18px 0 26px; }
figure img { width: 100%; height: auto; display: block; border: 1px solid #e3e6ea; }
figcaption { color: #444; font-size: 14px; margin-top: 6px; }
.note { color: #5a5a5a; font-style: italic; }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; font-size: 12.5px; }
details summary { cursor: pointer; color: #1f5fa8; }
"""


def _utc(text: str | None) -> str:
    if not text:
        return "–"
    return text.replace("T", " ").replace("+00:00", " UTC")


def selfreport_section(reports: list[SelfReport]) -> list[str]:
    """HTML lines of the report's Self-report section (SAM ratings and described feelings)."""
    e = html.escape
    out = ['<h2 id="self-report">Self-report</h2>']
    if not reports:
        out.append(
            '<p class="note" id="no-selfreports">No self-reports were filed (SAM ratings '
            "before, during or after the session, or described feelings).</p>"
        )
        return out
    sm = summarize(reports)
    if sm.pre is not None and sm.post is not None:
        da, dv = sm.change() or (0.0, 0.0)
        out.append(
            f'<p id="selfreport-change">Before &rarr; after (SAM 1-9): arousal '
            f"{sm.pre.arousal:g} &rarr; {sm.post.arousal:g} ({da:+g}), valence "
            f"{sm.pre.valence:g} &rarr; {sm.post.valence:g} ({dv:+g}).</p>"
        )
    out.append(
        '<table id="selfreports"><tr><th>When</th><th>Time (min:s)</th><th>Arousal</th>'
        "<th>Valence</th><th>Source</th><th>Described feeling</th></tr>"
    )
    for r in reports:
        words = e(r.text) if r.text else ("(words not kept)" if r.source == "feeling" else "")
        out.append(
            f'<tr><td>{e(_WHEN.get(r.kind, r.kind))}</td><td class="num">{mmss(r.t_s)}</td>'
            f'<td class="num" data-value="{r.arousal!r}">{r.arousal:g}</td>'
            f'<td class="num" data-value="{r.valence!r}">{r.valence:g}</td>'
            f"<td>{e(_SOURCE.get(r.source, r.source))}</td><td>{words}</td></tr>"
        )
    out.append("</table>")
    out.append(
        '<p class="note">SAM: Self-Assessment Manikin, arousal 1 calm .. 9 excited, valence '
        "1 unpleasant .. 9 pleasant. The intake rating is where the estimate starts; a rating "
        "during the session anchors the estimate there (from then on it is absolute, not "
        "relative to the baseline). Described feelings were scored by a lexicon and filed "
        "only once the therapist confirmed them; their words are kept only with the "
        "client's consent.</p>"
    )
    return out


_WHEN = {"pre": "before (intake)", "during": "during", "post": "after"}
_SOURCE = {
    "intake": "intake rating",
    "cli": "entered (attune selfreport)",
    "channel": "control channel",
    "feeling": "described feeling",
    "simulated": "simulated listener",
}


def _render_html(
    data: SessionData,
    limits: _Limits,
    figures: list[tuple[str, str | None, str]],
    notes: list[str],
    selfreport: list[str] | None = None,
) -> str:
    e = html.escape
    m = data.meta
    t = data.ticks["t_s"]
    tick_s = float(m.get("tick_s") or 0.25)
    dur = float(t[-1] + tick_s) if t.size else 0.0
    status = m.get("status") or "unknown"
    planned = f" of {mmss(limits.planned_s)} planned" if limits.planned_s else ""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Attune session report: {e(str(m.get('id', '')))}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>Attune session report</h1>",
        f'<p class="sub">{e(str(m.get("id") or data.folder.name))}</p>',
    ]
    cls = {"ended": "ok", "running": "warn"}.get(status, "bad")
    status_text = _STATUS_TEXT.get(status, f"Status {status!r}.")
    if status == "failed":
        why = next((x for _, x in data.events if x.startswith("session failed: ")), None)
        if why is not None:
            status_text = f"Failed: {why.removeprefix('session failed: ')}."
    if status != "ended":
        status_text += f" Recorded: 0:00 to {mmss(dur)}{planned}."
    out.append(f'<div class="status {cls}" id="status">Status: {e(status)}. {e(status_text)}</div>')
    rows = [
        ("Session", m.get("id") or data.folder.name),
        ("Name", m.get("name")),
        ("Participant (pseudonym)", m.get("participant")),
        ("Mode", m.get("mode")),
        ("Started", _utc(m.get("started_utc"))),
        ("Ended", _utc(m.get("ended_utc")) if m.get("ended_utc") else "– (not closed)"),
        ("Duration recorded", f"{mmss(dur)} (min:s), {t.size} ticks of {tick_s:g} s{planned}"),
        ("Status", status),
        (
            "Protocol phases",
            ", ".join(
                f"{n} {mmss(a)}–{mmss(b)}"
                for n, a, b in _phase_spans(
                    data.ticks.get("phase", np.array([], object)), t, tick_s
                )
            )
            or "–",
        ),
        ("Seed", m.get("seed")),
    ]
    if limits.goal_arousal is not None:
        rows.append(("Goal", f"arousal {limits.goal_arousal:+g}, valence {limits.goal_valence:+g}"))
    out.append('<table class="meta" id="header">')
    out += [
        f"<tr><th>{e(k)}</th><td>{e(str(v if v is not None else '–'))}</td></tr>" for k, v in rows
    ]
    out.append("</table>")
    out += [f'<p class="note">{e(n)}</p>' for n in notes]

    out.append("<h2>Summary</h2>")
    if t.size:
        out.append(
            '<table id="summary"><tr><th>Measure</th><th>Baseline</th><th>End</th>'
            "<th>Change</th></tr>"
        )
        for r in summary_rows(data):
            out.append(
                f"<tr><td>{e(r.label)}</td>{_num_td(r.baseline, r.decimals)}"
                f"{_num_td(r.end, r.decimals)}{_num_td(r.change, r.decimals, sign=True)}</tr>"
            )
        out.append("</table>")
        out.append(
            '<p class="note">Baseline: median over the baseline phase (silent rest). End: '
            f"median over the last {END_WINDOW_S:g} s ({mmss(max(0.0, dur - END_WINDOW_S))} to "
            f"{mmss(dur)}). – = not available. Tempo and loudness during the baseline are the "
            "synthesizer's settings while the music is faded out.</p>"
        )
    else:
        out.append('<p class="note">No ticks were recorded: nothing to summarise.</p>')
    plain = explain(data)
    if plain:
        out.append('<h3>What happened, in plain words</h3><ul id="explain">')
        out += [f"<li>{e(line)}</li>" for line in plain]
        out.append("</ul>")
    out.append('<table id="facts"><tr><th>Figure</th><th>Value</th></tr>')
    for label, text, value in _facts(data, limits):
        dv = "" if value is None else f' data-value="{value!r}"'
        out.append(f"<tr><td>{e(label)}</td><td{dv}>{e(text)}</td></tr>")
    out.append("</table>")
    out += selfreport or []

    out.append("<h2>Figures</h2>")
    if not figures:
        out.append('<p class="note">No ticks were recorded: no figures.</p>')
    for fid, b64, caption in figures:
        if b64 is None:
            out.append(f'<p class="note" id="no-{fid}">{caption}</p>')
            continue
        out.append(
            f'<figure id="fig-{fid}"><img alt="{e(_TITLES[fid])}" '
            f'src="data:image/png;base64,{b64}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )

    out.append("<h2>Events and annotations</h2>")
    items = [(ts, "event", "", text) for ts, text in data.events]
    items += [(ts, "annotation", author, text) for ts, author, text in data.annotations]
    items.sort(key=lambda r: r[0])
    if items:
        out.append('<table id="events"><tr><th>Time (min:s)</th><th>Kind</th><th>Text</th></tr>')
        for ts, kind, author, text in items:
            who = f" ({author})" if author else ""
            out.append(
                f'<tr><td class="num">{mmss(ts)}</td><td>{e(kind + who)}</td>'
                f"<td>{e(text)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append('<p class="note">No events or annotations recorded.</p>')

    cfg = m.get("config_toml")
    if cfg:
        out.append(
            f"<details><summary>Session configuration (TOML)</summary><pre>{e(cfg)}</pre></details>"
        )
    stamp = _utc(datetime.now(UTC).isoformat(timespec="seconds"))
    out.append(
        f'<p class="note">Written by Attune on {e(stamp)} from '
        f"{e(str(Path(data.folder).name))}/session.db.</p>"
    )
    out.append("</main></body></html>")
    return "\n".join(out)


#: Notes in place of a figure with nothing to show.
_ABSENT = {
    "heart": "No heart data in this session (no cardiac stream, or no beats detected yet).",
    "eeg": "No EEG in this session: no band powers or frontal alpha asymmetry to show.",
    "music": "No music parameters were recorded.",
}

#: Figure titles, drawn in the figures and used as the images' alternative text.
_TITLES = {
    "affect": "Affect: estimate against target",
    "plane": "Arousal-valence plane: where the listener went",
    "heart": "Heart: rate, variability and beat-to-beat intervals",
    "eeg": "EEG: band powers and frontal alpha asymmetry",
    "music": "Music: parameters within the safety envelope",
    "quality": "Signal quality and confidence",
}

_CAPTIONS = {
    "affect": (
        "Arousal (top) and valence (bottom) as the engine estimated them (blue) against the "
        "session's target (dashed black){true}. The blue band spans estimate ± (1 − "
        "confidence): narrow where the engine trusted its estimate, as wide as the whole "
        "scale where it had no confidence; it shows trust, not a statistical interval. The "
        "yellow band is the goal ± {band:g}. The coloured ribbon above each figure names "
        "the protocol phases and dashed vertical lines mark their changes; red shading "
        "marks holds, when low confidence froze the music; triangles on the time axis mark "
        "events (grey) and annotations (purple), listed in the table below; orange diamonds are "
        "the listener's own ratings (SAM mapped to -1..+1), listed under Self-report."
    ),
    "plane": (
        "The same estimate in the arousal-valence plane, coloured from early (purple) to late "
        "(yellow); open circle = start, black square = end, star = goal{true}."
    ),
    "heart": (
        "Heart rate, ln RMSSD and SDNN over 60 s rolling windows (beat-to-beat variability: "
        "higher means more parasympathetic, calmer), and the tachogram of every detected "
        "beat's RR interval; red crosses are beats the detector corrected (ectopic or "
        "artifact). The RR axis spans the 0.5-99.5th percentiles: rare outliers run off it."
    ),
    "eeg": (
        "EEG band powers (natural log of µV², 4 s window), the engagement index β/(α+θ) and "
        "frontal alpha asymmetry (positive = relatively more left-frontal activity, linked "
        "with approach and positive valence)."
    ),
    "music": (
        "What the music did: tempo, program loudness, mode (Lydian brightest to Locrian "
        "darkest), timbre (tension, brightness, density) and the fade (0 = silent). Dashed "
        "red lines are the session's safety envelope: the controller never goes past them."
    ),
    "quality": (
        "Top: input quality (share of clean beats and clean EEG segments). Bottom: the "
        "engine's confidence in its arousal and valence estimates; below the dashed hold "
        "threshold the controller holds the music (red shading)."
    ),
}


def write_report(folder: Path | str, *, out: Path | None = None) -> Path:
    """Write a session's self-contained HTML report.

    Parameters
    ----------
    folder : Path or str
        The session folder (holding ``session.db``).
    out : Path, optional
        Where to write; default ``folder/report.html``. Created with mode 0600. With
        encryption at rest on, the default report is sealed into the store (the path
        returned no longer exists); an explicit ``out`` is written in clear.

    Returns
    -------
    Path
        The report written.

    Raises
    ------
    attune.sessions.store.StoreError
        If the folder has no readable store.

    Notes
    -----
    Reads the store once; runs in about 1-2 s for a 10-minute session (figure rendering
    dominates; lines are decimated to at most :data:`MAX_PLOT_POINTS` points). Safe to run
    on a session that is still being recorded (it reports what has been committed).
    """
    folder = Path(folder)
    data = load_session(folder)
    reports = read_reports(folder)
    limits = _limits(data.meta.get("config_toml"))
    notes = [f"Configuration: {limits.note}"] if limits.note else []
    figures: list[tuple[str, str | None, str]] = []
    if data.n_ticks:
        plotter = _Plotter(data, limits, reports)
        sim = plotter.has("sim_arousal", "sim_valence")
        true_txt = " and the simulated listener's true state (green)" if sim else ""
        true_plane = "; green line = true state of the simulated listener" if sim else ""
        for fid, make in (
            ("affect", plotter.affect),
            ("plane", plotter.plane),
            ("heart", plotter.heart),
            ("eeg", plotter.eeg),
            ("music", plotter.music),
            ("quality", plotter.quality),
        ):
            fig = make()
            if fig is None:
                if fid in _ABSENT:
                    figures.append((fid, None, html.escape(_ABSENT[fid])))
                continue
            caption = html.escape(
                _CAPTIONS[fid].format(
                    true=true_plane if fid == "plane" else true_txt, band=TARGET_BAND
                )
            )
            figures.append((fid, _png(fig), caption))
    text = _render_html(data, limits, figures, notes, selfreport_section(reports))
    path = Path(out) if out is not None else folder / REPORT_FILE
    with private_open(path) as f:
        f.write(text)
    if out is None:
        seal_folder(folder, names=[REPORT_FILE])  # encryption at rest: into the store
    return path
