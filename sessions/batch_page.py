"""The dataset page of a batch: one self-contained HTML file (``dataset.html``).

It shows what the dataset table holds at a glance: counts, the failures with their
errors, the distribution of each summary feature across recordings (matplotlib
histograms embedded as base64 PNGs, so the file can be mailed or archived alone), and
one line per recording with its QC flags (:func:`attune.sessions.batch_table.qc_flags`).
Nothing on the page depends on when or on how many workers the batch ran.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from attune.sessions.batch_table import COLUMN_HELP

if TYPE_CHECKING:
    from attune.sessions.batch import BatchResult

#: (column, axis label, scale) of the distribution panels; the value shown is column x scale.
DISTRIBUTIONS: tuple[tuple[str, str, float], ...] = (
    ("duration_s", "duration (min)", 1 / 60),
    ("mean_hr_bpm", "mean heart rate (bpm)", 1.0),
    ("ln_rmssd", "ln RMSSD (ln ms)", 1.0),
    ("sdnn_ms", "SDNN (ms)", 1.0),
    ("hf_ln", "ln HF power (ln ms²)", 1.0),
    ("eeg_theta_ln", "EEG theta (ln µV²)", 1.0),
    ("eeg_alpha_ln", "EEG alpha (ln µV²)", 1.0),
    ("eeg_beta_ln", "EEG beta (ln µV²)", 1.0),
    ("eeg_alpha_rel", "relative alpha (0-1)", 1.0),
    ("hrv_quality", "heart signal quality (0-1)", 1.0),
    ("eeg_quality", "EEG quality (0-1)", 1.0),
    ("hold_pct", "time on hold (%)", 1.0),
    ("arousal_mean", "mean arousal estimate", 1.0),
    ("arousal_end", "arousal estimate at end", 1.0),
)
#: Columns of the per-recording QC table: (column, heading, decimals or None for text).
QC_TABLE: tuple[tuple[str, str, int | None], ...] = (
    ("participant", "participant", None),
    ("streams", "streams", None),
    ("duration_s", "duration (s)", 0),
    ("n_beats", "beats", 0),
    ("mean_hr_bpm", "HR (bpm)", 1),
    ("ln_rmssd", "ln RMSSD", 2),
    ("sdnn_ms", "SDNN (ms)", 1),
    ("eeg_alpha_ln", "alpha (ln µV²)", 2),
    ("hrv_quality", "heart quality", 2),
    ("eeg_quality", "EEG quality", 2),
    ("hold_pct", "hold (%)", 1),
    ("arousal_end", "arousal end", 2),
)
FIG_DPI = 90

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1d1d1d;
       margin: 0; background: #f4f5f7; font-size: 14px; line-height: 1.45; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 25px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 30px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #e3e6ea; }
.sub { color: #5a5a5a; margin: 0 0 16px; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { padding: 4px 9px; border-bottom: 1px solid #e3e6ea; text-align: left;
         vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.flagged td { background: #fff8ea; }
tr.failed td { background: #fdecea; }
.status { padding: 10px 14px; border-radius: 6px; margin: 12px 0 4px; font-weight: 600; }
.status.ok { background: #e5f4e8; border-left: 6px solid #2e9e44; }
.status.bad { background: #fdecea; border-left: 6px solid #c0392b; }
figure { margin: 14px 0 22px; }
figure img { width: 100%; height: auto; display: block; border: 1px solid #e3e6ea; }
figcaption { color: #444; margin-top: 6px; }
code { font-size: 12.5px; }
details summary { cursor: pointer; color: #1f5fa8; }
"""


def _finite(rows: list[dict[str, object]], col: str, scale: float = 1.0) -> np.ndarray:
    vals = [r.get(col) for r in rows if r.get("status") == "ok"]
    x = np.array([v if isinstance(v, int | float) else np.nan for v in vals], dtype=float)
    return x[np.isfinite(x)] * scale


