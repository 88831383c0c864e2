"""Run every benchmark in one go and print one table of ratios.

    python benchmarks/run.py            # full run (several runs each, medians; ~10 minutes)
    python benchmarks/run.py --quick    # smoke run (~1-2 minutes)

Installs the peers itself (pytest-cleanup 0.4, MonkeyType) into a private venv under
~/.cache/cleanup_trace-bench (or $CLEANUP_TRACE_BENCH_CACHE), and uses the running
interpreter for cleanup_trace when it imports this checkout, else a private venv with an
editable install. See benchmarks/README.md for what each figure means.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_import  # noqa: E402
import bench_memory  # noqa: E402
import bench_overhead  # noqa: E402
import bench_replay  # noqa: E402
from _common import HERE, Row, common_arguments, finish, log, ours_python, peer_python  # noqa: E402

GOODIES = HERE / "bench_goodies_collection.py"
GOODIES_FIGURE = "collection of ~10,000 tests through fixture_union/fixture_ref"


def goodies(arguments: argparse.Namespace) -> list[Row]:
    """Another engineer's benchmark: run it if present; its last stdout line is the figure."""
    if not GOODIES.exists():
        return [Row(GOODIES_FIGURE, "TODO", "reported", None,
                    "benchmarks/bench_goodies_collection.py does not exist yet")]
    command = [str(ours_python(arguments.ours_python)), str(GOODIES)] + (
        ["--runs", "1", "--modules", "5"] if arguments.quick else ["--runs", str(arguments.runs or 3)])
    completed = subprocess.run(command, capture_output=True, text=True, timeout=900)
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    if completed.returncode != 0 or not lines:
        return [Row(GOODIES_FIGURE, "FAILED", "reported", None,
                    f"exit {completed.returncode}: {(completed.stderr or completed.stdout)[-300:]}")]
    return [Row(GOODIES_FIGURE, lines[-1].strip()[:80], "reported", None,
                "bench_goodies_collection.py: " + " | ".join(line.strip() for line in lines[-3:-1]))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_arguments(parser)
    parser.add_argument("--only", default="", help="comma-separated subset: overhead,memory,import,replay,goodies")
    arguments = parser.parse_args()
    started = time.perf_counter()
    # Install both venvs first, so that no figure pays for it.
    ours_python(arguments.ours_python)
    peer_python()
    benchmarks = {"overhead": bench_overhead.run, "memory": bench_memory.run, "import": bench_import.run,
                  "replay": bench_replay.run, "goodies": goodies}
    chosen = [name.strip() for name in arguments.only.split(",") if name.strip()] or list(benchmarks)
    rows: list[Row] = []
    for name in chosen:
        log(f"--- {name} ---")
        for attempt in (1, 2):  # the tool may change under a run; one retry
            try:
                rows += benchmarks[name](arguments)
                break
            except Exception as error:  # report and carry on with the other figures
                log(f"{name} failed (attempt {attempt}): {type(error).__name__}: {error}")
                if attempt == 2:
                    rows.append(Row(name, "ERROR", "-", None, f"{type(error).__name__}: {str(error)[:300]}"))
    print()
    print(f"cleanup_trace benchmarks ({'quick' if arguments.quick else 'full'} run, "
          f"{time.perf_counter() - started:.0f} s, Python {sys.version.split()[0]})")
    finish(rows, arguments)


if __name__ == "__main__":
    main()
