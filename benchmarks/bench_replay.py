"""Replay: collect and run 10,000 recorded cases versus the same cases as plain parametrize.

1. Generates ``replay_app`` (50 small functions) and records it with
   ``python -m cleanup_trace replay_app`` and a budget of 200 cases per function: 10,000
   cases in 50 data files plus the scaffold test file, under ``tests/``.
2. Writes ``plain/test_plain.py``: one ``pytest.mark.parametrize`` over the very same
   (function, args, expected) values, read back from the data files.
3. Times ``pytest -q -p no:cacheprovider tests`` and ``... plain`` (whole process, fresh
   interpreter, the same venv, so the plugin loads in both), interleaved, median.

    python benchmarks/bench_replay.py [--quick] [--runs N]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, script_main, log, median, ours_python, run_child, workdir  # noqa: E402

FUNCTIONS = 50


def generate_app(base: Path, cases_per_function: int) -> None:
    lines = ['"""Fifty small functions, each called with distinct arguments by main()."""', ""]
    for index in range(FUNCTIONS):
        lines += [f"def f{index:02d}(x, y):", f"    return (x * {index + 1} + y) % 1009", ""]
    lines += ["def main():",
              f"    for i in range({cases_per_function}):",
              *(f"        f{index:02d}(i, {index})" for index in range(FUNCTIONS)), ""]
    (base / "replay_app.py").write_text("\n".join(lines))


def record(python: Path, base: Path, cases_per_function: int) -> int:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTESTCLEANUP_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update({"PYTESTCLEANUP_TEST_DIRECTORY": str(base / "tests"),
                "PYTESTCLEANUP_INCLUDE_MODULES": "replay_app",
                "PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION": str(cases_per_function),
                "PYTESTCLEANUP_LOG_LEVEL": "WARNING"})
    (base / "tests").mkdir()
    subprocess.run([str(python), "-m", "cleanup_trace", "replay_app"], cwd=base, env=env, check=True,
                   capture_output=True, text=True)
    # The recorded function main() is not part of the comparison: keep the f* files only.
    cases = 0
    for path in sorted((base / "tests" / "test-data").glob("*/*.json")):
        document = json.loads(path.read_text())
        if not document["qualname"].startswith("f"):
            path.unlink()
            continue
        cases += len(document["cases"])
    return cases


def write_plain(base: Path) -> int:
    rows = []
    for path in sorted((base / "tests" / "test-data").glob("*/*.json")):
        document = json.loads(path.read_text())
        for case in document["cases"]:
            rows.append((document["qualname"], tuple(case["call"]["args"]), case["outcome"]["returned"]))
    plain = base / "plain"
    plain.mkdir()
    body = ",\n    ".join(repr(row) for row in rows)
    (plain / "test_plain.py").write_text(
        '"""The recorded cases as a plain parametrized test."""\nimport pytest\n\nimport replay_app\n\n'
        f"CASES = [\n    {body},\n]\n\n\n"
        '@pytest.mark.parametrize("name, args, expected", CASES)\n'
        "def test_plain(name, args, expected):\n"
        "    assert getattr(replay_app, name)(*args) == expected\n")
    return len(rows)


def measure(runs: int, cases_per_function: int, ours: Path) -> dict:
    base = workdir("replay")
    generate_app(base, cases_per_function)
    recorded = record(ours, base, cases_per_function)
    plain_count = write_plain(base)
    log(f"replay: recorded {recorded} cases, plain file has {plain_count}")
    results: dict[str, list[dict]] = {"replay": [], "plain": []}
    for run in range(runs):
        for kind, target in (("replay", "tests"), ("plain", "plain")):
            result = run_child(ours, "_child_pytest.py", [str(base), target])
            if result["exit"] != 0:
                raise RuntimeError(f"pytest {target} failed: {result['summary']}")
            log(f"replay run {run + 1}/{runs} {kind:6s} {result['seconds']:.2f}s ({result['summary']})")
            results[kind].append(result)
    shutil.rmtree(base, ignore_errors=True)
    return {"recorded": recorded,
            "passed": {kind: items[0]["passed"] for kind, items in results.items()},
            **{kind: median(item["seconds"] for item in items) for kind, items in results.items()}}


def rows_from(summary: dict) -> list[Row]:
    value = summary["replay"] / summary["plain"]
    return [Row(f"replay: collect + run {summary['recorded']} recorded cases vs plain parametrize",
                f"{value:.2f}x", "<= 2x", value <= 2,
                f"replay {summary['replay']:.2f}s ({summary['passed']['replay']} passed), plain "
                f"{summary['plain']:.2f}s ({summary['passed']['plain']} passed), whole pytest process")]


def run(arguments: argparse.Namespace) -> list[Row]:
    runs = min(arguments.runs or 2, 2) if not arguments.quick else 1  # each pytest run ~30 s here
    cases_per_function = 20 if arguments.quick else 200
    return rows_from(measure(runs, cases_per_function, ours_python(arguments.ours_python)))


def main() -> None:
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
