"""Every example session file validates and runs (shortened)."""

from pathlib import Path

import numpy as np
import pytest

from sessions.config import load_config
from sessions.simulate import run_simulation

EXAMPLES = sorted((Path(__file__).parents[1] / "sessions" / "examples").glob("*.toml"))


def test_there_are_examples():
    assert EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_shortened(path, tmp_path):
    cfg = load_config(path)
    # a tenth of every phase, at least a few seconds each
    ph = cfg.phases
    short = ph.model_copy(
        update={
            k: max(getattr(ph, k) / 10.0, 10.0 if getattr(ph, k) > 0 else 0.0)
            for k in ("baseline_s", "match_s", "transition_s", "maintain_s", "recovery_s")
        }
    )
    cfg = cfg.model_copy(update={"phases": short, "output_dir": tmp_path, "render_audio": False})
    s = run_simulation(cfg)
    assert s.duration_s == pytest.approx(short.total_s)
    assert np.isfinite(s.end_arousal)
    assert (s.folder / "ticks.csv").stat().st_size > 0
