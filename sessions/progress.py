"""A client's progress across visits: one self-contained HTML page.

``attune progress CLIENT`` reads every session of the client (see
:func:`attune.sessions.clients.client_sessions`) and writes a page with, per visit:
resting heart rate and ln RMSSD over the silent baseline, the self-report before and
after (the store's ``selfreports`` table when the session has one), time to the calm
target, time on hold, alarms (events ``ALARM ...``) and the music playing when arousal
came down fastest ("music that helped"); with figures (PNG, inline) and a summary in
plain language for a therapist to read with the client.

The page has no scripts and loads nothing (a Content-Security-Policy forbids it); it
is written 0600. By default it goes to ``HOME/progress/<CLIENT>.html``; with encryption
at rest on it is written only where ``out`` says (a clear copy, on request).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attune.sessions.clients import check_pseudonym, client_sessions
from attune.sessions.home import encryption_on, progress_dir
from attune.sessions.record import private_open
from attune.sessions.report import _CSS, FIG_DPI, MODE_LABELS, _limits, _median, _png, mmss
from attune.sessions.selfreport import SelfReport, read_reports
from attune.sessions.simulated_run import TARGET_BAND, time_to_band
from attune.sessions.store import SessionData, StoreError, load_session

#: Length of the window in which "music that helped" is looked for, seconds.
HELP_WINDOW_S = 60.0
#: Figure size, inches.
FIG_W_IN, FIG_ROW_IN = 10.0, 2.3


class ProgressError(StoreError):
    """The progress page cannot be written (one line)."""


@dataclass
class Visit:
    """What the progress page shows of one session (units in the names)."""

    number: int
    session_id: str
    started_utc: str
    duration_s: float
    status: str
    baseline_hr_bpm: float | None
    baseline_ln_rmssd: float | None
    goal_arousal: float | None
    time_to_target_s: float | None
    hold_s: float
    alarms: list[tuple[float, str]] = field(default_factory=list)
    reports: list[SelfReport] = field(default_factory=list)
    helped: dict[str, float] | None = None

    def rating(self, kind: str) -> SelfReport | None:
        """Return the last self-report of ``kind`` (``pre`` or ``post``) with scores."""
        rows = [r for r in self.reports if r.kind == kind and r.arousal is not None]
        return rows[-1] if rows else None


def music_that_helped(data: SessionData, goal: float | None) -> dict[str, float] | None:
    """Return the music of the window in which arousal came closest to the goal fastest.

    The window is :data:`HELP_WINDOW_S` long; the music is playing and not on hold.

    Returns
    -------
    dict or None
        ``start_s``, ``gain`` (drop of ``|arousal - goal|`` over the window), and the
        window's median ``tempo_bpm``, ``mode`` (index), ``brightness``, ``loudness_db``,
        ``density``; None when arousal never came closer to the goal.
    """
    tk = data.ticks
    if goal is None or data.n_ticks < 3 or "arousal" not in tk:
        return None
    t = tk["t_s"]
    step = float(t[1] - t[0])
    w = int(round(HELP_WINDOW_S / step))
    if data.n_ticks <= w:
        w = max(1, data.n_ticks // 2)
    dist = np.abs(np.asarray(tk["arousal"], float) - goal)
    playing = (np.nan_to_num(np.asarray(tk.get("fade", np.ones(t.size)), float)) > 0.05) & ~(
        np.nan_to_num(np.asarray(tk.get("hold", np.zeros(t.size)), float)) > 0.5
    )
    gain = dist[:-w] - dist[w:]
    ok = np.isfinite(gain) & playing[:-w] & playing[w:]
    if not ok.any():
        return None
    gain = np.where(ok, gain, -np.inf)
    i = int(np.argmax(gain))
    if not gain[i] > 0:
        return None
    sl = slice(i, i + w + 1)
    out = {"start_s": float(t[i]), "gain": float(gain[i])}
    for col in ("tempo_bpm", "mode", "brightness", "loudness_db", "density"):
        if col in tk:
            out[col] = float(np.nanmedian(np.asarray(tk[col][sl], float)))
    return out


def read_visit(number: int, folder: Path) -> Visit:
    """Summarise one session as a :class:`Visit`."""
    data = load_session(folder)
    tk, meta = data.ticks, data.meta
    t = tk["t_s"]
    tick_s = float(meta.get("tick_s") or 0.25)
    phase = tk.get("phase", np.array([], dtype=object))
    base = phase == "baseline" if phase.size else np.zeros(t.size, bool)
    goal = _limits(meta.get("config_toml")).goal_arousal

    def base_median(col: str) -> float | None:
        if col not in tk or not base.any():
            return None
        return _median(np.asarray(tk[col], float)[base])

    ttt = None
    if goal is not None and t.size >= 2 and "arousal" in tk:
        ttt = time_to_band(t, np.asarray(tk["arousal"], float), goal)
    hold = np.nan_to_num(np.asarray(tk.get("hold", np.zeros(t.size)), float)) > 0.5
    return Visit(
        number=number,
        session_id=str(meta.get("id") or folder.name),
        started_utc=str(meta.get("started_utc") or ""),
        duration_s=float(t[-1] + tick_s) if t.size else 0.0,
        status=str(meta.get("status") or ""),
        baseline_hr_bpm=base_median("hr_bpm"),
        baseline_ln_rmssd=base_median("ln_rmssd"),
        goal_arousal=goal,
        time_to_target_s=ttt,
        hold_s=float(hold.sum()) * tick_s,
        alarms=[(ts, ev) for ts, ev in data.events if ev.startswith("ALARM ")],
        reports=read_reports(folder),
        helped=music_that_helped(data, goal),
    )


def client_visits(pseudonym: str) -> list[Visit]:
    """Every visit of ``pseudonym``, oldest first (unreadable sessions left out)."""
    check_pseudonym(pseudonym)
    out: list[Visit] = []
    for s in client_sessions(pseudonym):
        try:
            out.append(read_visit(len(out) + 1, s.folder))
        except StoreError:
            continue
    return out


# --------------------------------------------------------------------------- figures


def _figure(n_rows: int, title: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(FIG_W_IN, 0.7 + FIG_ROW_IN * n_rows), dpi=FIG_DPI)
    axes = fig.subplots(n_rows, 1, sharex=True, squeeze=False)[:, 0]
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.01, ha="left")
    h = 1.2 + FIG_ROW_IN * n_rows
    fig.set_figheight(h)
    fig.subplots_adjust(left=0.09, right=0.98, top=1 - 0.55 / h, bottom=0.75 / h)
    return fig, axes


def _visit_axis(ax, visits: list[Visit]) -> None:
    ax.set_xticks([v.number for v in visits])
    ax.set_xticklabels([f"{v.number}\n{v.started_utc[5:10]}" for v in visits])
    ax.set_xlabel("visit (number, month-day)")
    ax.set_xlim(0.5, len(visits) + 0.5)


def _series(visits: list[Visit], attr: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([v.number for v in visits], float)
    y = np.array([np.nan if getattr(v, attr) is None else getattr(v, attr) for v in visits])
    return x, y


def figure_heart(visits: list[Visit]):
    """Resting HR and ln RMSSD over the baseline of each visit (None if never measured)."""
    if all(v.baseline_hr_bpm is None and v.baseline_ln_rmssd is None for v in visits):
        return None
    fig, (a1, a2) = _figure(2, "Resting heart at the start of each visit")
    for ax, attr, label, color in (
        (a1, "baseline_hr_bpm", "heart rate (bpm)", "#c0392b"),
        (a2, "baseline_ln_rmssd", "ln RMSSD (ln ms)", "#1f5fa8"),
    ):
        x, y = _series(visits, attr)
        ax.plot(x, y, "o-", color=color, lw=2, ms=7)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    _visit_axis(a2, visits)
    return fig


def figure_selfreport(visits: list[Visit]):
    """SAM arousal and valence before (hollow) and after (filled) each visit."""
    if not any(v.rating("pre") or v.rating("post") for v in visits):
        return None
    fig, axes = _figure(2, "Self-report before and after each visit")
    for ax, what in zip(axes, ("arousal", "valence"), strict=True):
        for kind, style in (("pre", "o"), ("post", "s")):
            xs, ys = [], []
            for v in visits:
                r = v.rating(kind)
                val = None if r is None else getattr(r, what)
                if val is not None:
                    xs.append(v.number + (-0.08 if kind == "pre" else 0.08))
                    ys.append(val)
            ax.plot(
                xs,
                ys,
                style,
                ms=9,
                mfc="white" if kind == "pre" else "#6c3483",
                mec="#6c3483",
                ls="none",
                label="before" if kind == "pre" else "after",
            )
        for v in visits:
            a, b = v.rating("pre"), v.rating("post")
            if a and b and getattr(a, what) is not None and getattr(b, what) is not None:
                ax.annotate(
                    "",
                    xy=(v.number + 0.08, getattr(b, what)),
                    xytext=(v.number - 0.08, getattr(a, what)),
                    arrowprops={"arrowstyle": "->", "color": "#6c3483"},
                )
        ax.set_ylabel(f"{what} (self-report)")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=9)
    _visit_axis(axes[-1], visits)
    return fig


def figure_target(visits: list[Visit]):
    """Minutes to the calm target (or "not reached") and minutes on hold per visit."""
    fig, (a1, a2) = _figure(2, "Reaching the calm target, and time on hold")
    for v in visits:
        if v.time_to_target_s is not None:
            a1.bar(v.number, v.time_to_target_s / 60, color="#2e9e44", width=0.5)
        else:
            a1.bar(v.number, v.duration_s / 60, color="none", edgecolor="#999", hatch="//")
            a1.text(v.number, v.duration_s / 120, "not\nreached", ha="center", fontsize=9)
        a2.bar(v.number, v.hold_s / 60, color="#d62728", width=0.5, alpha=0.7)
    a1.set_ylabel("minutes to target")
    a2.set_ylabel("minutes on hold")
    for ax in (a1, a2):
        ax.grid(alpha=0.3, axis="y")
        ax.set_ylim(bottom=0.0, top=max(ax.get_ylim()[1], 0.5))
    _visit_axis(a2, visits)
    return fig


# --------------------------------------------------------------------------- text


def _fmt(x: float | None, dec: int, unit: str = "") -> str:
    return "–" if x is None else f"{x:.{dec}f}{unit}"


def _mode_name(m: float | None) -> str:
    if m is None or not np.isfinite(m):
        return "–"
    return MODE_LABELS[int(np.clip(round(m), 0, len(MODE_LABELS) - 1))]


def _mean_change(pairs: list[tuple[SelfReport, SelfReport]], what: str) -> float:
    """Mean of after minus before of ``what`` over the pairs that have both (0 if none)."""
    d = [
        float(b_v) - float(a_v)
        for a, b in pairs
        if (a_v := getattr(a, what)) is not None and (b_v := getattr(b, what)) is not None
    ]
    return float(np.mean(d)) if d else 0.0


def plain_summary(pseudonym: str, visits: list[Visit]) -> list[str]:
    """Sentences a therapist can read with the client (no jargon without a gloss)."""
    n = len(visits)
    first, last = visits[0], visits[-1]
    total_min = sum(v.duration_s for v in visits) / 60
    out = [
        f"{pseudonym} has had {n} visit{'s' if n != 1 else ''} between "
        f"{first.started_utc[:10]} and {last.started_utc[:10]}, {total_min:.0f} minutes in all."
    ]
    for attr, what, unit, dec, calmer in (
        ("baseline_hr_bpm", "Resting heart rate", " beats per minute", 0, "lower"),
        ("baseline_ln_rmssd", "Heart rate variability (ln RMSSD)", "", 2, "higher"),
    ):
        vals = [getattr(v, attr) for v in visits if getattr(v, attr) is not None]
        if len(vals) >= 2:
            a, b = vals[0], vals[-1]
            tol = 2.0 if dec == 0 else 0.1
            trend = (
                "stayed about the same"
                if abs(b - a) < tol
                else f"went {'down' if b < a else 'up'} from {a:.{dec}f} to {b:.{dec}f}{unit}"
            )
            out.append(
                f"{what} during the quiet minute at the start of each visit {trend} "
                f"(a {calmer} value usually means a calmer body at rest)."
            )
        elif vals:
            out.append(f"{what} at rest was {vals[0]:.{dec}f}{unit} (one visit measured).")
    reached = [v for v in visits if v.time_to_target_s is not None]
    if reached:
        med = float(np.median([v.time_to_target_s for v in reached])) / 60
        out.append(
            f"The calm target was reached in {len(reached)} of {n} visits, after about "
            f"{med:.0f} minutes (median)."
        )
    else:
        out.append(f"The calm target was not reached in any of the {n} visits yet.")
    hold = float(np.median([v.hold_s / max(v.duration_s, 1e-9) for v in visits]))
    out.append(
        f"The music paused its adjustments (held) for {100 * hold:.0f}% of a visit (median), "
        "when the body signals were too unclear to follow."
    )
    pairs = [
        (a, b) for v in visits if (a := v.rating("pre")) is not None and (b := v.rating("post"))
    ]
    if pairs:
        da = _mean_change(pairs, "arousal")
        dv = _mean_change(pairs, "valence")
        out.append(
            f"In the {len(pairs)} visit{'s' if len(pairs) != 1 else ''} with a rating before and "
            f"after, {pseudonym} felt on average {abs(da):.1f} points "
            f"{'calmer' if da < 0 else 'more activated'} and {abs(dv):.1f} points "
            f"{'more pleasant' if dv >= 0 else 'less pleasant'} after the session."
        )
    else:
        out.append("No before-and-after self-ratings were recorded.")
    n_alarms = sum(len(v.alarms) for v in visits)
    out.append(
        "No alarms were raised."
        if not n_alarms
        else f"{n_alarms} alarm{'s were' if n_alarms != 1 else ' was'} raised (listed below)."
    )
    helped = [v.helped for v in visits if v.helped]
    if helped:
        tempo = float(np.median([h.get("tempo_bpm", np.nan) for h in helped]))
        modes = [_mode_name(h.get("mode")) for h in helped]
        common = max(set(modes), key=modes.count)
        out.append(
            f"The music playing when arousal came down fastest was around {tempo:.0f} beats "
            f"per minute, most often in the {common} mode."
        )
    out.append(
        "These are measurements from a few sessions, not a diagnosis: read them together "
        "and compare them with how the sessions felt."
    )
    return out


def render_page(pseudonym: str, visits: list[Visit]) -> str:
    """Return the progress page as HTML text (figures inline, no scripts)."""
    e = html.escape
    figs = []
    for fid, make, caption in (
        (
            "heart",
            figure_heart,
            "Median heart rate and ln RMSSD over the silent baseline at the start of each "
            "visit: the body at rest before the music.",
        ),
        (
            "selfreport",
            figure_selfreport,
            "Self-rated arousal and valence before (hollow) and after (filled) each visit.",
        ),
        (
            "target",
            figure_target,
            f"Minutes until the arousal estimate came within {TARGET_BAND:g} of the calm "
            "goal and stayed (hatched: not reached within the visit); minutes the music was "
            "held because the signals were unclear.",
        ),
    ):
        fig = make(visits)
        figs.append((fid, None if fig is None else _png(fig), caption))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "img-src data:; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Attune progress: {e(pseudonym)}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Progress of {e(pseudonym)}</h1>",
        f'<p class="sub">{len(visits)} visits, pseudonym only</p>',
        '<h2 id="summary">Summary</h2>',
        '<div id="plain">' + "".join(f"<p>{e(s)}</p>" for s in plain_summary(pseudonym, visits)),
        "</div>",
    ]
    titles = {
        "heart": "Resting heart",
        "selfreport": "Self-report",
        "target": "Reaching the calm target",
    }
    for fid, png, caption in figs:
        out.append(f'<h2 id="h-{fid}">{titles[fid]}</h2>')
        if png is None:
            out.append(f'<p class="note" id="fig-{fid}">Not recorded in these visits.</p>')
        else:
            out.append(
                f'<figure id="fig-{fid}"><img alt="{e(titles[fid])}" '
                f'src="data:image/png;base64,{png}"><figcaption>{e(caption)}</figcaption></figure>'
            )
    feelings = [(v, r) for v in visits for r in v.reports if r.text]
    if feelings:
        out.append(
            '<h2 id="h-feelings">Described feelings</h2><table><tr><th>visit</th>'
            "<th>when</th><th>text</th><th>arousal</th><th>valence</th></tr>"
        )
        for v, r in feelings:
            out.append(
                f"<tr><td>{v.number}</td><td>{e(r.kind)}</td><td>{e(r.text or '')}</td>"
                f'<td class="num">{_fmt(r.arousal, 2)}</td>'
                f'<td class="num">{_fmt(r.valence, 2)}</td></tr>'
            )
        out.append("</table>")
    out.append('<h2 id="h-alarms">Alarms</h2>')
    alarms = [(v, ts, ev) for v in visits for ts, ev in v.alarms]
    if alarms:
        out.append("<table><tr><th>visit</th><th>time</th><th>alarm</th></tr>")
        for v, ts, ev in alarms:
            out.append(f"<tr><td>{v.number}</td><td>{mmss(ts)}</td><td>{e(ev[6:])}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>No alarms in these visits.</p>")
    out.append('<h2 id="h-music">Music that helped</h2>')
    out.append(
        f"<p>Per visit, the {HELP_WINDOW_S:g} s window in which arousal came closest to the "
        "goal fastest, and what the music was doing then.</p>"
    )
    out.append(
        "<table><tr><th>visit</th><th>from</th><th>closer to goal by</th><th>tempo (BPM)</th>"
        "<th>mode</th><th>brightness</th><th>loudness (dBFS)</th></tr>"
    )
    for v in visits:
        h = v.helped
        if not h:
            out.append(f'<tr><td>{v.number}</td><td colspan="6">–</td></tr>')
            continue
        out.append(
            f"<tr><td>{v.number}</td><td>{mmss(h['start_s'])}</td>"
            f'<td class="num">{h["gain"]:.2f}</td>'
            f'<td class="num">{_fmt(h.get("tempo_bpm"), 0)}</td>'
            f"<td>{_mode_name(h.get('mode'))}</td>"
            f'<td class="num">{_fmt(h.get("brightness"), 2)}</td>'
            f'<td class="num">{_fmt(h.get("loudness_db"), 1)}</td></tr>'
        )
    out.append("</table>")
    out.append(
        '<h2 id="h-visits">Visits</h2><table id="visits"><tr><th>#</th><th>session</th>'
        "<th>started (UTC)</th><th>length</th><th>status</th><th>resting HR (bpm)</th>"
        "<th>ln RMSSD</th><th>before (A, V)</th><th>after (A, V)</th>"
        "<th>time to target</th><th>on hold</th><th>alarms</th></tr>"
    )
    for v in visits:
        pre, post = v.rating("pre"), v.rating("post")
        av = lambda r: "–" if r is None else f"{_fmt(r.arousal, 1)}, {_fmt(r.valence, 1)}"  # noqa: E731
        out.append(
            f"<tr><td>{v.number}</td><td>{e(v.session_id)}</td>"
            f"<td>{e(v.started_utc[:16].replace('T', ' '))}</td><td>{mmss(v.duration_s)}</td>"
            f"<td>{e(v.status)}</td>"
            f'<td class="num">{_fmt(v.baseline_hr_bpm, 1)}</td>'
            f'<td class="num">{_fmt(v.baseline_ln_rmssd, 2)}</td>'
            f"<td>{av(pre)}</td><td>{av(post)}</td>"
            f"<td>{'not reached' if v.time_to_target_s is None else mmss(v.time_to_target_s)}</td>"
            f"<td>{mmss(v.hold_s)}</td><td>{len(v.alarms)}</td></tr>"
        )
    out.append("</table>")
    out.append('<p class="note">Therapist notes are not shown on this page.</p>')
    out.append("</main></body></html>")
    return "\n".join(out)


def write_progress(pseudonym: str, *, out: Path | None = None) -> Path:
    """Write the progress page of client ``pseudonym``.

    Parameters
    ----------
    pseudonym : str
        The client.
    out : Path, optional
        Where to write; default ``HOME/progress/<pseudonym>.html`` (refused with
        encryption at rest on: the page would be a clear copy inside the home).

    Raises
    ------
    ProgressError
        No sessions, or a default path while encryption is on.
    """
    visits = client_visits(pseudonym)
    if not visits:
        raise ProgressError(f"client {pseudonym}: no sessions found (attune sessions --client)")
    if out is None:
        if encryption_on():
            raise ProgressError(
                "encryption at rest is on: the page is not kept in the data home; "
                "give --out FILE to write a clear copy"
            )
        d = progress_dir()
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        out = d / f"{pseudonym}.html"
    text = render_page(pseudonym, visits)
    with private_open(Path(out)) as f:
        f.write(text)
    return Path(out)
