"""Self-report: the listener's own SAM ratings before, during and after a session.

A rating is the 9-point Self-Assessment Manikin (Bradley & Lang 1994) for arousal (1
calm .. 9 excited) and valence (1 unpleasant .. 9 pleasant), stored in the session's
``selfreports`` table (``t_s, kind, arousal, valence, source, text``;
:mod:`attune.sessions.store`). Where ratings come from:

* ``pre`` at intake: ``--intake-sam AROUSAL VALENCE`` (or the configuration's
  ``estimator.prior_*``) sets the estimator's starting point and is recorded at t = 0
  with source ``intake``; ``sam A V pre`` on the control channel during the baseline
  does the same;
* ``during``: ``sam A V [during]`` on the control channel (``attune control``, the
  console, ``attune selfreport SESSION --when during`` on a running session) or a
  confirmed described feeling (:mod:`attune.sessions.feelings`): the estimator anchors
  its estimate on it (:meth:`attune.engine.affect.AffectEstimator.self_report`);
* ``post`` after the session: ``attune selfreport SESSION --when post``; a simulated
  listener gives one from its true state at the end (source ``simulated``).

On a running session with a command channel, :func:`add_rating` sends the rating
through the channel (so the estimate uses it); otherwise it writes it into the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from attune.engine.affect import unit_to_sam
from attune.engine.protocol import REPORT_KINDS, SelfReport
from attune.sessions.store import add_selfreport, last_tick_s, read_selfreports

if TYPE_CHECKING:
    from attune.sessions.config import SessionConfig

__all__ = ["REPORT_KINDS", "SelfReport"]  # and the functions below


class SelfReportError(ValueError):
    """A rating is out of range or cannot be filed (one-line message)."""


def check_rating(value: float, what: str) -> float:
    """Return ``value`` if it is a SAM rating (finite, 1..9), else raise naming ``what``."""
    if not (math.isfinite(value) and 1.0 <= value <= 9.0):
        raise SelfReportError(f"{what} must be a SAM rating from 1 to 9, got {value:g}")
    return float(value)


def intake_report(cfg: SessionConfig) -> SelfReport | None:
    """Return the intake rating a session starts from (t = 0, ``pre``), or None if relative.

    It is the configuration's ``estimator.prior_arousal`` and ``prior_valence`` as SAM
    ratings (what ``--intake-sam`` sets).
    """
    es = cfg.estimator
    if es.prior_arousal is None or es.prior_valence is None:
        return None
    return SelfReport(
        0.0, "pre", unit_to_sam(es.prior_arousal), unit_to_sam(es.prior_valence), "intake"
    )


def row(rep: SelfReport) -> tuple:
    """Return the ``selfreports`` row of ``rep``."""
    return (float(rep.t_s), rep.kind, float(rep.arousal), float(rep.valence), rep.source, rep.text)


def read_reports(folder: Path | str) -> list[SelfReport]:
    """Every self-report of a session, by time."""
    return [
        SelfReport(float(t), str(k), float(a), float(v), str(s or ""), x)
        for t, k, a, v, s, x in read_selfreports(folder)
    ]


def add_rating(
    folder: Path | str,
    kind: str,
    arousal: float,
    valence: float,
    *,
    source: str = "cli",
    text: str | None = None,
    t_s: float | None = None,
) -> str:
    """File a rating into a session; return one line saying where it went.

    On a running session with a command channel the rating is sent as ``sam A V
    KIND`` (it reaches the estimator and the session files it); otherwise it is written
    into the store at ``t_s``, by default 0 for ``pre``, the newest tick for
    ``during`` and the end of the session for ``post``.

    Raises
    ------
    SelfReportError
        A rating outside 1..9 or an unknown ``kind``.
    """
    if kind not in REPORT_KINDS:
        raise SelfReportError(f"--when must be one of {', '.join(REPORT_KINDS)}, got {kind!r}")
    a, v = check_rating(arousal, "arousal"), check_rating(valence, "valence")
    folder = Path(folder)
    from attune.sessions.therapist import CHANNEL_FILE, TherapistError, send_command

    if (folder / CHANNEL_FILE).is_file() and text is None:
        try:
            send_command(folder, f"sam {a!r} {v!r} {kind}")
            return f"sent to the running session: SAM arousal {a:g}, valence {v:g} ({kind})"
        except TherapistError:
            pass  # a session that died with its channel open: file it directly
    newest, tick_s = last_tick_s(folder)
    if t_s is None:
        t_s = 0.0 if kind == "pre" else newest if kind == "during" else newest + tick_s
    add_selfreport(folder, (float(t_s), kind, a, v, source, text))
    return f"filed at {t_s:.2f} s: SAM arousal {a:g}, valence {v:g} ({kind}, {source})"


@dataclass(frozen=True)
class SelfReportSummary:
    """Before, after and during, for the report and the progress page.

    Attributes
    ----------
    pre, post : SelfReport or None
        The first ``pre`` and the last ``post`` rating.
    during : tuple of SelfReport
        Ratings during the session (confirmed feelings included).
    feelings : tuple of SelfReport
        The ratings that came from described feelings.
    """

    pre: SelfReport | None
    post: SelfReport | None
    during: tuple[SelfReport, ...]
    feelings: tuple[SelfReport, ...]

    def change(self) -> tuple[float, float] | None:
        """``post - pre`` (arousal, valence) in SAM points, or None without both."""
        if self.pre is None or self.post is None:
            return None
        return (self.post.arousal - self.pre.arousal, self.post.valence - self.pre.valence)


def summarize(reports: list[SelfReport]) -> SelfReportSummary:
    """Group a session's self-reports (:func:`read_reports`)."""
    pre = [r for r in reports if r.kind == "pre"]
    post = [r for r in reports if r.kind == "post"]
    return SelfReportSummary(
        pre[0] if pre else None,
        post[-1] if post else None,
        tuple(r for r in reports if r.kind == "during"),
        tuple(r for r in reports if r.source == "feeling"),
    )
