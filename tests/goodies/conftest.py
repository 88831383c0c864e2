"""Helpers for the goodies' end-to-end tests (pytester based)."""
from __future__ import annotations

from typing import List, Tuple

import pytest

# Imported once here: pytester drops modules first imported during an inline
# run, so importing them up front keeps every inner run from re-importing
# (and re-rewriting) the package.
import cleanup_trace.goodies  # noqa: F401

INNER_ARGS = ("-p", "no:cacheprovider", "-p", "no:asyncio", "-p", "no:hypothesispytest")


def _plugin_args() -> List[str]:
    """Load the goodies plugin explicitly only when its entry point is not
    installed (e.g. running from a source tree via PYTHONPATH)."""
    import sys

    if any(getattr(p, "__name__", "") == "cleanup_trace.goodies._plugin" for p in sys.modules.values() if p):
        # Already imported by this pytest through the entry point.
        return []
    return ["-p", "cleanup_trace.goodies._plugin"]


class Runner(object):
    """Run a generated test module in-process and report ids/outcomes."""

    def __init__(self, pytester: pytest.Pytester) -> None:
        self.pytester = pytester

    def run(self, source: str, *args: str) -> Tuple[List[Tuple[str, str]], pytest.HookRecorder]:
        self.pytester.makepyfile(test_mod=source)
        rec = self.pytester.inline_run(*INNER_ARGS, *(_plugin_args() + list(args)))
        results = []
        for rep in rec.getreports("pytest_runtest_logreport"):
            if rep.when == "call" or (rep.when == "setup" and not rep.passed):
                results.append((rep.nodeid.split("::", 1)[1], rep.outcome))
        return results, rec

    def ids(self, source: str, *args: str) -> List[str]:
        """Collected test names (``test_x[id]``), in collection order."""
        self.pytester.makepyfile(test_mod=source)
        items, rec = self.pytester.inline_genitems(*INNER_ARGS, *(_plugin_args() + list(args)))
        errors = rec.getreports("pytest_collectreport")
        failed = [r for r in errors if r.failed]
        if failed:
            raise AssertionError(str(failed[0].longrepr))
        return [item.nodeid.split("::", 1)[1] for item in items]

    def outcomes(self, source: str, *args: str) -> List[Tuple[str, str]]:
        return self.run(source, *args)[0]


@pytest.fixture
def runner(pytester: pytest.Pytester) -> Runner:
    return Runner(pytester)


@pytest.fixture
def subprocess_pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester whose subprocess runs can import this source tree."""
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(cleanup_trace.goodies.__file__)))
    root = os.path.dirname(root)
    old = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", root + (os.pathsep + old if old else ""))
    return pytester
