"""Every number the command line takes is finite and in range (issue 14).

One argparse type (:func:`attune.sessions.commands._common.cli_number`) serves every
number flag of every command; these tests walk the real parser, so a new flag declared
with a bare ``type=float`` or ``type=int`` fails here.
"""

from __future__ import annotations

import argparse
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from attune.sessions.cli import build_parser, main


def _number_actions() -> list[tuple[str, argparse.Action]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    out = []
    for name, p in sub.choices.items():
        for a in p._actions:
            if a.type is not None and hasattr(a.type, "lo"):
                out.append((name, a))
    return out


NUMBER_ACTIONS = _number_actions()


def test_no_command_takes_a_bare_float_or_int() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    bare = [
        f"{name} {a.option_strings or a.dest}"
        for name, p in sub.choices.items()
        for a in p._actions
        if a.type in (float, int)
    ]
    assert bare == []
    assert len(NUMBER_ACTIONS) >= 15  # --speed, --fs, --seed, --duration-s, --t-s, ...


def _in_range(f, v: float) -> bool:
    if f.lo is not None and (v <= f.lo if f.lo_open else v < f.lo):
        return False
    return f.hi is None or v <= f.hi


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["nan", "NaN", "-inf", "inf", "1e999", "-0", "0x10", "", " 1", "1_0"]),
    st.text(max_size=12),
)


@settings(max_examples=1500, deadline=None)
@given(i=st.integers(min_value=0, max_value=len(NUMBER_ACTIONS) - 1), text=numbers)
def test_every_cli_number_is_finite_and_in_range(i: int, text: str) -> None:
    name, action = NUMBER_ACTIONS[i]
    f = action.type
    try:
        v = f(text)
    except argparse.ArgumentTypeError as e:
        assert "\n" not in str(e)
        return
    assert math.isfinite(v), (name, action.option_strings, text)
    assert _in_range(f, v), (name, action.option_strings, text, v)
    if f.integer:
        assert isinstance(v, int)


@pytest.mark.parametrize(
    "argv",
    [
        ["replay", "x.csv", "--lsl", "--speed", "nan"],
        ["replay", "x.csv", "--speed", "0"],
        ["replay", "x.csv", "--fs", "0.001"],
        ["simulate", "--duration-s", "inf"],
        ["simulate", "--seed", "-1"],
        ["annotate", "S", "note", "--t-s", "nan"],
        ["control", "S", "status", "--timeout", "-1"],
        ["streams", "--wait", "1e999"],
    ],
)
def test_bad_numbers_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"attune {argv[0]}: argument --") and err.count("\n") == 1
