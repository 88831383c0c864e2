"""The whole path as a user walks it: record with the CLI, replay with pytest."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from e2e_support import data_files, run_tool

EXPECTED_FILES = [
    "tests/test-data/app/Counter.__init__-00.json",
    "tests/test-data/app/Counter.add-00.json",
    "tests/test-data/app/Counter.double-00.json",
    "tests/test-data/app/Counter.zero-00.json",
    "tests/test-data/app/divide-00.json",
    "tests/test-data/app/fib-00.json",
    "tests/test-data/app/main-00.json",
    "tests/test-data/app/squares-00.json",
]


def test_record_then_replay_green(pytester: pytest.Pytester, app: Path) -> None:
    """Recording the app writes one file per function and the scaffold; replay passes."""
    plain = pytester.run(sys.executable, "-c", "import app; app.main()")
    recorded = run_tool(pytester, "app")
    assert 0 == recorded.ret
    assert plain.outlines == [line for line in recorded.outlines if not line.startswith("written: ")]
    assert EXPECTED_FILES == data_files(app)
    assert (app / "tests" / "test_pytestcleanup_cases.py").exists()
    fib = json.loads((app / "tests/test-data/app/fib-00.json").read_text())
    assert 5 == len(fib["cases"])  # the default budget of distinct cases
    assert ("cleanup_trace/1", "app", "fib", False) == (fib["format"], fib["module"], fib["qualname"], fib["async"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=13, skipped=1)


def test_ids_are_readable_and_select_with_k(pytester: pytest.Pytester, app: Path) -> None:
    """Ids are module.qualname-NN-index: `-k fib` selects one function's cases."""
    run_tool(pytester, "app")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "fib", "-v")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*test_pytest_cleanup_sync_test_cases?app.fib-00-0? PASSED*"])


