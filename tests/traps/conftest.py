"""The trap-matrix harness: run one small app with and without cleanup_trace, compare, replay.

Each app in ``apps/`` has a no-argument entry function (``main`` unless told) that
exercises one trap family and prints what a user could observe. :meth:`Trap.run` runs it

* plain: ``python -c "import app; app.main()"``;
* through every activation path: ``python -m cleanup_trace app`` (``cli``) and a script
  doing ``with Recorder(): import app; app.main()`` (``recorder``);

asserts the same exit code and the same stdout byte for byte, then replays the recorded
cases with ``pytest`` in a subprocess and asserts that all of them pass.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Iterable, Optional

import pytest

APPS = Path(__file__).parent / "apps"
ACTIVATIONS = ("cli", "recorder")
TIMEOUT = 60  # seconds per subprocess: a hang (a drained infinite generator) fails, never blocks

RECORDER_RUNNER = '''\
"""Activation path: `with Recorder():` around an import and a call."""
import importlib
import sys

from cleanup_trace import Recorder
from cleanup_trace.config import Settings
from cleanup_trace.scaffold import write_scaffold


if __name__ == "__main__":  # multiprocessing spawn children import this file as __mp_main__
    module_name, function_name = sys.argv[1], sys.argv[2]
    with Recorder():
        module = importlib.import_module(module_name)
        getattr(module, function_name)()
    settings = Settings.from_env()
    write_scaffold(settings.test_directory, settings.test_data_directory)
'''

PYTEST_INI = '''\
[pytest]
filterwarnings =
    error
{extra}'''

REPLAY_MODES = {
    # name: (extra ini lines, extra command-line arguments)
    "no-asyncio": ("", ("-p", "no:asyncio")),
    "asyncio-strict": ("asyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n", ()),
    "asyncio-auto": ("asyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n", ()),
}


@dataclasses.dataclass
class Recording:
    """One activation path's run of an app: its process result and what it recorded."""

    activation: str
    result: pytest.RunResult
    test_directory: Path

    @property
    def data_directory(self) -> Path:
        return self.test_directory / "test-data"

    @property
    def stdout_lines(self) -> list[str]:
        return [line for line in self.result.outlines if not line.startswith("written: ")]

    def cases(self) -> dict[str, list[dict]]:
        """``{"module.qualname[.role]": [case, ...]}`` over every data file (all suffixes)."""
        found: dict[str, list[dict]] = {}
        for path in sorted(self.data_directory.glob("*/*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            name = ".".join(part for part in (document["module"], document["qualname"], document["role"]) if part)
            found.setdefault(name, []).extend(document["cases"])
        return found

    def events(self, name: str) -> list[str]:
        """The tool's log lines with event ``name`` (``function.disabled``, ``call.skipped``...)."""
        return [line for line in self.result.errlines if line.startswith("cleanup_trace [") and f"] {name} " in
                line + " "]


class Trap:
    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        for name in list(os.environ):
            if name.startswith("PYTESTCLEANUP_"):
                monkeypatch.delenv(name)
        monkeypatch.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
        monkeypatch.setenv("PYTHONHASHSEED", "0")
        (pytester.path / "record_with_recorder.py").write_text(RECORDER_RUNNER, encoding="utf-8")

    def copy_app(self, *names: str) -> None:
        for name in names:
            shutil.copy(APPS / f"{name}.py", self.pytester.path / f"{name}.py")

    def plain(self, module: str, function: str = "main") -> pytest.RunResult:
        return self.pytester.run(sys.executable, "-c", f"import {module}; {module}.{function}()", timeout=TIMEOUT)

    def record(self, module: str, activation: str, function: str = "main",
               env: Optional[dict[str, str]] = None) -> Recording:
        test_directory = self.pytester.path / f"tests_{module}_{function}_{activation}"
        with self.monkeypatch.context() as patch:
            patch.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(test_directory))
            patch.setenv("PYTESTCLEANUP_FUNCTION", function)
            for key, value in (env or {}).items():
                patch.setenv(key, value)
            if activation == "cli":
                result = self.pytester.run(sys.executable, "-m", "cleanup_trace", module, timeout=TIMEOUT)
            else:
                result = self.pytester.run(sys.executable, "record_with_recorder.py", module, function,
                                           timeout=TIMEOUT)
        return Recording(activation, result, test_directory)

    def replay(self, recording: Recording, mode: str = "no-asyncio",
               extra: Iterable[str] = ()) -> pytest.RunResult:
        ini_extra, arguments = REPLAY_MODES[mode]
        (recording.test_directory / "pytest.ini").write_text(PYTEST_INI.format(extra=ini_extra), encoding="utf-8")
        return self.pytester.runpytest_subprocess(str(recording.test_directory), "-p", "no:cacheprovider",
                                                  "-q", *arguments, *extra, timeout=TIMEOUT)

    def run(self, module: str, *, function: str = "main", activations: Iterable[str] = ACTIVATIONS,
            replay_modes: Iterable[str] = ("no-asyncio",), min_cases: int = 1,
            env: Optional[dict[str, str]] = None, allow_errors: bool = False) -> list[Recording]:
        """Plain run versus each activation path: same exit code and stdout; replay green."""
        self.copy_app(module)
        plain = self.plain(module, function)
        assert plain.ret == 0, plain.stderr.str()
        recordings = []
        for activation in activations:
            recording = self.record(module, activation, function, env)
            assert (activation, plain.ret) == (activation, recording.result.ret), recording.result.stderr.str()
            assert plain.outlines == recording.stdout_lines, f"stdout differs under {activation}"
            if not allow_errors:
                assert [] == [line for line in recording.result.errlines if line.startswith("cleanup_trace [error]")]
            cases = recording.cases()
            recorded = sum(len(found) for found in cases.values())
            assert recorded >= min_cases, f"{activation}: only {recorded} cases recorded: {sorted(cases)}"
            for mode in replay_modes:
                result = self.replay(recording, mode)
                outcomes = result.parseoutcomes()
                problems = {key: outcomes[key] for key in ("failed", "errors", "error", "xpassed", "warnings")
                            if outcomes.get(key)}
                assert {} == problems, f"{activation}/{mode} replay:\n{result.stdout.str()}"
                assert recorded == outcomes.get("passed", 0), f"{activation}/{mode} replay:\n{result.stdout.str()}"
            recordings.append(recording)
        return recordings


@pytest.fixture
def trap(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Trap:
    """The harness, in a fresh project directory with no PYTESTCLEANUP_* variable set."""
    return Trap(pytester, monkeypatch)