def distributions_png(rows: list[dict[str, object]]) -> str | None:
    """Histograms of :data:`DISTRIBUTIONS` across recordings, as a base64 PNG.

    Returns None when no recording has any of these values.
    """
    panels = [(c, lab, _finite(rows, c, s)) for c, lab, s in DISTRIBUTIONS]
    panels = [p for p in panels if p[2].size]
    if not panels:
        return None
    from matplotlib.figure import Figure

    ncol = 4
    nrow = math.ceil(len(panels) / ncol)
    fig = Figure(figsize=(13.0, 2.6 * nrow), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax, (_, label, x) in zip(axes.flat, panels, strict=False):
        bins = max(1, min(20, int(np.ceil(np.sqrt(x.size))) + 1))
        mid = float(np.median(x))
        if not np.ptp(x) > 1e-9 * max(1.0, float(np.max(np.abs(x)))):  # all (nearly) equal
            ax.hist(x, bins=1, range=(mid - 0.5, mid + 0.5), color="#1f5fa8")
        else:
            ax.hist(x, bins=bins, color="#1f5fa8", edgecolor="white")
        ax.axvline(mid, color="#c0392b", lw=1.2)
        ax.set_xlabel(label)
        ax.set_title(f"n = {x.size}, median {mid:.3g}", fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("recordings")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=FIG_DPI, facecolor="white")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _num(v: object, dec: int) -> str:
    if not isinstance(v, int | float) or not math.isfinite(float(v)):
        return '<td class="num">–</td>'
    return f'<td class="num">{float(v):.{dec}f}</td>'


def render_page(result: BatchResult) -> str:
    """Return the dataset page of ``result`` as HTML text."""
    from attune.sessions.batch import TABLE_CSV, TABLE_PARQUET

    rows = result.rows
    e = html.escape
    n_ok = sum(1 for r in rows if r.get("status") == "ok")
    failed = [r for r in rows if r.get("status") != "ok"]
    flagged = [r for r in rows if r.get("status") == "ok" and r.get("qc_flags")]
    participants = sorted({str(r.get("participant")) for r in rows if r.get("participant")})
    hours = float(np.sum(_finite(rows, "duration_s"))) / 3600.0
    versions = sorted({str(r.get("attune_version")) for r in rows if r.get("attune_version")})
    name = result.out.name
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Attune dataset: {e(name)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>Attune dataset: {e(name)}</h1>",
        f'<p class="sub">{len(rows)} recordings of {len(participants)} participants, '
        f"{hours:.2f} h replayed; Attune {e(', '.join(versions) or '-')}. Table: "
        f'<a href="{TABLE_CSV}">{TABLE_CSV}</a>, <a href="{TABLE_PARQUET}">{TABLE_PARQUET}</a>'
        ".</p>",
    ]
    if failed:
        parts.append(
            f'<div class="status bad">{n_ok} replayed, {len(failed)} failed, '
            f"{len(flagged)} with QC flags</div>"
        )
    else:
        parts.append(
            f'<div class="status ok">all {n_ok} replayed; {len(flagged)} with QC flags</div>'
        )
    if failed:
        parts += [
            "<h2>Failures</h2>",
            "<table><tr><th>recording</th><th>error</th></tr>",
            *(
                f"<tr><td>{e(str(r['recording']))}</td><td><code>{e(str(r['error']))}</code>"
                "</td></tr>"
                for r in failed
            ),
            "</table>",
        ]
    png = distributions_png(rows)
    parts.append("<h2>Distributions across recordings</h2>")
    if png is None:
        parts.append("<p>No recording has summary values to show.</p>")
    else:
        parts.append(
            f'<figure><img alt="distributions" src="data:image/png;base64,{png}">'
            "<figcaption>One histogram per summary value of the dataset table, over the "
            "recordings that have it (n); the red line is the median. Per-tick features are "
            "summarised by their median over the session.</figcaption></figure>"
        )
    head = "".join(f"<th>{e(h)}</th>" for _, h, _ in QC_TABLE)
    parts += [
        "<h2>Recordings and QC flags</h2>",
        f"<table><tr><th>recording</th>{head}<th>QC flags</th></tr>",
    ]
    for r in rows:
        cls = "failed" if r.get("status") != "ok" else "flagged" if r.get("qc_flags") else ""
        cells = "".join(
            f"<td>{e(str(r.get(c, '')))}</td>" if dec is None else _num(r.get(c), dec)
            for c, _, dec in QC_TABLE
        )
        rid = str(r["recording"])
        link = f'<a href="{e(rid)}/">{e(rid)}</a>' if r.get("status") == "ok" else e(rid)
        parts.append(
            f'<tr class="{cls}"><td>{link}</td>{cells}<td>{e(str(r.get("qc_flags", "")))}</td></tr>'
        )
    parts.append("</table>")
    parts += [
        "<details><summary>Columns of the dataset table</summary><table>",
        *(f"<tr><td><code>{e(c)}</code></td><td>{e(h)}</td></tr>" for c, h in COLUMN_HELP.items()),
        "</table></details>",
    ]
    if result.notes:
        parts += ["<h2>Notes</h2><ul>", *(f"<li>{e(n)}</li>" for n in result.notes), "</ul>"]
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def write_page(result: BatchResult, path: Path) -> Path:
    """Write :func:`render_page` to ``path`` (0600, atomically); return the path."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(render_page(result))
    os.replace(tmp, path)
    return path
