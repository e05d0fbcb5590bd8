"""Does the estimator's confidence mean something? Checked against simulated truth.

``python -m attune.benchmarks.bench_confidence [N] [SEED]`` draws ``N`` simulated listeners
(default 50; :func:`attune.sessions.evaluate.draw_listener`, with random ectopic beats,
blinks and EMG bursts), runs each through the closed loop on the silent backend, and
measures after the baseline:

* arousal: Spearman correlation between confidence and minus the absolute error of the
  estimate against the listener's true arousal, over all ticks of all listeners (the
  error must be smaller when confidence is high; target >= 0.3), and per listener;
* valence: the share of ticks where valence counts as measured (``valence_measured``)
  and the correlation of the valence estimate with the truth on those ticks (target
  >= 0.5 where steered, else reported as not measured).

Protocol: baseline 180 s (the minimum the science supports), match 60 s, transition
180 s, maintain 120 s, tick 0.5 s; the estimator is anchored on each listener's intake
rating (true state plus rating error) as in a real session.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np

PROTOCOL_KW: dict[str, Any] = {
    "baseline_s": 180.0,
    "match_s": 60.0,
    "transition_s": 180.0,
    "maintain_s": 120.0,
}


@dataclass(frozen=True)
class ConfidenceResult:
    """Pooled and per-listener figures (see the module docstring)."""

    n_listeners: int
    spearman_arousal: float
    spearman_arousal_per_listener_median: float
    arousal_error_high_conf: float
    arousal_error_low_conf: float
    valence_measured_share: float
    valence_corr_where_measured: float | None

    def format(self) -> str:
        """Return a short text report."""
        vc = self.valence_corr_where_measured
        return "\n".join(
            [
                f"{self.n_listeners} simulated listeners",
                f"arousal: Spearman(confidence, -|error|) = {self.spearman_arousal:.3f} pooled, "
                f"{self.spearman_arousal_per_listener_median:.3f} median per listener",
                f"arousal |error|: {self.arousal_error_high_conf:.3f} with confidence above "
                f"its median, {self.arousal_error_low_conf:.3f} below",
                f"valence measured on {100 * self.valence_measured_share:.1f}% of ticks; "
                + (
                    f"r(estimate, truth) there = {vc:.3f}"
                    if vc is not None
                    else "not measured: reported as such"
                ),
            ]
        )


def run_listener(seed: int, index: int) -> dict[str, np.ndarray]:
    """Run one simulated listener; per-tick arrays after the baseline."""
    from attune.engine.clocks import VirtualClock
    from attune.sessions.evaluate import EvalProtocol, draw_listener, eval_config
    from attune.sessions.simulated_run import silent_engine

    protocol = EvalProtocol(**PROTOCOL_KW)
    listener, intake, goal, _ = draw_listener(seed, index, protocol)
    cfg = eval_config(protocol, goal=goal, intake=intake, closed=True)
    engine = silent_engine(cfg, listener)
    clock = VirtualClock(tick_s=cfg.tick_s)
    n = int(round(protocol.total_s / cfg.tick_s))
    cols = {k: np.empty(n) for k in ("t", "a", "c", "v", "vc", "vm", "ta", "tv")}
    for i in range(n):
        r = engine.step(clock.next_tick())
        e = r.estimate
        ta, tv = listener.state_at(r.t)
        row = (r.t, e.arousal, e.confidence, e.valence, e.valence_confidence)
        for k, x in zip(("t", "a", "c", "v", "vc"), row, strict=True):
            cols[k][i] = x
        cols["vm"][i], cols["ta"][i], cols["tv"][i] = float(e.valence_measured), ta, tv
    keep = cols["t"] >= protocol.baseline_s
    return {k: v[keep] for k, v in cols.items()}


def evaluate_confidence(n_listeners: int = 50, seed: int = 11) -> ConfidenceResult:
    """Run ``n_listeners`` listeners of population ``seed`` and compute the figures."""
    from scipy.stats import spearmanr

    runs = [run_listener(seed, i) for i in range(n_listeners)]
    c = np.concatenate([r["c"] for r in runs])
    err = np.concatenate([np.abs(r["a"] - r["ta"]) for r in runs])
    per = [float(spearmanr(r["c"], -np.abs(r["a"] - r["ta"]))[0]) for r in runs]
    hi = c > np.median(c)
    vm = np.concatenate([r["vm"] for r in runs]) > 0.5
    v = np.concatenate([r["v"] for r in runs])
    tv = np.concatenate([r["tv"] for r in runs])
    vcorr = float(np.corrcoef(v[vm], tv[vm])[0, 1]) if vm.sum() > 10 else None
    return ConfidenceResult(
        n_listeners=n_listeners,
        spearman_arousal=float(spearmanr(c, -err)[0]),
        spearman_arousal_per_listener_median=float(np.nanmedian(per)),
        arousal_error_high_conf=float(err[hi].mean()),
        arousal_error_low_conf=float(err[~hi].mean()),
        valence_measured_share=float(vm.mean()),
        valence_corr_where_measured=vcorr,
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``[N] [SEED]``."""
    args = sys.argv[1:] if argv is None else argv
    n = int(args[0]) if args else 50
    seed = int(args[1]) if len(args) > 1 else 11
    print(evaluate_confidence(n, seed).format())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
