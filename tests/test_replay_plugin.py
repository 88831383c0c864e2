"""The pytest plugin as users meet it: options, record mode, async replay, xdist."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from e2e_support import data_files, run_tool

ASYNC_APP = '''
import asyncio


async def fetch(n):
    await asyncio.sleep(0)
    if n < 0:
        raise ValueError("negative")
    return n * 10


async def ticker(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def run():
    print(await asyncio.gather(fetch(1), fetch(2)))
    try:
        await fetch(-1)
    except ValueError as error:
        print("error", error)
    print([i async for i in ticker(3)])


def main():
    asyncio.run(run())
'''


def test_help_lists_the_option(pytester: pytest.Pytester) -> None:
    """The plugin loads automatically: `pytest --help` shows --cleanup-record."""
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--cleanup-record*"])


def test_a_plain_run_loads_neither_replay_nor_the_serialiser(pytester: pytest.Pytester,
                                                              clean_env: pytest.MonkeyPatch) -> None:
    """Installed, the plugin asks each test function whether it is a generated replay test:
    a run that neither records nor replays must not pay for importing replay, the
    serialiser and jsonpickle for that (20 ms of every pytest run)."""
    pytester.makepyfile(test_plain="def test_one():\n    assert True\n")
    pytester.makeconftest(
        "import sys\n"
        "def pytest_sessionfinish(session):\n"
        "    heavy = ('cleanup_trace.replay', 'cleanup_trace.serialise', 'jsonpickle')\n"
        "    print('LOADED', [name for name in heavy if name in sys.modules])\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.stdout.fnmatch_lines(["*LOADED []*", "*1 passed*"])


def test_bad_variable_is_a_usage_error(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """A malformed PYTESTCLEANUP_* value stops pytest with one clear line."""
    clean_env.setenv("PYTESTCLEANUP_SERIALISATION_DEPTH", "deep")
    result = pytester.runpytest_subprocess()
    result.stderr.fnmatch_lines(["*PYTESTCLEANUP_SERIALISATION_DEPTH='deep' is not valid: expected a whole number >= 1*"])
    assert "Traceback" not in result.stderr.str()
    assert 4 == result.ret  # pytest's usage-error exit code


def test_record_an_existing_suite(pytester: pytest.Pytester, app: Path) -> None:
    """--cleanup-record: app modules imported by conftest are recorded, tests are not,
    assertion rewriting still explains failures, and the summary is printed."""
    (app / "tests" / "conftest.py").write_text(textwrap.dedent("""
        import app
        import pytest

        @pytest.fixture
        def eight():
            return app.fib(6)
    """))
    (app / "tests" / "test_app.py").write_text(textwrap.dedent("""
        import app

        def helper(value):
            return value

        def test_fib(eight):
            assert eight == 8
            assert app.divide(6, 3) == 2.0

        def test_rewritten():
            assert helper(app.Counter.double(2)) == 5
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*assert 4 == 5*", "*cleanup_trace recording*",
                                 "functions instrumented: 9, functions called: 3, functions with cases: 3*"])
    assert ["tests/test-data/app/Counter.double-00.json", "tests/test-data/app/divide-00.json",
            "tests/test-data/app/fib-00.json"] == data_files(app)
    # pytest sets PYTEST_CURRENT_TEST around every test: not an environment the calls depend on
    assert not any("environ" in (app / name).read_text() for name in data_files(app))
    run_tool(pytester)  # the scaffold, then replay the recorded suite
    (app / "tests" / "test_app.py").unlink()
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=7, skipped=1)


