"""Collection cost of the goodies versus plain pytest parametrization.

Generates, in a temporary directory, ~10,000 tests built with
``fixture_union`` and ``@parametrize`` + ``fixture_ref``, and the same number
of tests built with plain ``pytest.mark.parametrize``; times
``pytest --collect-only -q`` on each (several runs, median) and prints the
collection time per test and the ratio.

Run: ``python benchmarks/bench_goodies_collection.py [--runs N] [--modules M]``
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

# 50 modules x 20 functions x 10 tests = 10,000 tests each way.
GOODIES_HEADER = '''
from cleanup_trace.goodies import fixture, fixture_union, parametrize, param_fixture

a = param_fixture("a", [1, 2, 3])
b = param_fixture("b", [4, 5])

@fixture
def c():
    return 0

u = fixture_union("u", [a, b])
'''
# union u: 5 values; @parametrize with 1 plain run + 1 ref: 2 alternatives -> 5 * 2 = 10 tests
GOODIES_TEST = '''
@parametrize("x", [0, c])
def test_f{i}(u, x):
    pass
'''
PLAIN_HEADER = "import pytest\n"
PLAIN_TEST = '''
@pytest.mark.parametrize("u", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("x", [0, 1])
def test_f{i}(u, x):
    pass
'''


def write_tree(root: str, header: str, test: str, modules: int, per_module: int) -> None:
    os.makedirs(root)
    with open(os.path.join(root, "pytest.ini"), "w") as f:
        f.write("[pytest]\n")
    for m in range(modules):
        with open(os.path.join(root, "test_m%03d.py" % m), "w") as f:
            f.write(header)
            for i in range(per_module):
                f.write(test.format(i=i))


def collect_time(root: str) -> tuple:
    env = dict(os.environ)
    src_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = src_root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", root]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = time.perf_counter() - start
    count = sum(1 for line in out.stdout.splitlines() if "::" in line)
    if out.returncode != 0 or count == 0:
        raise SystemExit("collection failed in %s:\n%s" % (root, out.stdout[-3000:]))
    return elapsed, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modules", type=int, default=50)
    parser.add_argument("--per-module", type=int, default=20)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        goodies = os.path.join(tmp, "goodies")
        plain = os.path.join(tmp, "plain")
        write_tree(goodies, GOODIES_HEADER, GOODIES_TEST, opts.modules, opts.per_module)
        write_tree(plain, PLAIN_HEADER, PLAIN_TEST, opts.modules, opts.per_module)
        times = {"goodies": [], "plain": []}
        counts = {}
        for _ in range(opts.runs):  # interleaved so machine noise hits both
            for name, root in (("plain", plain), ("goodies", goodies)):
                t, n = collect_time(root)
                times[name].append(t)
                counts[name] = n
    med = {k: statistics.median(v) for k, v in times.items()}
    for name in ("plain", "goodies"):
        print("%-8s %6d tests  median %.3f s  %.1f us/test  (runs: %s)" % (
            name, counts[name], med[name], 1e6 * med[name] / counts[name],
            ", ".join("%.2f" % t for t in times[name])))
    ratio = (med["goodies"] / counts["goodies"]) / (med["plain"] / counts["plain"])
    print("ratio goodies/plain per test: %.2fx" % ratio)


if __name__ == "__main__":
    main()
