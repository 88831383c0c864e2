"""Helpers shared by the end-to-end tests (conftest.py holds the fixtures)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest


def run_tool(pytester: pytest.Pytester, *arguments: str) -> pytest.RunResult:
    """``python -m cleanup_trace ARGUMENTS`` in the project directory."""
    return pytester.run(sys.executable, "-m", "cleanup_trace", *arguments)


def data_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.glob("tests/test-data/*/*.json"))


def run_script(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, **files: str) -> pytest.RunResult:
    """``python script.py`` in a project made of ``files`` (``script`` among them), data
    under ``tests/``; the script must succeed."""
    pytester.makepyfile(**files)
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    return result


def wait_until_gone(pid: int, seconds: float = 10.0) -> None:
    """Until process ``pid`` has exited (a helper told to stop); fails the test after
    ``seconds``."""
    import os
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    pytest.fail(f"process {pid} still runs")


def run_shop_script(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, project: Path,
                    script: str) -> pytest.RunResult:
    """``python script.py`` recording ``shop*`` (a package in ``project``), into the
    pytester directory, without the bytecode cache, as no xdist worker; it must succeed."""
    import os

    (pytester.path / "script.py").write_text(script)
    clean_env.setenv("PYTHONPATH", str(project), prepend=os.pathsep)
    clean_env.setenv("PYTESTCLEANUP_INCLUDE_MODULES", "shop*")
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "data"))
    clean_env.setenv("PYTHONDONTWRITEBYTECODE", "1")
    clean_env.delenv("PYTEST_XDIST_WORKER", raising=False)
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    return result
