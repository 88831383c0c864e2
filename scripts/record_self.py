"""Record cleanup_trace's own pure modules into ``test-data/`` (the tool tests itself).

Run from the repository root: ``python scripts/record_self.py``. The cases are replayed by
``tests/test_self_replay.py``. Re-running adds only cases not on file yet.
"""
from __future__ import annotations

import os
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def workload() -> None:
    import importlib

    # import_module, not ``from cleanup_trace import ...``: the package attributes still
    # point at the copies imported (uninstrumented) before recording started.
    compare, config, writer = (importlib.import_module(f"cleanup_trace.{name}")
                               for name in ("compare", "config", "writer"))

    for environ in ({}, {"PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION": "7"},
                    {"PYTESTCLEANUP_LOG_LEVEL": "debug", "PYTESTCLEANUP_INCLUDE_MODULES": "a*, b.c"}):
        config.Settings.from_env(environ, cwd=ROOT / "examples")
    for parse, raw in ((config._positive_int, "12"), (config._non_negative_float, "0.5"),
                       (config._boolean, "yes"), (config._boolean, "off"), (config._log_level, "warning"),
                       (config._patterns, "x*, y.z,,"), (config._identifier, "main"),
                       (config._positive_int, "zero"), (config._log_level, "LOUD")):
        try:
            parse(raw)
        except ValueError:
            pass
    pairs = [([1, 2, 3], [1, 2, 4]), ({"a": 1}, {"a": 1, "b": 2}), ((1, 2), [1, 2]),
             (float("nan"), float("nan")), ({"x": [Decimal("1.10")]}, {"x": [Decimal("1.1")]}),
             ("text", "test"), ({1, 2}, {2, 3})]
    for actual, expected in pairs:
        compare.differences(actual, expected)
    for qualname, role in (("fib", ""), ("Account.balance", "setter"), ("Cart.total", "")):
        writer.function_stem(qualname, role)


def main() -> int:
    os.environ.update({
        "PYTESTCLEANUP_TEST_DIRECTORY": str(ROOT),
        "PYTESTCLEANUP_INCLUDE_MODULES": "cleanup_trace.config,cleanup_trace.compare,cleanup_trace.writer",
        "PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION": "8",
    })
    from cleanup_trace.recorder import Recorder

    with Recorder():
        # The package imported these before recording: import them again, instrumented.
        for name in ("cleanup_trace.config", "cleanup_trace.compare", "cleanup_trace.writer"):
            sys.modules.pop(name, None)
        workload()
    return 0


if __name__ == "__main__":
    sys.exit(main())
