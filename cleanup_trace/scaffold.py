"""The generated files: one test module with a sync and an async test, two conftest snippets.

Never overwrites a user's file: an existing file is left as it is and reported.
"""
from __future__ import annotations

from pathlib import Path

TEST_FILE = "test_pytestcleanup_cases.py"
REPLAY_CONFTEST = "conftest-pytestcleanup-replay.py"
RECORD_CONFTEST = "conftest-pytestcleanup-record.py"
# The generated tests (TEST_SOURCE), which the plugin parametrizes from the data files.
# Here, not in replay: the plugin asks every test function of every run whether it is one
# of them, and replay's import (the serialiser, jsonpickle) cost each plain pytest run
# with the tool installed 20 ms.
SYNC_TEST = "test_pytest_cleanup_sync_test_cases"
ASYNC_TEST = "test_pytest_cleanup_async_test_cases"

TEST_SOURCE = '''"""Replays the calls recorded by cleanup_trace: see the {data_dir} directory."""
from cleanup_trace import assert_return_values


def {sync_test}(fn, args, kwargs, expected):
    """See {data_dir} for the test cases (one per recorded call)."""
    actual = fn(*args, **kwargs)
    assert_return_values(actual, expected)


async def {async_test}(fn, args, kwargs, expected):
    """See {data_dir} for the test cases; runs with or without pytest-asyncio."""
    actual = await fn(*args, **kwargs)
    assert_return_values(actual, expected)
'''

REPLAY_SOURCE = '''# Merge into conftest.py. Optional: the cleanup_trace plugin parametrizes the generated
# tests by itself; this hook also parametrizes tests of your own that take
# (fn, args, kwargs, expected).


def pytest_generate_tests(metafunc):
    from cleanup_trace import parametrize_stg_tests

    parametrize_stg_tests(metafunc)
'''

RECORD_SOURCE = '''# Merge into conftest.py to record the calls your test suite makes into your code.
# `pytest --cleanup-record` does the same without this file and starts earlier, so that
# application modules imported by conftest.py are recorded too.


def pytest_runtestloop(session):
    from cleanup_trace import Recorder

    Recorder().start()


def pytest_sessionfinish(session, exitstatus):
    from cleanup_trace import Recorder

    Recorder().stop()
'''


def write_scaffold(test_directory: Path, data_dir_name: str) -> dict[str, str]:
    """Write the three files that are missing; return ``{path: "written" | "kept"}``."""
    test_directory.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, text in ((TEST_FILE, TEST_SOURCE.format(data_dir=data_dir_name, sync_test=SYNC_TEST, async_test=ASYNC_TEST)),
                       (REPLAY_CONFTEST, REPLAY_SOURCE), (RECORD_CONFTEST, RECORD_SOURCE)):
        path = test_directory / name
        try:
            with open(path, "x", encoding="utf-8") as handle:
                handle.write(text)
            results[str(path)] = "written"
        except FileExistsError:
            results[str(path)] = "kept"
    return results
