"""Shared helpers for the end-to-end tests: a tiny application and ways to run the tool."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

APP = '''
"""A tiny application recorded by the tests."""


class Counter:
    def __init__(self, start=0):
        self.value = start

    def __eq__(self, other):
        return isinstance(other, Counter) and self.value == other.value

    def add(self, amount):
        self.value += amount
        return self.value

    @classmethod
    def zero(cls):
        return cls(0)

    @staticmethod
    def double(number):
        return number * 2


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def divide(a, b):
    return a / b


def squares(limit):
    for number in range(limit):
        yield number * number


def main():
    print("fib", [fib(n) for n in range(6)])
    counter = Counter.zero()
    print("add", counter.add(3), counter.add(4), Counter.double(21))
    try:
        divide(1, 0)
    except ZeroDivisionError as error:
        print("error", error)
    print("squares", list(squares(4)))
'''


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No PYTESTCLEANUP_* variable from the outer environment leaks into a test."""
    for name in list(os.environ):
        if name.startswith("PYTESTCLEANUP_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def debug_log(clean_env: pytest.MonkeyPatch) -> None:
    """The tool's per-call details (``call.skipped``...) are debug events: shown here."""
    clean_env.setenv("PYTESTCLEANUP_LOG_LEVEL", "DEBUG")


@pytest.fixture
def app(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> Path:
    """A project with ``app.py`` (functions, methods, an exception, a generator) and ``tests/``."""
    pytester.makepyfile(app=textwrap.dedent(APP))
    (pytester.path / "tests").mkdir()
    pytester.makefile(".ini", pytest="[pytest]\ntestpaths = tests\n")
    clean_env.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
    return pytester.path


SELF_DATA = Path(__file__).resolve().parent.parent / "test-data"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """test_self_replay.py replays the repository's own recorded cases."""
    if metafunc.definition.path.name == "test_self_replay.py":
        from cleanup_trace import parametrize_stg_tests

        parametrize_stg_tests(metafunc, data_directory=SELF_DATA)
