"""The global generator's state as the recorder takes it: raw bytes where CPython's layout
is confirmed, ``getstate()`` elsewhere; both say the same."""
from __future__ import annotations

import random
import sys
import sysconfig
from unittest import mock

import pytest

from cleanup_trace import random_state


@pytest.fixture(params=["raw bytes", "getstate"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    random_state.taken()  # (the layout confirmed once)
    if request.param == "getstate":
        monkeypatch.setattr(random_state, "_view", None)
    state = random.getstate()
    yield request.param
    random.setstate(state)  # (the tests draw numbers: leave the generator as it was)


def test_the_raw_bytes_are_used_on_a_standard_cpython() -> None:
    """Else every recorded call pays ``getstate()`` twice and a 625-item comparison."""
    if sys.implementation.name != "cpython" or sysconfig.get_config_var("Py_GIL_DISABLED"):
        pytest.skip("the raw layout is CPython's, with the usual object header")
    random_state.taken()
    assert random_state._view is not None


def test_a_state_nobody_drew_from_is_unchanged(way: str) -> None:
    taken = random_state.taken()
    assert not random_state.changed_since(taken)
    assert random_state.as_getstate(taken) == random.getstate()


@pytest.mark.parametrize("move", [
    lambda: random.random(),
    lambda: random.getrandbits(8),
    lambda: random.seed(12345),
    lambda: random.gauss(0, 1),  # (draws, and keeps a second number in gauss_next)
    lambda: random.setstate(random.Random(7).getstate()),
], ids=["random", "getrandbits", "seed", "gauss", "setstate"])
def test_any_draw_or_reseeding_is_a_change_and_the_state_before_comes_back(way: str, move) -> None:
    before = random.getstate()
    taken = random_state.taken()
    move()
    assert random_state.changed_since(taken)
    assert random_state.as_getstate(taken) == before
    drawn = [random.random() for _ in range(3)]
    random.setstate(random_state.as_getstate(taken))
    move()
    assert drawn == [random.random() for _ in range(3)]


def test_only_the_gauss_cache_moving_is_a_change(way: str) -> None:
    random.gauss(0, 1)  # (leaves the second number of a pair in gauss_next)
    taken = random_state.taken()
    random._inst.gauss_next = None  # type: ignore[attr-defined]
    assert random_state.changed_since(taken)


def test_the_tool_never_calls_a_patched_getstate() -> None:
    """A test's ``mock.patch("random.getstate")`` counts its calls: none may be the tool's."""
    with mock.patch("random.getstate") as patched:
        taken = random_state.taken()
        random_state.changed_since(taken)
    assert not patched.called
