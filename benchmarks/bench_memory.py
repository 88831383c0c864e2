"""Peak memory as the run gets 1x, 4x and 16x longer.

The same call-heavy workload as bench_overhead, in a fresh process per length and tool;
the figure is the growth of the peak RSS above the RSS right before the workload starts
(imports and the tool's own set-up excluded). For cleanup_trace the growth must stay flat
(bounded by functions x budget); pytest-cleanup 0.4 keeps every call in memory.

    python benchmarks/bench_memory.py [--quick] [--runs N]
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, script_main, log, median, ours_python, peer_python, run_child, workdir  # noqa: E402
from bench_overhead import child_env, prepare_app  # noqa: E402

TOOLS = {"none": "ours", "ours": "ours", "pytest-cleanup": "peers"}
LENGTHS = (1, 4, 16)
FLAT_MB = 2.0  # "flat": the 16x run grows at most this much more than the 1x run


def measure(runs: int, base_steps: int, ours: Path, peers: Path) -> dict:
    base = workdir("memory")
    app = prepare_app(base)
    growth: dict[tuple[str, int], list[float]] = {}
    for run in range(runs):
        for length in LENGTHS:
            for tool, where in TOOLS.items():
                python = ours if where == "ours" else peers
                steps = base_steps * length
                result = run_child(python, "_child_calls.py", [tool, str(app), str(steps), "40"],
                                   env=child_env(tool, base, run * 100 + length), cwd=base)
                mb = max(0, result["peak_rss_kb"] - result["start_rss_kb"]) / 1024
                log(f"memory run {run + 1}/{runs} {tool:15s} {length:2d}x ({result['steady_calls']} calls): "
                    f"+{mb:.1f} MB over start (peak {result['peak_rss_kb'] / 1024:.1f} MB)")
                growth.setdefault((tool, length), []).append(mb)
    shutil.rmtree(base, ignore_errors=True)
    return {key: median(values) for key, values in growth.items()}


def rows_from(growth: dict, base_steps: int) -> list[Row]:
    def series(tool: str) -> str:
        return " / ".join(f"{growth[(tool, length)]:.1f}" for length in LENGTHS)

    ours_delta = growth[("ours", 16)] - growth[("ours", 1)]
    peer_ratio = growth[("pytest-cleanup", 16)] / max(growth[("pytest-cleanup", 1)], 0.1)
    calls = base_steps * 9
    return [
        Row("peak memory growth at 1x/4x/16x run length, ours (MB)", series("ours"),
            f"flat (16x - 1x <= {FLAT_MB:.0f} MB)", ours_delta <= FLAT_MB,
            f"1x = {calls} calls; none: {series('none')} MB; growth = peak RSS - RSS before the workload"),
        Row("peak memory growth at 1x/4x/16x, pytest-cleanup 0.4 (MB)", series("pytest-cleanup"),
            "grows (reported)", None, f"16x/1x = {peer_ratio:.1f}"),
    ]


def run(arguments: argparse.Namespace) -> list[Row]:
    runs = arguments.runs or 1
    runs = min(runs, 2)  # RSS is far less noisy than time; the 16x peer run is the slow one
    base_steps = 5_000 if arguments.quick else 25_000
    growth = measure(runs, base_steps, ours_python(arguments.ours_python), peer_python())
    return rows_from(growth, base_steps)


def main() -> None:
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
