"""Child process: time one pytest run in a fresh interpreter; print JSON.

usage: _child_pytest.py DIRECTORY TARGET   (runs ``pytest -q -p no:cacheprovider TARGET``
with DIRECTORY as the working directory and on sys.path, like ``python -m pytest``)
"""
import json
import os
import re
import subprocess
import sys
import time


def main():
    directory, target = sys.argv[1], sys.argv[2]
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
                               cwd=directory, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    tail = completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else completed.stderr[-500:]
    passed = re.search(r"(\d+) passed", tail)
    print(json.dumps({"seconds": elapsed, "exit": completed.returncode, "summary": tail,
                      "passed": int(passed.group(1)) if passed else 0}))


if __name__ == "__main__":
    main()
