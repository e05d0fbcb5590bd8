"""The layer contracts hold, bite when broken, and no module imports a bare folder name.

The contracts live in pyproject.toml ``[tool.importlinter]``: sessions above engine above
synthesis and sensors (independent of each other), only the bench command imports the
benchmarks, and the engine never imports the simulated listener.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("engine", "sensors", "synthesis", "sessions", "benchmarks")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} not found: install the test extra (pip install -e '.[test]')")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_layer_contracts_are_kept():
    r = _lint_imports(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 kept, 0 broken" in r.stdout, r.stdout


@pytest.mark.parametrize(
    ("folder", "module", "line", "broken"),
    [
        # sensors and synthesis are independent
        ("sensors", "ring.py", "import attune.synthesis.params", "Layers"),
        # the engine may not reach up into sessions
        pytest.param(
            "engine",
            "clocks.py",
            "import attune.sessions.store",
            "Layers",
            marks=pytest.mark.slow,
        ),
        # only the bench command imports the benchmarks
        pytest.param(
            "synthesis",
            "params.py",
            "import attune.benchmarks.noisy_ecg",
            "Only the bench",
            marks=pytest.mark.slow,
        ),
        # the engine never hears the simulated listener
        ("engine", "loop.py", "import attune.sensors.simulated_listener", "never hears"),
        pytest.param(
            "engine",
            "control_law.py",
            "import attune.sensors.listener_response",
            "never hears",
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "engine",
            "affect.py",
            "import attune.sensors.listener_population",
            "never hears",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path, folder, module, line, broken):
    """A copy of the package with one bad import fails lint-imports, naming the contract."""
    src = tmp_path / "src" / "attune"
    for f in FOLDERS:
        shutil.copytree(ROOT / f, src / f, ignore=shutil.ignore_patterns("__pycache__"))
    target = src / folder / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}  # the copy shadows the install
    r = _lint_imports(tmp_path, env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "2 kept, 1 broken" in r.stdout, r.stdout
    dotted = f"attune.{folder}.{module.removesuffix('.py')}"
    assert f"{dotted} -> {line.split()[1]}" in r.stdout, r.stdout
    broken_lines = [s for s in r.stdout.splitlines() if " BROKEN" in s]
    assert len(broken_lines) == 1 and broken in broken_lines[0], r.stdout


def _bare_imports(source: str) -> list[tuple[int, str]]:
    """(line, name) of every import of a bare folder name, and of every relative import."""
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = ["." * node.level + (node.module or "")]
        else:
            continue
        bad += [(node.lineno, n) for n in names if n.startswith(".") or n.split(".")[0] in FOLDERS]
    return bad


def test_no_module_imports_a_bare_folder_name():
    files = [p for f in FOLDERS for p in sorted((ROOT / f).rglob("*.py"))]
    files += sorted((ROOT / "tests").rglob("*.py"))
    assert len(files) > 50  # the walk found the package
    bad = [
        f"{p.relative_to(ROOT)}:{line} {name}"
        for p in files
        for line, name in _bare_imports(p.read_text(encoding="utf-8"))
    ]
    assert not bad, "import attune.<folder> instead:\n" + "\n".join(bad)


def test_the_bare_import_check_sees_every_form():
    code = (
        "import engine\nimport sensors.ring as r\nfrom synthesis.params import X\n"
        "from sessions import store\nfrom . import sibling\nimport attune.engine.loop\n"
        "from attune.benchmarks import suite\nimport enginex\n"
        "def f():\n    import benchmarks.suite\n"
    )
    assert _bare_imports(code) == [
        (1, "engine"),
        (2, "sensors.ring"),
        (3, "synthesis.params"),
        (4, "sessions"),
        (5, "."),
        (10, "benchmarks.suite"),
    ]
