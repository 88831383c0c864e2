"""Call overhead: steady state (every budget full) and while budgets are still filling.

Each measurement is a fresh process (``_child_calls.py``) running ``workload/bench_app.py``
under one tool; tools are interleaved run by run so that machine noise hits all of them.
Per-call times are compared, so a slow peer may run a shorter loop (its scale is shown).

    python benchmarks/bench_overhead.py [--quick] [--runs N]
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (HERE, PEER_SHIM_NOTE, Row, script_main, log, median, ours_python,  # noqa: E402
                     peer_python, run_child, workdir)

# tool -> (which venv, fraction of the full loop it runs)
TOOLS = {
    "none": ("ours", 1.0),
    "setprofile": ("ours", 1.0),
    "ours": ("ours", 1.0),
    "pytest-cleanup": ("peers", 0.25),  # keeps every call: memory grows, so a shorter loop
    "monkeytype": ("peers", 0.05),       # ~20x slower per call and buffers every trace
}
PEERS = ("setprofile", "monkeytype", "pytest-cleanup")


def prepare_app(base: Path) -> Path:
    app = base / "app"
    app.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "workload" / "bench_app.py", app / "bench_app.py")
    return app


def child_env(tool: str, base: Path, run: int) -> dict:
    env = {"PYTESTCLEANUP_TEST_DIRECTORY": str(base / f"data-{tool}-{run}")}
    if tool == "ours":
        env["PYTESTCLEANUP_INCLUDE_MODULES"] = "bench_app"
        env["PYTESTCLEANUP_LOG_LEVEL"] = "WARNING"
    if tool == "pytest-cleanup":
        env["PYTESTCLEANUP_INCLUDE_MODULES"] = "bench_app"
        env["PYTESTCLEANUP_EXCLUDE_MODULES"] = "_child_calls"
        (base / f"data-{tool}-{run}").mkdir(parents=True, exist_ok=True)
    if tool == "monkeytype":
        env["MT_DB_PATH"] = str(base / f"monkeytype-{run}.sqlite3")
    return env


def measure(runs: int, steps: int, warm_rounds: int, ours: Path, peers: Path, tools=tuple(TOOLS)) -> dict:
    base = workdir("overhead")
    app = prepare_app(base)
    results: dict[str, list[dict]] = {tool: [] for tool in tools}
    for run in range(runs):
        for tool in tools:
            where, scale = TOOLS[tool]
            python = ours if where == "ours" else peers
            tool_steps = max(1000, int(steps * scale))
            # pytest-cleanup's exit writes relative to the cwd; keep every run's files apart.
            result = run_child(python, "_child_calls.py", [tool, str(app), str(tool_steps), str(warm_rounds)],
                               env=child_env(tool, base, run), cwd=base)
            log(f"overhead run {run + 1}/{runs} {tool:15s} steady {result['steady_s']:.3f}s "
                f"for {result['steady_calls']} calls, warm {result['warm_s'] * 1e3:.1f}ms")
            results[tool].append(result)
    shutil.rmtree(base, ignore_errors=True)
    summary = {}
    for tool, items in results.items():
        summary[tool] = {
            "steady_ns_per_call": median(r["steady_s"] / r["steady_calls"] * 1e9 for r in items),
            "warm_us_per_call": median(r["warm_s"] / r["warm_calls"] * 1e6 for r in items),
            "steady_calls": items[0]["steady_calls"],
            "warm_calls": items[0]["warm_calls"],
            "exit_s": median(r["exit_s"] for r in items),
        }
    return summary


def rows_from(summary: dict) -> list[Row]:
    none = summary["none"]["steady_ns_per_call"]
    ours = summary["ours"]["steady_ns_per_call"]
    # Below 1 ns per call the difference is timer noise: count it as 1 ns, so the ratio
    # stays a lower bound instead of a division by (almost) zero.
    ours_added = max(ours - none, 1.0)
    peers = {tool: summary[tool]["steady_ns_per_call"] - none for tool in PEERS if tool in summary}
    best_peer = min(peers, key=peers.get)
    advantage = peers[best_peer] / ours_added
    each = ", ".join(f"{tool} {summary[tool]['steady_ns_per_call'] / none:.2f}x "
                     f"({summary[tool]['steady_ns_per_call']:.0f} ns/call, {summary[tool]['steady_calls']} calls)"
                     for tool in summary)
    rows = [
        Row("steady-state overhead (budgets full), ours vs none", f"{ours / none:.2f}x",
            "<= 1.10x", ours / none <= 1.10, f"per call: {each}"),
        Row("steady-state added time: best peer / ours",
            f"{'>= ' if ours_added <= 1.0 else ''}{advantage:.1f}x less ({best_peer} is best peer)",
            ">= 5x less", advantage >= 5,
            "added ns/call: ours %s, " % ("< 1" if ours_added <= 1.0 else f"{ours_added:.0f}") + ", ".join(f"{t} {v:.0f}" for t, v in peers.items())
            + "; " + PEER_SHIM_NOTE),
    ]
    warm_none = summary["none"]["warm_us_per_call"]
    warm = ", ".join(f"{tool} {summary[tool]['warm_us_per_call']:.2f} us/call" for tool in summary)
    rows.append(Row("overhead while budgets fill (first calls), ours vs none",
                    f"{summary['ours']['warm_us_per_call'] / warm_none:.0f}x "
                    f"(+{summary['ours']['warm_us_per_call'] - warm_none:.1f} us/call)",
                    "reported", None, f"first {summary['ours'].get('warm_calls', 'N')} calls per run; {warm}"))
    return rows


def run(arguments: argparse.Namespace) -> list[Row]:
    runs = arguments.runs or (1 if arguments.quick else 3)
    steps = 40_000 if arguments.quick else 400_000
    summary = measure(runs, steps, 40, ours_python(arguments.ours_python), peer_python())
    return rows_from(summary)


def main() -> None:
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
