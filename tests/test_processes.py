"""Real processes: staging activation by environment, pools, fork, concurrent writers, kill."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import cleanup_trace.startup

WORKER_APP = '''
import multiprocessing
import os
import subprocess
import sys


def square(number):
    return number * number


def cube(number):
    return number ** 3


def main():
    with multiprocessing.get_context("fork").Pool(2) as pool:
        print(pool.map(square, range(4)))
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        print(pool.map(cube, range(3)))
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
        print(list(executor.map(cube, [5, 6])))
    child = subprocess.run([sys.executable, "-c", "import work; print(work.square(9))"],
                           capture_output=True, text=True)
    print(child.stdout.strip())
    pid = os.fork()
    if pid == 0:
        square(11)
        os._exit(0)
    os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
'''


def _cases(root: Path, stem: str) -> list:
    found = []
    for path in sorted((root / "tests/test-data/work").glob(f"{stem}-*.json")):
        found.extend(json.loads(path.read_text())["cases"])
    return found


def _arguments(cases: list) -> list:
    return sorted(case["call"]["args"][0] for case in cases)


@pytest.fixture
def worker_app(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> Path:
    pytester.makepyfile(work=textwrap.dedent(WORKER_APP))
    (pytester.path / "tests").mkdir()
    clean_env.setenv("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "20")
    return pytester.path


def _staging_env(root: Path, via: str) -> dict:
    env = dict(os.environ, PYTESTCLEANUP_RECORD="1", PYTHONPATH=str(root))
    if via == "sitecustomize":
        env["PYTHONPATH"] += os.pathsep + cleanup_trace.startup.DIRECTORY
    return env


def _pth_installed() -> bool:
    return os.path.exists(os.path.join(sysconfig.get_paths()["purelib"], "cleanup_trace.pth"))


@pytest.mark.parametrize("via", ["pth", "sitecustomize"])
def test_staging_run_records_every_process(worker_app: Path, via: str) -> None:
    """PYTESTCLEANUP_RECORD=1 python -m work: fork and spawn pools, a spawn
    ProcessPoolExecutor, a subprocess and an os.fork child (ended with os._exit) all
    record, with no code change."""
    if via == "pth" and not _pth_installed():
        pytest.skip("cleanup_trace.pth is installed by wheel installs (tox), not by editable ones")
    result = subprocess.run([sys.executable, "-m", "work"], cwd=worker_app, env=_staging_env(worker_app, via),
                            capture_output=True, text=True, timeout=120)
    assert ["[0, 1, 4, 9]", "[0, 1, 8]", "[125, 216]", "81"] == result.stdout.splitlines(), result.stderr
    assert [0, 1, 2, 3, 9, 11] == _arguments(_cases(worker_app, "square"))
    assert [0, 1, 2, 5, 6] == _arguments(_cases(worker_app, "cube"))


def test_environment_alone_does_nothing_without_the_variable(worker_app: Path) -> None:
    """The start-up hook is a no-op unless PYTESTCLEANUP_RECORD is set."""
    env = _staging_env(worker_app, "sitecustomize")
    env.pop("PYTESTCLEANUP_RECORD")
    subprocess.run([sys.executable, "-c", "import work; work.square(2)"], cwd=worker_app, env=env, check=True)
    assert not (worker_app / "tests/test-data").exists()


def test_python_dash_S_does_not_record(worker_app: Path) -> None:
    """`python -S` skips site processing: no .pth, so no recording (documented)."""
    env = _staging_env(worker_app, "pth")
    subprocess.run([sys.executable, "-S", "-c", "import sys; sys.path.insert(0, '.'); import work; work.square(2)"],
                   cwd=worker_app, env=env, check=True)
    assert not (worker_app / "tests/test-data").exists()


def test_startup_is_idempotent(worker_app: Path) -> None:
    """The start-up hook run twice (a .pth processed twice) records once, never raises."""
    code = textwrap.dedent("""
        import cleanup_trace.activate as activate
        print(activate.process_startup(), activate.process_startup())
        import work
        work.square(3)
    """)
    env = _staging_env(worker_app, "none")
    result = subprocess.run([sys.executable, "-c", code], cwd=worker_app, env=env, capture_output=True, text=True)
    # With the wheel installed, cleanup_trace.pth already started recording at start-up.
    expected = "False False" if _pth_installed() else "True False"
    assert expected == result.stdout.strip(), result.stderr
    assert [3] == _arguments(_cases(worker_app, "square"))


def test_bad_variable_at_startup_does_not_break_python(worker_app: Path) -> None:
    """A malformed value: one line on stderr, and the program still runs."""
    env = _staging_env(worker_app, "sitecustomize")
    env["PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION"] = "many"
    result = subprocess.run([sys.executable, "-c", "print('ran')"], cwd=worker_app, env=env,
                            capture_output=True, text=True)
    assert "ran" == result.stdout.strip()
    assert "PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION='many' is not valid" in result.stderr


def test_eight_concurrent_writers_lose_nothing(worker_app: Path) -> None:
    """Eight processes record the same function at once: every case lands, no file is
    partial or clobbered."""
    code = "import sys, work\nfor n in range(int(sys.argv[1]) * 10, int(sys.argv[1]) * 10 + 10):\n    work.square(n)\n"
    env = _staging_env(worker_app, "sitecustomize")
    processes = [subprocess.Popen([sys.executable, "-c", code, str(index)], cwd=worker_app, env=env)
                 for index in range(8)]
    assert [0] * 8 == [process.wait(timeout=120) for process in processes]
    assert list(range(80)) == _arguments(_cases(worker_app, "square"))
    assert 8 == len(list((worker_app / "tests/test-data/work").glob("square-*.json")))


def test_sigkill_loses_at_most_the_call_in_flight(worker_app: Path) -> None:
    """A process killed with SIGKILL leaves complete files with what it had accepted."""
    code = "import os, signal, work\nfor n in range(5):\n    work.square(n)\nos.kill(os.getpid(), signal.SIGKILL)\n"
    env = _staging_env(worker_app, "sitecustomize")
    result = subprocess.run([sys.executable, "-c", code], cwd=worker_app, env=env)
    assert -signal.SIGKILL == result.returncode
    assert [0, 1, 2, 3, 4] == _arguments(_cases(worker_app, "square"))


def test_pytest_session_writes_its_files_at_its_end_even_when_interrupted(worker_app: Path) -> None:
    """Under ``pytest --cleanup-record`` each data file is written once, when the session
    ends (one write per file, not per case): also when a test interrupts it (Ctrl-C)."""
    (worker_app / "tests" / "test_work.py").write_text(textwrap.dedent("""
        import os

        import work

        def test_square():
            assert [work.square(n) for n in range(3)] == [0, 1, 4]

        def test_nothing_written_yet():
            assert not os.path.exists(os.path.join("tests", "test-data", "work"))

        def test_interrupted():
            raise KeyboardInterrupt
    """))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTESTCLEANUP_")}
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
                             "--cleanup-record", "tests/test_work.py"],
                            cwd=worker_app, env=env, capture_output=True, text=True, timeout=120)
    assert "2 passed" in result.stdout and "KeyboardInterrupt" in result.stdout, result.stdout + result.stderr
    assert [0, 1, 2] == _arguments(_cases(worker_app, "square"))


def test_all_ten_files_used_then_compact(worker_app: Path, pytester: pytest.Pytester) -> None:
    """With -00..-09 taken, a run warns and names `compact`; compact merges them into one."""
    env = _staging_env(worker_app, "sitecustomize")
    for run in range(11):
        result = subprocess.run([sys.executable, "-c", f"import work; work.square({run})"], cwd=worker_app,
                                env=env, capture_output=True, text=True)
    assert "datafile.all_used" in result.stderr and "python -m cleanup_trace compact" in result.stderr
    assert 10 == len(list((worker_app / "tests/test-data/work").glob("square-*.json")))
    env.pop("PYTESTCLEANUP_RECORD")
    compacted = subprocess.run([sys.executable, "-m", "cleanup_trace", "compact"], cwd=worker_app, env=env,
                               capture_output=True, text=True)
    assert "compacted 1 functions: 10 files -> 1" == compacted.stdout.strip(), compacted.stderr
    assert list(range(10)) == _arguments(_cases(worker_app, "square"))
    subprocess.run([sys.executable, "-c", "import work; work.square(10)"], cwd=worker_app,
                   env=dict(env, PYTESTCLEANUP_RECORD="1"), check=True)
    assert list(range(11)) == _arguments(_cases(worker_app, "square"))


def test_staging_run_of_a_suite_that_turns_warnings_into_errors(worker_app: Path) -> None:
    """PYTESTCLEANUP_RECORD=1 pytest: the start-up hook imports the tool before pytest,
    which then cannot assertion-rewrite the package of a plugin it loads and warns so; with
    ``filterwarnings = error`` that warning would stop the whole run."""
    (worker_app / "pytest.ini").write_text("[pytest]\nfilterwarnings = error\n")
    (worker_app / "tests" / "test_work.py").write_text("import work\n\ndef test_square():\n"
                                                       "    assert work.square(7) == 49\n")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:asyncio", "tests/test_work.py"],
                            cwd=worker_app, env=_staging_env(worker_app, "sitecustomize"),
                            capture_output=True, text=True, timeout=120)
    assert "1 passed" in result.stdout, result.stdout + result.stderr
    assert "PytestAssertRewriteWarning" not in result.stdout + result.stderr
    assert [7] == _arguments(_cases(worker_app, "square"))


def test_isolated_mode_child_records_through_the_pth(worker_app: Path) -> None:
    """`python -I` ignores PYTHON* variables but still processes site-packages' .pth files:
    a child started that way records (PYTESTCLEANUP_RECORD is not a PYTHON* variable)."""
    if not _pth_installed():
        pytest.skip("cleanup_trace.pth is installed by wheel installs (tox), not by editable ones")
    code = "import sys; sys.path.insert(0, '.'); import work; print(work.square(12))"
    result = subprocess.run([sys.executable, "-I", "-c", code], cwd=worker_app,
                            env=_staging_env(worker_app, "pth"), capture_output=True, text=True)
    assert "144" == result.stdout.strip(), result.stderr
    assert [12] == _arguments(_cases(worker_app, "square"))


def test_a_staging_process_that_instruments_nothing_says_nothing(worker_app: Path) -> None:
    """Every Python process of the environment records, a test's ``python -c`` helper too:
    one that instrumented nothing of yours leaves its standard error to the program; one
    that did ends with its summary."""
    env = _staging_env(worker_app, "sitecustomize")
    idle = subprocess.run([sys.executable, "-c", "print(1)"], cwd=worker_app, env=env, capture_output=True, text=True)
    assert ("1\n", "") == (idle.stdout, idle.stderr)
    busy = subprocess.run([sys.executable, "-c", "import work; work.square(2)"], cwd=worker_app, env=env,
                          capture_output=True, text=True)
    assert "recording.summary" in busy.stderr and "cases_written=1" in busy.stderr, busy.stderr