def test_the_tools_modules_are_not_assertion_rewritten(pytester: pytest.Pytester, app: Path) -> None:
    """pytest rewrites every module of a plugin's distribution; the tool has no asserts,
    and rewriting compiles each module from source in runs that may not write bytecode.
    Only the package's ``__init__`` (imported before it can say so) goes through the
    rewriting hook; the user's test modules still do."""
    (app / "tests" / "test_loaders.py").write_text(textwrap.dedent("""
        import sys

        import app

        def rewritten(prefix):
            return sorted(name for name, module in list(sys.modules.items())
                          if name.split(".")[0] == prefix
                          and type(getattr(module, "__loader__", None)).__name__ == "AssertionRewritingHook")

        def test_loaders():
            app.fib(3)
            assert {"cleanup_trace.runtime", "cleanup_trace.serialise", "cleanup_trace.goodies"} <= set(sys.modules)
            assert set(rewritten("cleanup_trace")) <= {"cleanup_trace"}
            assert rewritten("test_loaders") == ["test_loaders"]
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider", "tests/test_loaders.py")
    result.assert_outcomes(passed=1)


def test_nothing_the_recording_imports_is_assertion_rewritten_whatever_python_files_says(
        pytester: pytest.Pytester, app: Path) -> None:
    """``python_files = *.py`` (license-expression's settings) has pytest rewrite every
    module imported once its hook is in: recording, the tool's modules and the libraries it
    runs on (wrapt, jsonpickle, ctypes...) were parsed and compiled from source in every
    run, a third of the suite's time. They are imported past that hook while a session
    records; a session that does not record imports as before."""
    (app / "pytest.ini").write_text("[pytest]\npython_files = *.py\ntestpaths = tests\n")
    (app / "tests" / "test_loaders.py").write_text(textwrap.dedent("""
        import sys

        import app

        def rewritten():
            return sorted(name for name, module in list(sys.modules.items())
                          if type(getattr(module, "__loader__", None)).__name__ == "AssertionRewritingHook")

        def finders():
            return [getattr(finder, "__name__", type(finder).__name__) for finder in sys.meta_path]

        def test_loaders():
            app.fib(3)
            print("REWRITTEN", ",".join(rewritten()))
            print("FINDERS", ",".join(finders()))
    """))
    recorded = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider", "-s", "tests/test_loaders.py")
    recorded.assert_outcomes(passed=1)
    [line] = [line for line in recorded.outlines if "REWRITTEN" in line]
    names = set(line.split("REWRITTEN", 1)[1].strip().split(","))
    assert {"cleanup_trace.runtime", "cleanup_trace.recorder", "cleanup_trace.serialise", "wrapt", "jsonpickle",
            "ctypes"}.isdisjoint(names), names
    assert "test_loaders" in names  # (the user's modules are rewritten as before)
    plain = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "tests/test_loaders.py")
    plain.assert_outcomes(passed=1)
    [line] = [line for line in plain.outlines if "FINDERS" in line]
    assert "AssertionRewritingHook" in line and "UnrewrittenFinder" not in line


@pytest.mark.parametrize("interval, written_between_tests", [(None, False), (0.0, True)])
def test_cases_reach_their_files_between_tests_once_the_interval_passed(
        pytester: pytest.Pytester, app: Path, interval: object, written_between_tests: bool) -> None:
    """A session writes its files between tests once FLUSH_INTERVAL_SECONDS passed since
    the last write (a short suite: only at its end, each file once), and at its end."""
    setting = "" if interval is None else f"cleanup_trace.recorder.FLUSH_INTERVAL_SECONDS = {interval}"
    (app / "tests" / "conftest.py").write_text(f"import cleanup_trace.recorder\n{setting}\n")
    (app / "tests" / "test_order.py").write_text(textwrap.dedent(f"""
        from pathlib import Path

        import app

        def test_first():
            assert app.fib(5) == 5

        def test_second():
            written = (Path(__file__).parent / "test-data" / "app" / "fib-00.json").exists()
            assert written is {written_between_tests}
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert ["tests/test-data/app/fib-00.json"] == data_files(app)


@pytest.mark.usefixtures("debug_log")
def test_tool_log_lines_reach_the_real_stderr_under_capture(pytester: pytest.Pytester, app: Path) -> None:
    """pytest captures fd 2 for every test: the tool's log lines must not vanish with the
    captured output of passing tests."""
    (app / "consume.py").write_text("def total(values):\n    return sum(values)\n")
    (app / "tests" / "test_iterate.py").write_text(textwrap.dedent("""
        import consume

        def test_total_of_an_iterator():
            assert consume.total(iter([1, 2])) == 3
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["cleanup_trace ?debug? call.skipped function=consume.total*iterator*"])


def test_seed_conftest_snippet_records(pytester: pytest.Pytester, app: Path) -> None:
    """The seed's way: pytest_runtestloop/pytest_sessionfinish from the record snippet."""
    run_tool(pytester)
    snippet = (app / "tests" / "conftest-pytestcleanup-record.py").read_text()
    (app / "tests" / "conftest.py").write_text(snippet)
    (app / "tests" / "test_app.py").write_text("def test_fib():\n    import app\n    assert app.fib(5) == 5\n")
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests/test_app.py").assert_outcomes(passed=1)
    assert ["tests/test-data/app/fib-00.json"] == data_files(app)


def test_replay_conftest_snippet_is_harmless_twice(pytester: pytest.Pytester, app: Path) -> None:
    """The replay snippet in conftest and the plugin both parametrize: no duplicate ids."""
    run_tool(pytester, "app")
    snippet = (app / "tests" / "conftest-pytestcleanup-replay.py").read_text()
    (app / "tests" / "conftest.py").write_text(snippet)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=13, skipped=1)


@pytest.mark.parametrize("plugin_args", [
    ["-p", "no:asyncio"],
    ["-p", "asyncio", "-o", "asyncio_mode=strict"],
    ["-p", "asyncio", "-o", "asyncio_mode=auto"],
], ids=["without-pytest-asyncio", "asyncio-strict", "asyncio-auto"])
def test_async_replay(pytester: pytest.Pytester, app: Path, plugin_args: list) -> None:
    """Coroutines and async generators replay with or without pytest-asyncio."""
    pytest.importorskip("pytest_asyncio")
    (app / "aapp.py").write_text(textwrap.dedent(ASYNC_APP))
    recorded = run_tool(pytester, "aapp")
    assert ["[10, 20]", "error negative", "[0, 1, 2]"] == recorded.outlines[:3]
    header = json.loads((app / "tests/test-data/aapp/ticker-00.json").read_text())
    assert (True, True) == (header["async"], header["generator"])
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *plugin_args)
    result.assert_outcomes(passed=6)


def test_xdist_gives_the_same_ids_and_outcomes(pytester: pytest.Pytester, app: Path) -> None:
    """Replay under -n 2 collects the same ids on every worker and passes the same."""
    pytest.importorskip("xdist")
    run_tool(pytester, "app")
    serial = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    ids = sorted(line for line in serial.outlines if "::" in line)
    parallel = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-v")
    parallel.assert_outcomes(passed=13, skipped=1)
    ran = sorted(line.split(" ")[-1] for line in parallel.outlines if "PASSED" in line or "SKIPPED" in line)
    assert len(ids) == len(ran) == 14


def test_recording_under_xdist_writes_from_every_worker(pytester: pytest.Pytester, app: Path) -> None:
    """pytest --cleanup-record -n 2: each worker records its own calls, no file clobbered."""
    pytest.importorskip("xdist")
    for index in range(4):
        (app / "tests" / f"test_part{index}.py").write_text(
            f"import app\n\ndef test_fib():\n    assert app.fib({index + 10}) > 0\n\n"
            f"def test_double():\n    assert app.Counter.double({index}) == {2 * index}\n")
    result = pytester.runpytest_subprocess("--cleanup-record", "-n", "2", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=8)
    doubles = []
    for path in sorted((app / "tests/test-data/app").glob("Counter.double-*.json")):
        doubles.extend(case["call"]["args"][0] for case in json.loads(path.read_text())["cases"])
    assert [0, 1, 2, 3] == sorted(doubles)
