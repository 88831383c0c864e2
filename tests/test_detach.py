"""Putting plain functions back once recording no longer needs their wrappers, and back again."""
from __future__ import annotations

import json
import sys
import textwrap

import pytest

LIB = '''
def kept(x):
    return x + 1

def taken(x):
    return x + 2
'''

SCRIPT = '''
import types
from cleanup_trace import Recorder

def plain(function):
    return type(function) is types.FunctionType

with Recorder():
    import lib
    for value in range(3):
        lib.kept(value)
        lib.taken(value)
print("after first run:", plain(lib.kept), plain(lib.taken))
taken = lib.taken  # somebody holds the plain function now
with Recorder():
    print("recording again:", plain(lib.kept), plain(lib.taken))
    lib.kept(10)
    print("still the same object:", taken is lib.taken)
print("after second run:", plain(lib.kept), plain(lib.taken))
'''


def test_wrappers_go_back_at_stop_and_return_only_when_nobody_took_the_plain_function(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(lib=textwrap.dedent(LIB), script=textwrap.dedent(SCRIPT))
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines([
        "after first run: True True",
        # kept is wrapped again and records; taken stays plain: its holder would see a new object
        "recording again: False True",
        "still the same object: True",
        "after second run: True True",
    ])
    [kept_file] = (pytester.path / "tests" / "test-data" / "lib").glob("kept-*.json")
    assert 4 == len(json.loads(kept_file.read_text())["cases"])  # 3 from the first run, 1 from the second


SATURATING_SCRIPT = '''
import gc
import types
from cleanup_trace import Recorder

recorder = Recorder()
recorder.start()
import lib
for value in range(80):  # budget full, then watched for a while: the gate closes in a call
    lib.kept(value)
# No recorded call ends any more to put the plain function back: a garbage collection does.
gc.collect()
print("plain while still recording:", type(lib.kept) is types.FunctionType)
recorder.stop()
'''


def test_a_function_whose_gate_closed_in_its_own_call_is_put_back_without_more_recorded_calls(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """Once every budget is full nothing recorded runs any more: the plain function still
    comes back (at the next garbage collection), so a long run costs nothing."""
    pytester.makepyfile(lib=textwrap.dedent(LIB), script=textwrap.dedent(SATURATING_SCRIPT))
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["plain while still recording: True"])



def test_a_function_imported_by_name_elsewhere_is_put_back_in_every_module_holding_it(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """``from lib import kept`` in a test module: once the budget is full, the plain
    function takes the wrapper's place there and in ``lib`` at once (typeguard's and
    tabulate's suites compare ``type(f)`` with ``FunctionType`` in later tests). A
    holder that is not a module's name (a list) keeps the wrapper where it is."""
    pytester.makepyfile(lib=textwrap.dedent(LIB))
    pytester.makepyfile(test_lib=textwrap.dedent('''
        import types

        from lib import kept, taken

        REGISTRY = [taken]

        def test_calls():
            for value in range(80):
                assert kept(value) == value + 1
                assert taken(value) == value + 2

        def test_types():
            import lib
            assert type(kept) is types.FunctionType and kept is lib.kept
            assert type(taken) is not types.FunctionType and taken is lib.taken is REGISTRY[0]
    '''))
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider", "test_lib.py")
    result.assert_outcomes(passed=2)
