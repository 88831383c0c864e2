"""Import of a large included package: plain, ours first run, ours second run.

Generates ``bigpkg`` (200 modules x 30 functions: 20 module functions and a class of 10
methods each) in a temporary directory; its ``__init__`` imports every module. Every
measurement is a fresh process timing ``import bigpkg`` alone:

* plain: no tool, normal ``.pyc`` files already written (a warm plain import);
* ours, first run: the rewritten-bytecode cache (``*-cleanup_trace-N.pyc``) deleted first,
  so every module is parsed, transformed and compiled;
* ours, second run: the rewritten bytecode served from that cache.

    python benchmarks/bench_import.py [--quick] [--runs N]
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Row, script_main, log, median, ours_python, run_child, workdir  # noqa: E402

PACKAGE = "bigpkg"


def generate(parent: Path, modules: int, functions: int) -> Path:
    package = parent / PACKAGE
    package.mkdir(parents=True)
    methods = functions // 3
    plain_functions = functions - methods
    imports = []
    for index in range(modules):
        name = f"mod{index:03d}"
        imports.append(f"from {PACKAGE} import {name}")
        lines = [f'"""Synthetic module {index}."""', "import math", ""]
        for number in range(plain_functions):
            lines += [f"def func{number:02d}(a, b=2, *rest, **options):",
                      f'    """Function {number} of module {index}."""',
                      "    total = a * b + len(rest) + len(options)",
                      f"    if total > {number}:",
                      "        return math.sqrt(abs(total))",
                      "    return [a, b, *rest]", ""]
        lines += [f"class Thing{index:03d}:", f'    """A class of module {index}."""', ""]
        for number in range(methods):
            lines += [f"    def method{number:02d}(self, value, scale=1.0):",
                      "        result = value * scale",
                      "        return {'value': value, 'scaled': result}", ""]
        (package / f"{name}.py").write_text("\n".join(lines) + "\n")
    (package / "__init__.py").write_text('"""A large synthetic package."""\n' + "\n".join(imports) + "\n")
    return package


def drop_rewritten_cache(package: Path) -> None:
    for path in package.rglob("*-cleanup_trace-*.pyc"):
        path.unlink()


def measure(runs: int, modules: int, functions: int, ours: Path) -> dict:
    base = workdir("import")
    package = generate(base, modules, functions)
    env = {"PYTESTCLEANUP_INCLUDE_MODULES": f"{PACKAGE},{PACKAGE}.*",
           "PYTESTCLEANUP_TEST_DIRECTORY": str(base / "data"), "PYTESTCLEANUP_LOG_LEVEL": "WARNING"}
    arguments = [str(base), PACKAGE]
    run_child(ours, "_child_import.py", ["plain", *arguments])  # writes the normal .pyc files
    times: dict[str, list[float]] = {"plain": [], "ours-first": [], "ours-second": []}
    starts = []
    for run in range(runs):
        plain = run_child(ours, "_child_import.py", ["plain", *arguments])
        drop_rewritten_cache(package)
        first = run_child(ours, "_child_import.py", ["ours", *arguments], env=env)
        second = run_child(ours, "_child_import.py", ["ours", *arguments], env=env)
        assert plain["modules"] == first["modules"] == second["modules"] == modules + 1, (plain, first, second)
        times["plain"].append(plain["import_s"])
        times["ours-first"].append(first["import_s"])
        times["ours-second"].append(second["import_s"])
        starts.append(second["recorder_start_s"])
        log(f"import run {run + 1}/{runs}: plain {plain['import_s'] * 1e3:.0f} ms, ours first "
            f"{first['import_s'] * 1e3:.0f} ms, ours second {second['import_s'] * 1e3:.0f} ms")
    shutil.rmtree(base, ignore_errors=True)
    summary = {key: median(values) for key, values in times.items()}
    summary["recorder_start_s"] = median(starts)
    return summary


def rows_from(summary: dict, modules: int, functions: int) -> list[Row]:
    plain = summary["plain"]
    second = summary["ours-second"] / plain
    first = summary["ours-first"] / plain
    what = f"{modules} modules x {functions} functions"
    return [
        Row("import of a large included package, 2nd run (cached), ours vs plain", f"{second:.2f}x",
            "<= 1.2x", second <= 1.2,
            f"{what}; plain {plain * 1e3:.0f} ms, ours 2nd run {summary['ours-second'] * 1e3:.0f} ms "
            f"(+{(summary['ours-second'] - plain) / (modules * functions) * 1e6:.1f} us per function); "
            f"Recorder start {summary['recorder_start_s'] * 1e3:.1f} ms, not included"),
        Row("import of a large included package, 1st run (rewrite + compile)", f"{first:.2f}x", "reported",
            None, f"ours 1st run {summary['ours-first'] * 1e3:.0f} ms"),
    ]


def run(arguments: argparse.Namespace) -> list[Row]:
    runs = arguments.runs or (1 if arguments.quick else 5)
    modules, functions = (40, 30) if arguments.quick else (200, 30)
    summary = measure(runs, modules, functions, ours_python(arguments.ours_python))
    return rows_from(summary, modules, functions)


def main() -> None:
    script_main(__doc__, run)


if __name__ == "__main__":
    main()
