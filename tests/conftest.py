"""Shared fixtures. Helpers that build test recordings live beside this file
(``chunking.py``, ``muse_csv.py``, ``publish_counter.py``, ``xdf_writer.py``); test files
mirror the modules they test (``test_<module>.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def attune_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Give every test its own empty data home (``ATTUNE_HOME``), encryption off.

    Tests never write to the real data home, read the user's settings file or use a key
    from the environment; a test turns encryption on with ``monkeypatch.setenv``.
    """
    home = tmp_path_factory.mktemp("attune-home")
    monkeypatch.setenv("ATTUNE_HOME", str(home))
    monkeypatch.setenv("ATTUNE_SETTINGS", str(home / "no-settings.toml"))
    monkeypatch.delenv("ATTUNE_KEY", raising=False)
    return home


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real third-party recordings copied into ``tests/data`` (licences beside them)."""
    return DATA


@pytest.fixture
def short_config(tmp_path: Path) -> Callable[..., object]:
    """Factory of a short, silent session config writing under ``tmp_path``.

    ``short_config(baseline_s=5, match_s=20, transition_s=0, maintain_s=0, **fields)``.
    """
    from attune.sessions.config import Phases, SessionConfig

    def make(
        *,
        baseline_s: float = 5.0,
        match_s: float = 20.0,
        transition_s: float = 0.0,
        maintain_s: float = 0.0,
        **fields: object,
    ) -> SessionConfig:
        phases = Phases(
            baseline_s=baseline_s, match_s=match_s, transition_s=transition_s, maintain_s=maintain_s
        )
        return SessionConfig(output_dir=tmp_path, render_audio=False, phases=phases, **fields)

    return make
