"""Shared plumbing of the benchmarks: private venvs, fresh subprocesses, medians, tables.

Nothing here is imported by a measured child process: children are the ``_child_*.py``
scripts, run as ``__main__`` so that neither tool sees (or patches) benchmark code.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = Path(os.environ.get("CLEANUP_TRACE_BENCH_CACHE",
                            Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cleanup_trace-bench"))

# The peers, pinned. pytest-cleanup 0.4 imports ``_pytest`` at import time without
# declaring pytest as a dependency: that is the whole shim (see README.md).
PEER_REQUIREMENTS = ["pytest-cleanup==0.4", "MonkeyType==23.3.0", "pytest"]
PEER_SHIM_NOTE = "pytest-cleanup 0.4 shim: pytest installed beside it (undeclared import of _pytest)"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _make_venv(path: Path, requirements: Sequence[str], stamp_text: str) -> Path:
    python = _venv_python(path)
    stamp = path / ".bench-stamp"
    if python.exists() and stamp.exists() and stamp.read_text() == stamp_text:
        return python
    log(f"creating venv {path} ({' '.join(requirements)}) ...")
    shutil.rmtree(path, ignore_errors=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                *requirements], capture_output=True, text=True)
    if installed.returncode != 0:
        raise RuntimeError(f"pip install {' '.join(requirements)} failed:\n{installed.stdout}\n{installed.stderr}")
    stamp.write_text(stamp_text)
    return python


def peer_python() -> Path:
    """The private venv with the peers (created once, then reused from the cache dir)."""
    text = f"{sys.version}\n" + "\n".join(PEER_REQUIREMENTS)
    return _make_venv(CACHE / "peers-venv", PEER_REQUIREMENTS, text)


def ours_python(explicit: Optional[str] = None) -> Path:
    """An interpreter that imports this checkout's cleanup_trace.

    ``--ours-python`` wins; else the running interpreter if it imports cleanup_trace from
    this checkout; else a private venv with an editable install of the checkout.
    """
    if explicit:
        return Path(explicit)
    probe = subprocess.run([sys.executable, "-c", "import cleanup_trace, os; print(os.path.dirname(cleanup_trace.__file__))"],
                           capture_output=True, text=True, cwd=tempfile.gettempdir())
    if probe.returncode == 0 and Path(probe.stdout.strip()).resolve() == (REPO / "cleanup_trace").resolve():
        return Path(sys.executable)
    text = f"{sys.version}\neditable {REPO}"
    return _make_venv(CACHE / "ours-venv", ["-e", str(REPO)], text)


def run_child(python: Path, script: str, args: Sequence[str], env: Optional[dict] = None,
              cwd: Optional[Path] = None, timeout: float = 600) -> dict:
    """Run ``benchmarks/<script>`` in a fresh interpreter; its last stdout line is JSON."""
    full_env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTESTCLEANUP_", "MT_"))}
    full_env["PYTHONHASHSEED"] = "0"
    # The import figure is about bytecode caches; a shell's PYTHONDONTWRITEBYTECODE would
    # make both the plain and the instrumented import recompile every time.
    full_env.pop("PYTHONDONTWRITEBYTECODE", None)
    full_env.update(env or {})
    completed = subprocess.run([str(python), str(HERE / script), *args], capture_output=True, text=True,
                               env=full_env, cwd=str(cwd) if cwd else None, timeout=timeout)
    if completed.returncode != 0:
        raise RuntimeError(f"{script} {' '.join(args)} failed ({completed.returncode}):\n"
                           f"{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}")
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{script} {' '.join(args)} printed no result:\n{completed.stdout[-2000:]}\n"
                           f"{completed.stderr[-2000:]}")
    return json.loads(lines[-1])


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def ratio(value: float, base: float) -> float:
    return value / base if base else float("nan")


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: small sizes, 1-2 runs")
    parser.add_argument("--runs", type=int, default=None, help="runs per measurement (median taken)")
    parser.add_argument("--ours-python", default=None, help="interpreter with cleanup_trace installed")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")


def workdir(name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"cleanup_trace-bench-{name}-"))
    return path


class Row(dict):
    """One line of the final table: figure, measured, goal, verdict, details."""

    def __init__(self, figure: str, measured: str, goal: str = "reported", met: Optional[bool] = None,
                 detail: str = "") -> None:
        super().__init__(figure=figure, measured=measured, goal=goal, met=met, detail=detail)


def verdict(met: Optional[bool]) -> str:
    return "-" if met is None else ("MET" if met else "MISSED")


def print_table(rows: Sequence[Row], out: Any = None) -> None:
    out = out or sys.stdout
    headers = ("figure", "measured", "goal", "verdict")
    cells = [(row["figure"], row["measured"], row["goal"], verdict(row["met"])) for row in rows]
    widths = [max(len(headers[i]), *(len(cell[i]) for cell in cells)) if cells else len(headers[i])
              for i in range(4)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"
    print(line, file=out)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|", file=out)
    for cell in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(cell, widths)) + " |", file=out)
    details = [row for row in rows if row["detail"]]
    if details:
        print("", file=out)
        for row in details:
            print(f"* {row['figure']}: {row['detail']}", file=out)


def finish(rows: Sequence[Row], arguments: argparse.Namespace) -> None:
    print_table(rows)
    if arguments.json:
        print(json.dumps(list(rows), indent=1))


def script_main(description: str, run: Any) -> None:
    """``python benchmarks/bench_X.py [options]``: one figure alone, same options as run.py."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_arguments(parser)
    arguments = parser.parse_args()
    finish(run(arguments), arguments)