def test_recorded_exception_replays_as_raises(pytester: pytest.Pytester, app: Path) -> None:
    """divide(1, 0) was recorded raising: replay expects that type and message."""
    run_tool(pytester, "app")
    case = json.loads((app / "tests/test-data/app/divide-00.json").read_text())["cases"][0]
    assert {"raised": {"type": "builtins.ZeroDivisionError", "message": "division by zero"}} == case["outcome"]
    (app / "app.py").write_text((app / "app.py").read_text().replace("return a / b", "return 0"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "divide")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*expected builtins.ZeroDivisionError('division by zero') to be raised*"])


def test_changed_code_replays_red(pytester: pytest.Pytester, app: Path) -> None:
    """Replay catches a behaviour change, with the differing value in the message."""
    run_tool(pytester, "app")
    source = (app / "app.py").read_text()
    (app / "app.py").write_text(source.replace("return n if n < 2", "return n + 1 if n < 2"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "fib")
    result.assert_outcomes(failed=5)
    result.stdout.fnmatch_lines(["*replayed value differs from the recorded one*"])


def test_recording_twice_adds_no_files(pytester: pytest.Pytester, app: Path) -> None:
    """The same workload again: every case is already in -00, so no -01 appears."""
    run_tool(pytester, "app")
    before = {path: (app / path).read_text() for path in data_files(app)}
    run_tool(pytester, "app")
    assert before == {path: (app / path).read_text() for path in data_files(app)}


def test_new_cases_go_to_the_next_file(pytester: pytest.Pytester, app: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A second run with new calls writes -01 holding only cases that -00 lacks.

    Cases already on file count against the budget (so the same workload recorded twice
    adds nothing): the second run gets a larger budget to reach new values.
    """
    run_tool(pytester, "app")
    monkeypatch.setenv("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "12")
    with open(app / "app.py", "a") as handle:
        handle.write("\n\ndef more():\n    return [fib(n) for n in range(8, 12)]\n")
    monkeypatch.setenv("PYTESTCLEANUP_FUNCTION", "more")
    assert 0 == run_tool(pytester, "app").ret
    first = json.loads((app / "tests/test-data/app/fib-00.json").read_text())
    second = json.loads((app / "tests/test-data/app/fib-01.json").read_text())
    assert second["cases"]
    assert not {json.dumps(case, sort_keys=True) for case in second["cases"]} & {
        json.dumps(case, sort_keys=True) for case in first["cases"]}
    monkeypatch.delenv("PYTESTCLEANUP_FUNCTION")
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "fib").assert_outcomes(
        passed=len(first["cases"]) + len(second["cases"]))


def test_a_recorded_session_releases_its_records_at_its_end(pytester: pytest.Pytester, app: Path) -> None:
    """Once its files are written, a recorded session drops what only the recording needed
    (the functions' records, the files' states): pytest's last garbage collections no
    longer go through it. A recording started after it in the same process writes anew."""
    (app / "tests" / "test_fib.py").write_text("import app\n\ndef test_fib():\n    assert app.fib(5) == 5\n")
    (app / "tests" / "conftest.py").write_text(textwrap.dedent("""
        import sys

        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_unconfigure(config):
            from cleanup_trace import runtime
            from cleanup_trace.recorder import Recorder

            files = Recorder().writer._files
            sys.stderr.write(f"left: records={len(runtime.functions())} files={len(files)}\\n")
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "left: records=0 files=0" in result.stderr.str()
    assert 5 == len(json.loads((app / "tests/test-data/app/fib-00.json").read_text())["cases"])


def test_corrupt_data_file_fails_one_item(pytester: pytest.Pytester, app: Path) -> None:
    """A broken file: one failing item naming the file and the reason; the rest runs."""
    run_tool(pytester, "app")
    broken = app / "tests/test-data/app/fib-00.json"
    broken.write_text("{ not json")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=8, errors=1, skipped=1)
    result.stdout.fnmatch_lines([f"*{broken}: not valid JSON*"])


def test_wrong_format_version_is_named(pytester: pytest.Pytester, app: Path) -> None:
    """'file X: format A, expected B'."""
    run_tool(pytester, "app")
    path = app / "tests/test-data/app/fib-00.json"
    document = json.loads(path.read_text())
    document["format"] = "cleanup_trace/99"
    path.write_text(json.dumps(document))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "fib")
    result.stdout.fnmatch_lines([f"*{path}: format 'cleanup_trace/99', expected 'cleanup_trace/1'*"])


def test_scaffold_only_and_never_overwrites(pytester: pytest.Pytester, app: Path) -> None:
    """No module: only the three scaffold files; a user's edited file is kept."""
    result = run_tool(pytester)
    assert 0 == result.ret
    names = sorted(path.name for path in (app / "tests").iterdir())
    assert ["conftest-pytestcleanup-record.py", "conftest-pytestcleanup-replay.py",
            "test_pytestcleanup_cases.py"] == names
    test_file = app / "tests" / "test_pytestcleanup_cases.py"
    test_file.write_text("# mine\n")
    result = run_tool(pytester)
    result.stdout.fnmatch_lines(["kept: *test_pytestcleanup_cases.py"])
    assert "# mine\n" == test_file.read_text()


@pytest.mark.parametrize("arguments, environment, message", [
    (["no_such_module"], {}, "cleanup_trace: error: no module named 'no_such_module'*"),
    (["app"], {"PYTESTCLEANUP_FUNCTION": "absent"}, "cleanup_trace: error: module 'app' has no function 'absent'*"),
    (["app"], {"PYTESTCLEANUP_FUNCTION": "fib"}, "cleanup_trace: error: app.fib() needs arguments (n)*"),
    (["app"], {"PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION": "abc"},
     "cleanup_trace: error: PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION='abc' is not valid: expected a whole number >= 1"),
])
def test_clear_one_line_errors(pytester: pytest.Pytester, app: Path, monkeypatch: pytest.MonkeyPatch,
                               arguments: list, environment: dict, message: str) -> None:
    """Unknown module, missing function, function needing arguments, bad variable: exit 1."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = run_tool(pytester, *arguments)
    assert 1 == result.ret
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_program_exit_code_passes_through(pytester: pytest.Pytester, app: Path) -> None:
    """sys.exit(3) in main: the tool exits 3, after writing what it recorded."""
    with open(app / "app.py", "a") as handle:
        handle.write("\n\ndef failing():\n    fib(4)\n    raise SystemExit(3)\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTESTCLEANUP_FUNCTION", "failing")
        result = run_tool(pytester, "app")
    assert 3 == result.ret
    assert "tests/test-data/app/fib-00.json" in data_files(app)


def test_recorder_as_a_library(pytester: pytest.Pytester, app: Path) -> None:
    """`with Recorder():` records modules imported inside it; Recorder() is a singleton."""
    pytester.makepyfile(runner=textwrap.dedent("""
        from cleanup_trace import Recorder

        assert Recorder() is Recorder()
        with Recorder():
            import app
            print(app.fib(7))
    """))
    result = pytester.run(sys.executable, "runner.py")
    assert ["13"] == result.outlines
    fib = json.loads((app / "tests/test-data/app/fib-00.json").read_text())
    assert 5 == len(fib["cases"])


LATE_APP = '''
import time


class Shape:
    def __init__(self, side):
        self.side = side

    def __eq__(self, other):
        return type(other) is Shape and other.side == self.side

    def grown(self, by):
        return Shape(self.__side() + by)

    def __side(self):  # (stored in the class as ``_Shape__side``)
        return self.side

    @property
    def area(self):
        return self.side * self.side

    @staticmethod
    def unit():
        return Shape(1)

    @classmethod
    def of(cls, side):
        return cls(side)


def stamp(label):
    return (label, time.time())
'''


def test_modules_imported_before_recording_are_instrumented_in_place(pytester: pytest.Pytester, app: Path) -> None:
    """``import app`` before ``with Recorder():`` (or a library pytest imports before any
    plugin runs): the functions get the rewritten body (recording inside, the clock
    hook) and stay the same objects, so they record wherever they are held -- a bound
    method taken before recording too; a generator is wrapped where it is -- module,
    class, and modules that took it by name -- and the cases replay."""
    pytester.makepyfile(late=LATE_APP, user="from app import fib\n\ndef fib_plus(n):\n    return fib(n) + 1\n")
    pytester.makepyfile(runner=textwrap.dedent("""
        import inspect, types
        import app, late, user
        from cleanup_trace import Recorder

        plain_fib, counter_class = app.fib, app.Counter
        taken = late.Shape(7).grown  # (a bound method made before recording)
        with Recorder():
            print(app.fib(5), user.fib_plus(4), late.stamp("x")[0])
            print(late.Shape.unit().grown(2).area, late.Shape.of(3).area, app.Counter.zero().add(2))
            print(type(app.fib).__name__, app.fib is plain_fib, taken(1).side, list(app.squares(2)))
        # (recording done: the plain function is back in every module holding it)
        print(type(app.fib).__name__, app.fib is plain_fib is user.fib, inspect.signature(app.fib))
        print(app.Counter is counter_class, isinstance(app.Counter.__dict__["zero"], classmethod))
    """))
    result = pytester.run(sys.executable, "runner.py")
    assert result.ret == 0, result.stderr.str()
    assert ["5 4 x", "9 9 2", "function True 8 [0, 1]", "function True (n)", "True True"] == result.outlines
    assert "modules.imported_too_early" not in result.stderr.str()
    recorded = data_files(app)
    assert '"side": 7' in (app / "tests/test-data/late/Shape.grown-00.json").read_text()
    for stem in ("app/squares", "app/fib", "user/fib_plus", "late/Shape.unit", "late/Shape.grown", "late/Shape.__side",
                 "late/Shape.area", "late/Shape.of", "app/Counter.zero", "app/Counter.add"):
        assert f"tests/test-data/{stem}-00.json" in recorded
    assert "tests/test-data/late/stamp-00.json" not in recorded  # read the clock: its body was hooked
    run_tool(pytester)  # the scaffold: the replay test file
    outcomes = pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests").parseoutcomes()
    assert "failed" not in outcomes and outcomes["passed"] >= len(recorded)


def test_a_module_changed_since_its_import_keeps_its_own_bodies(pytester: pytest.Pytester, app: Path) -> None:
    """Instrumented in place, a module whose file changed since it was imported keeps
    the bodies it runs: only the wrapper is added, never code it did not import."""
    pytester.makepyfile(runner=textwrap.dedent("""
        import pathlib
        import app
        from cleanup_trace import Recorder

        source = pathlib.Path(app.__file__)
        source.write_text(source.read_text().replace("a / b", "a * b"))
        with Recorder():
            print(app.divide(6, 3))
    """))
    result = pytester.run(sys.executable, "runner.py")
    assert ["2.0"] == result.outlines


def test_a_module_older_than_the_process_is_compared_by_the_shape_of_its_functions(
        pytester: pytest.Pytester, app: Path) -> None:
    """A file last changed before the process started is what its import read: it is not
    compiled again to be compared, its functions' shapes are (names, constants, lines);
    one whose shape changed since keeps its own body all the same."""
    runner = textwrap.dedent("""
        import os, pathlib, sys, time
        import app
        from cleanup_trace import Recorder, late

        source = pathlib.Path(app.__file__)
        if sys.argv[1:] == ["edit"]:
            source.write_text(source.read_text().replace("a / b", "a / abs(b) / 2"))
        an_hour_ago = time.time() - 3600
        os.utime(source, (an_hour_ago, an_hour_ago))
        print(late._unchanged_since_start(str(source)) == (late._process_start() is not None))
        with Recorder():
            print(app.divide(6, 3))
    """)
    pytester.makepyfile(runner=runner)
    result = pytester.run(sys.executable, "runner.py")
    assert ["True", "2.0"] == result.outlines, result.stderr.str()
    assert (app / "tests/test-data/app/divide-00.json").exists()
    result = pytester.run(sys.executable, "runner.py", "edit")
    assert ["True", "2.0"] == result.outlines, result.stderr.str()  # (the edited body: 1.0)


def test_recorder_warns_about_included_libraries_it_runs_on(pytester: pytest.Pytester, app: Path,
                                                            clean_env: pytest.MonkeyPatch) -> None:
    """An explicit include cannot win over the libraries the tool or pytest runs on
    (``pluggy``): said once at the start, not silently dropped."""
    clean_env.setenv("PYTESTCLEANUP_INCLUDE_MODULES", "pluggy*,app*")
    pytester.makepyfile(runner="from cleanup_trace import Recorder\nwith Recorder():\n    import app\n    app.fib(3)\n")
    result = pytester.run(sys.executable, "runner.py")
    result.stderr.fnmatch_lines(["*modules.never_instrumented*modules=pluggy*"])
    assert (app / "tests/test-data/app/fib-00.json").exists()


@pytest.mark.usefixtures("debug_log")
def test_unserialisable_argument_skips_the_case_with_one_event(pytester: pytest.Pytester, app: Path) -> None:
    """An open file as argument: skipped with one log event; the program is unchanged."""
    with open(app / "app.py", "a") as handle:
        handle.write(textwrap.dedent("""

            def use(handle, n):
                return n + len(handle.name) * 0 + 1


            def locked():
                with open(__file__) as handle:
                    print([use(handle, n) for n in range(3)], fib(3))
        """))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTESTCLEANUP_FUNCTION", "locked")
        result = run_tool(pytester, "app")
    assert "[1, 2, 3] 2" == result.outlines[0]
    assert 1 == result.stderr.str().count("call.skipped function=app.use reason='unserialisable argument'")
    assert "tests/test-data/app/use-00.json" not in data_files(app)


def test_filesize_limit(pytester: pytest.Pytester, app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PYTESTCLEANUP_FILESIZE_LIMIT_MB: a file that would grow past it is not written."""
    monkeypatch.setenv("PYTESTCLEANUP_FILESIZE_LIMIT_MB", "0.0004")  # ~420 bytes
    result = run_tool(pytester, "app")
    assert "datafile.too_large" in result.stderr.str()
    for path in data_files(app):
        assert (app / path).stat().st_size <= 420


def test_variables_change_where_and_how_much(pytester: pytest.Pytester, app: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """TEST_DIRECTORY, TEST_DATA_DIRECTORY and the per-function budget take effect."""
    monkeypatch.setenv("PYTESTCLEANUP_TEST_DIRECTORY", "elsewhere")
    monkeypatch.setenv("PYTESTCLEANUP_TEST_DATA_DIRECTORY", "recorded")
    monkeypatch.setenv("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "2")
    run_tool(pytester, "app")
    fib = json.loads((app / "elsewhere/recorded/app/fib-00.json").read_text())
    assert 2 == len(fib["cases"])
    assert (app / "elsewhere/test_pytestcleanup_cases.py").exists()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "elsewhere")
    assert result.parseoutcomes()["passed"] >= 8


def test_exclude_and_log_level(pytester: pytest.Pytester, app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An excluded module is not recorded; DEBUG shows the decision and its reason."""
    monkeypatch.setenv("PYTESTCLEANUP_EXCLUDE_MODULES", "ap?")
    monkeypatch.setenv("PYTESTCLEANUP_LOG_LEVEL", "DEBUG")
    result = run_tool(pytester, "app")
    assert [] == data_files(app)
    result.stderr.fnmatch_lines(["*module.skipped*module=app*PYTESTCLEANUP_EXCLUDE_MODULES pattern 'ap?'*"])
