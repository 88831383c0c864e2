"""Putting plain functions back once recording no longer needs their wrappers, and back again.

Only generators and coroutines have wrappers (plain functions record in their body, see
cleanup_trace.inline, and are their own object throughout): the functions here are
generators, beside a plain function that records in every run.
"""
from __future__ import annotations

import json
import sys
import textwrap

import pytest

LIB = '''
def kept(x):
    yield x + 1

def taken(x):
    yield x + 2

def inside(x):
    return x + 3
'''

SCRIPT = '''
import types
from cleanup_trace import Recorder

def plain(function):
    return type(function) is types.FunctionType

with Recorder():
    import lib
    inside = lib.inside
    for value in range(3):
        list(lib.kept(value))
        list(lib.taken(value))
        print("recording inside:", plain(lib.inside), lib.inside(value))
print("after first run:", plain(lib.kept), plain(lib.taken))
taken = lib.taken  # somebody holds the plain function now
with Recorder():
    print("recording again:", plain(lib.kept), plain(lib.taken))
    list(lib.kept(10))
    lib.inside(10)
    print("still the same object:", taken is lib.taken, inside is lib.inside)
print("after second run:", plain(lib.kept), plain(lib.taken), plain(lib.inside))
'''


def test_wrappers_go_back_at_stop_and_return_only_when_nobody_took_the_plain_function(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(lib=textwrap.dedent(LIB), script=textwrap.dedent(SCRIPT))
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines([
        "recording inside: True 3",
        "after first run: True True",
        # kept is wrapped again and records; taken stays plain: its holder would see a new object
        "recording again: False True",
        "still the same object: True True",
        "after second run: True True True",
    ])
    for name in ("kept", "inside"):  # 3 from the first run, 1 from the second
        [data_file] = (pytester.path / "tests" / "test-data" / "lib").glob(f"{name}-*.json")
        assert 4 == len(json.loads(data_file.read_text())["cases"])


SATURATING_SCRIPT = '''
import gc
import types
from cleanup_trace import Recorder

recorder = Recorder()
recorder.start()
import lib
for value in range(80):  # budget full, then watched for a while: the gate closes in a call
    list(lib.kept(value))
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

        from lib import inside

        def test_calls():
            for value in range(80):
                assert list(kept(value)) == [value + 1]
                assert list(taken(value)) == [value + 2]
                assert inside(value) == value + 3

        def test_types():
            import lib
            assert type(kept) is types.FunctionType and kept is lib.kept
            assert type(taken) is not types.FunctionType and taken is lib.taken is REGISTRY[0]
            assert type(inside) is types.FunctionType and inside is lib.inside
    '''))
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider", "test_lib.py")
    result.assert_outcomes(passed=2)


def test_a_module_another_of_yours_holds_as_a_global_still_gets_its_plain_functions_back(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """``import lib`` in another module of yours: the tool notes that module's functions
    (a test may patch them) by identity only. A copy of its namespace would hold each of
    them once more, and a function held elsewhere keeps its wrapper (see detach)."""
    user = "import lib\n\n\ndef use(x):\n    return list(lib.kept(x)) + list(lib.taken(x))\n"
    script = textwrap.dedent('''
        import types
        from cleanup_trace import Recorder

        with Recorder():
            import user, lib
            for value in range(3):
                user.use(value)
        print("after:", type(lib.kept) is types.FunctionType, type(lib.taken) is types.FunctionType)
    ''')
    pytester.makepyfile(lib=textwrap.dedent(LIB), user=user, script=script)
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["after: True True"])
