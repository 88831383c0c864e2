"""How often the corpus check times a suite (scripts/corpus_check.py): the cost figure is
a ratio of median wall times, and a sub-second suite needs more runs for a steady one."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "corpus_check.py"


@pytest.fixture(scope="module")
def corpus_check():
    spec = importlib.util.spec_from_file_location("corpus_check_under_test", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _runs(corpus_check, repeat: int, plain: float, record: float) -> int:
    """Runs of each kind made for a suite taking ``plain`` and ``record`` seconds."""
    done = 0
    while True:
        done += 1
        if not corpus_check.another_timing_run(done, repeat, done * (plain + record), record):
            return done


def test_a_short_suite_is_timed_until_the_budget(corpus_check) -> None:
    assert _runs(corpus_check, 3, 0.3, 0.5) == corpus_check.MAX_TIMING_RUNS
    # (2.1 + 3.2 s a pair: the fourth pair passes 20 s)
    assert _runs(corpus_check, 3, 2.1, 3.2) == 4


def test_a_long_suite_runs_as_often_as_asked(corpus_check) -> None:
    assert _runs(corpus_check, 3, 14.1, 15.4) == 3
    assert _runs(corpus_check, 5, 14.1, 15.4) == 5
    assert _runs(corpus_check, 12, 0.3, 0.5) == 12


def test_a_quick_look_and_a_slow_suite_run_once(corpus_check) -> None:
    assert _runs(corpus_check, 1, 0.3, 0.5) == 1
    assert _runs(corpus_check, 3, 50.0, corpus_check.SLOW_SUITE + 1) == 1
