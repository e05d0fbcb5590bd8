#!/usr/bin/env bash
# Build the wheel, install it into a clean venv, and run attune from another directory:
# the installed package must work without the checkout (called by `make test`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv_bin="$root/.venv/bin"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$venv_bin/python" -m pip wheel --quiet --no-deps --wheel-dir "$tmp/dist" "$root" 2>/dev/null
wheel="$(ls "$tmp"/dist/attune-*.whl)"
# Only `attune` (and its dist-info) at the top of site-packages.
"$venv_bin/python" - "$wheel" <<'PY'
import sys, zipfile
tops = {n.split("/")[0] for n in zipfile.ZipFile(sys.argv[1]).namelist()}
extra = {t for t in tops if t != "attune" and not t.endswith(".dist-info")}
if extra:
    sys.exit(f"wheel-check: the wheel adds top-level names besides attune: {sorted(extra)}")
PY
"$venv_bin/uv" venv --quiet --python "$venv_bin/python" "$tmp/venv"
"$venv_bin/uv" pip install --quiet --python "$tmp/venv/bin/python" "$wheel"
cd "$tmp"
attune="$tmp/venv/bin/attune"
"$attune" --version
"$attune" demo --no-audio --no-report --duration-s 60 --out "$tmp/sessions" >"$tmp/demo.log" 2>&1 \
    || { cat "$tmp/demo.log"; exit 1; }
"$attune" bench --smoke --out "$tmp/bench" >"$tmp/bench.log" 2>&1 \
    || { cat "$tmp/bench.log"; exit 1; }
if grep -h "LSLAPICFG" "$tmp/demo.log" "$tmp/bench.log"; then
    echo "wheel-check: liblsl could not find its configuration in the installed package" >&2
    exit 1
fi
tail -n 1 "$tmp/demo.log"
echo "wheel-check: the installed wheel runs --version, demo and bench --smoke from $tmp"
