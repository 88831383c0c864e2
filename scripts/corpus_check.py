#!/usr/bin/env python3
"""Record real libraries' own test suites with cleanup_trace and replay them.

    python scripts/corpus_check.py [NAME ...] [--repeat N] [--no-install] [--details]

For every library of the corpus table (``corpus.tsv`` beside ``corpus.sh``; NAMEs select
rows, default: every row whose notes do not start with EXCLUDED) it prints one summary
row, then the details that explain it:

1. transparency -- the library's own suite with ``--cleanup-record`` and
   ``PYTESTCLEANUP_INCLUDE_MODULES=<import_name>*`` (and ``PYTESTCLEANUP_EXCLUDE_MODULES=*``:
   the library alone) gives the same passed / failed /
   errors / skipped / xfailed / xpassed counts as without (tests whose outcome differs are
   named);
2. recording summary -- parsed from the tool's own "cleanup_trace recording" terminal
   block (what the block does not say is reported as missing, never guessed);
3. replay -- pytest on the generated ``test_pytestcleanup_cases.py`` alone: pass rate;
   failures grouped by cause;
4. quarantine -- ``python -m cleanup_trace verify``, then replay again (must be 100 %);
   quarantined cases grouped by reason;
5. value -- line coverage of the library by the generated tests alone, beside the
   coverage of its own suite from corpus.tsv;
6. cost -- median wall time of the suite with recording divided by without.

Everything is written under ``$CORPUS_ROOT`` (default ``$TMPDIR/cleanup-trace-corpus``,
as corpus.sh): ``check/<name>/`` holds the logs, the recorded data and the scaffold of
one library; nothing is written into the repository or into the library's sources.
See docs/corpus.md.
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
TEST_FILE = "test_pytestcleanup_cases.py"  # what `python -m cleanup_trace` writes
SUMMARY_TITLE = "cleanup_trace recording"
SUMMARY_KEYS = ("functions instrumented", "functions called", "functions with cases", "cases written")
COUNT_KEYS = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed")
TARGETS = {"replay": 99.0, "quarantine": 2.0, "cost": 1.5}
STEP_TIMEOUT = 900  # seconds, one subprocess
SLOW_SUITE = 60  # seconds: a recording run slower than this is not repeated
# A short suite is timed until this many seconds of runs (both kinds), up to
# MAX_TIMING_RUNS of each: the ratio of two runs under a second moves by 0.05-0.25 from
# one sweep to the next on a shared machine (altgraph, 0.3 s: 1.51x, 1.78x, 1.57x of the
# same code at 3 runs each), more than the difference being measured.
TIMING_BUDGET = 20.0
MAX_TIMING_RUNS = 9
COVERAGERC = """\
[run]
branch = False
omit =
    */tests/*
    */test/*
    */test_*.py
    */conftest.py
[report]
"""  # the same uniform settings as `corpus.sh cov` (coverage_pct of corpus.tsv)


# -- the corpus ----------------------------------------------------------------------------
def corpus_directory() -> Path:
    candidates = [os.environ.get("CORPUS_DIR"), REPO.parent / "shared" / "corpus", "/work/shared/corpus"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "corpus.tsv").is_file():
            return Path(candidate).resolve()
    sys.exit("corpus_check: no corpus.tsv found: set CORPUS_DIR to the directory holding corpus.sh")


def corpus_root() -> Path:
    root = os.environ.get("CORPUS_ROOT") or os.path.join(os.environ.get("TMPDIR") or "/tmp", "cleanup-trace-corpus")
    return Path(root)


def read_table(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    rows = []
    for line in lines[1:]:
        if not line.strip():
            continue
        values = line.split("\t")
        values += [""] * (len(header) - len(values))
        rows.append(dict(zip(header, values)))
    return rows


def _float(text: str) -> Optional[float]:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


# -- running things ------------------------------------------------------------------------
class Step:
    """One subprocess: its exit code, wall time and output (also kept in a log file)."""

    def __init__(self, command: list, cwd: Path, env: dict, log: Path, timeout: int = STEP_TIMEOUT) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        try:
            completed = subprocess.run(command, cwd=str(cwd), env=env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, timeout=timeout)
            self.returncode: Optional[int] = completed.returncode
            output = completed.stdout
        except subprocess.TimeoutExpired as expired:
            self.returncode = None
            output = (expired.stdout or b"") + f"\n[corpus_check: timed out after {timeout}s]\n".encode()
        self.seconds = time.perf_counter() - started
        self.output = output.decode("utf-8", "replace")
        log.write_text(f"$ (cd {cwd} && {shlex.join(map(str, command))})\n{self.output}", encoding="utf-8")
        self.log = log

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def base_env(venv: Path, hypothesis_dir: Path) -> dict:
    """corpus.sh's run_env: a deterministic environment, no PYTESTCLEANUP_* from outside."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTESTCLEANUP_", "COV_CORE_", "PYTEST_")) and key not in ("PYTHONPATH", "COVERAGE_FILE")}
    shutil.rmtree(hypothesis_dir, ignore_errors=True)
    env.update(HYPOTHESIS_STORAGE_DIRECTORY=str(hypothesis_dir), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               VIRTUAL_ENV=str(venv), PYTHONHASHSEED="0", TZ="UTC", LC_ALL="C.UTF-8", LANG="C.UTF-8",
               PYTHONDONTWRITEBYTECODE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", COLUMNS="200")
    return env


def another_timing_run(done: int, repeat: int, seconds_spent: float, first_record_seconds: float) -> bool:
    """Is the suite run once more with and without recording, after ``done`` runs of each
    that took ``seconds_spent`` in all? ``repeat`` runs at least; a recording run over
    SLOW_SUITE seconds is run once (one run measures its ratio well); with ``repeat`` of 3
    or more, a short suite runs until TIMING_BUDGET seconds, MAX_TIMING_RUNS at most."""
    if first_record_seconds > SLOW_SUITE:
        return False
    if done < repeat:
        return True
    return repeat >= 3 and done < MAX_TIMING_RUNS and seconds_spent < TIMING_BUDGET


def pytest_counts(output: str) -> Optional[dict]:
    """The counts of pytest's closing line (``None`` if there is none: a crash)."""
    lines = [line for line in output.splitlines()
             if re.search(r" in [0-9.]+s", line) and re.search(r"passed|failed|error|skipped|no tests ran|xfailed", line)]
    if not lines:
        return None
    line = lines[-1]
    counts = {key: 0 for key in COUNT_KEYS}
    for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)", line):
        counts["errors" if word.startswith("error") else word] += int(number)
    return counts


def junit_outcomes(path: Path) -> dict:
    """``{test id: (outcome, message)}`` from a JUnit XML report."""
    outcomes: dict = {}
    if not path.is_file():
        return outcomes
    try:
        tree = ElementTree.parse(path)
    except ElementTree.ParseError:
        return outcomes
    for case in tree.iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                kind = child.get("type", "") or ""
                outcome = {"failure": "failed", "error": "error"}[child.tag] if child.tag != "skipped" else (
                    "xfailed" if "xfail" in kind else "skipped")
                message = (child.get("message") or "") + "\n" + (child.text or "")
                if child.tag != "skipped":
                    break
        # An error in teardown of a passed test gives two children: keep the error.
        previous = outcomes.get(test_id)
        if previous is None or previous[0] == "passed":
            outcomes[test_id] = (outcome, message)
    return outcomes


def parse_recording_block(output: str) -> dict:
    """The tool's terminal summary block, as it printed it; missing parts are listed."""
    # A suite forcing colour (python-slugify) puts escape codes before pytest's rules.
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in output.splitlines()]
    found: dict = {"values": {}, "skipped": {}, "missing": [], "raw": []}
    for index, line in enumerate(lines):
        if SUMMARY_TITLE in line and set(line.replace(SUMMARY_TITLE, "").strip()) <= {"-", "=", " "}:
            block = []
            for follow in lines[index + 1:index + 4]:
                if re.match(r"^[=-]{3,}", follow) or not follow.strip():
                    break
                block.append(follow)
            found["raw"] = block
            for entry in block:
                if entry.startswith("skipped cases:"):
                    for reason, number in re.findall(r"\s*(.+?): (\d+)(?:,|$)", entry[len("skipped cases:"):]):
                        found["skipped"][reason.strip()] = int(number)
                else:
                    for key, number in re.findall(r"([a-z][a-z ]*?): (\d+)", entry):
                        found["values"][key.strip()] = int(number)
            break
    else:
        found["missing"].append("the whole block (no 'cleanup_trace recording' section in the output)")
        return found
    found["missing"] += [key for key in SUMMARY_KEYS if key not in found["values"]]
    return found


# -- the tool in the library's venv ---------------------------------------------------------
def build_wheel(scratch: Path, python: str) -> Path:
    """A wheel of the repository as it is now, built from a snapshot copy (so that the
    lead's edits during a run cannot mix two versions, and nothing is built in the repo)."""
    snapshot = scratch / "tool-src"
    shutil.rmtree(snapshot, ignore_errors=True)
    shutil.copytree(REPO, snapshot, ignore=shutil.ignore_patterns(
        ".git", ".tox", "build", "dist", "*.egg-info", "__pycache__", ".venv*", "test-data*", ".pytest_cache",
        "examples", "benchmarks"))
    wheels = scratch / "wheel"
    shutil.rmtree(wheels, ignore_errors=True)
    step = Step([python, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(snapshot)],
                scratch, dict(os.environ), scratch / "wheel-build.log")
    built = sorted(wheels.glob("cleanup_trace-*.whl"))
    if step.returncode != 0 or not built:
        sys.exit(f"corpus_check: building the cleanup_trace wheel failed, see {step.log}")
    return built[0]


def install_tool(wheel: Path, venv: Path, constraints: Path, logs: Path) -> Optional[str]:
    python = str(venv / "bin" / "python")
    cons = ["-c", str(constraints)] if constraints.is_file() else []
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    # Dependencies first (pinned by the corpus constraints, pytest is never moved), then the
    # wheel itself again by force: its version number does not change between edits.
    first = Step([python, "-m", "pip", "install", "-q", *cons, str(wheel)], logs, env, logs / "install.log")
    if first.returncode != 0:
        return f"pip install failed, see {first.log}"
    second = Step([python, "-m", "pip", "install", "-q", "--force-reinstall", "--no-deps", str(wheel)],
                  logs, env, logs / "reinstall.log")
    if second.returncode != 0:
        return f"pip install --force-reinstall failed, see {second.log}"
    return None


# -- one library ---------------------------------------------------------------------------
class Library:
    def __init__(self, row: dict, corpus: Path, root: Path) -> None:
        self.row = row
        self.name = row["name"]
        self.corpus = corpus
        self.import_names = row["import_name"].split()
        self.tests = shlex.split(row.get("tests_path", ""))
        self.pytest_args = shlex.split(row.get("pytest_args", ""))
        self.work = root / "check" / self.name
        self.hypothesis = root / "check" / ".hypothesis" / self.name
        paths = subprocess.run(["bash", str(corpus / "corpus.sh"), "path", self.name], capture_output=True,
                               text=True, env=dict(os.environ, CORPUS_ROOT=str(root)))
        if paths.returncode != 0:
            raise RuntimeError(f"corpus.sh path {self.name}: {paths.stderr.strip()}")
        source, venv = paths.stdout.split()
        self.source, self.venv = Path(source), Path(venv)
        self.python = str(self.venv / "bin" / "python")
        self.result: dict = {"name": self.name, "problems": []}

    def is_set_up(self) -> bool:
        return Path(self.python).is_file() and self.source.is_dir()

    def setup(self, root: Path) -> bool:
        step = Step(["bash", str(self.corpus / "corpus.sh"), "setup", self.name], self.corpus,
                    dict(os.environ, CORPUS_ROOT=str(root)), self.work / "logs" / "setup.log", timeout=1800)
        return step.returncode == 0 and self.is_set_up()

    def env(self, **extra: str) -> dict:
        env = base_env(self.venv, self.hypothesis)
        env.update(extra)
        return env

    def suite(self, label: str, record_into: Optional[Path]) -> tuple[Step, dict]:
        """The library's own suite, as corpus.sh runs it (cwd = the unpacked sdist)."""
        logs = self.work / "logs"
        junit = logs / f"{label}.junit.xml"
        command = [self.python, "-m", "pytest", *self.tests, *self.pytest_args, "-p", "no:cacheprovider",
                   "-rfE", f"--junitxml={junit}"]
        extra = {}
        if record_into is not None:
            command.append("--cleanup-record")
            # The library alone: the sdist's other modules (a tools/ folder its tests
            # import from the source tree) are the user's code to the tool, but the
            # replay runs outside that tree, where they are not importable.
            extra = {"PYTESTCLEANUP_INCLUDE_MODULES": ",".join(f"{name}*" for name in self.import_names),
                     "PYTESTCLEANUP_EXCLUDE_MODULES": "*",
                     "PYTESTCLEANUP_TEST_DIRECTORY": str(record_into)}
        step = Step(command, self.source, self.env(**extra), logs / f"{label}.log")
        return step, junit_outcomes(junit)

    def replay(self, label: str, directory: Path, coverage: bool = False) -> tuple[Step, dict]:
        """pytest on the generated test file alone, from the data's test directory."""
        logs = self.work / "logs"
        junit = logs / f"{label}.junit.xml"
        command = [self.python, "-m", "pytest", TEST_FILE, "-p", "no:cacheprovider", "-q", "-rfE",
                   f"--junitxml={junit}"]
        extra = {"PYTESTCLEANUP_TEST_DIRECTORY": str(directory)}
        if coverage:
            rc = self.work / "coveragerc"
            rc.write_text(COVERAGERC, encoding="utf-8")
            command += [f"--cov={name}" for name in self.import_names]
            command += [f"--cov-config={rc}", "--cov-report="]
            extra["COVERAGE_FILE"] = str(self.work / "replay.coverage")
        step = Step(command, directory, self.env(**extra), logs / f"{label}.log")
        return step, junit_outcomes(junit)

    def coverage_total(self) -> Optional[float]:
        step = Step([self.python, "-m", "coverage", "report", f"--data-file={self.work / 'replay.coverage'}",
                     f"--rcfile={self.work / 'coveragerc'}", "--format=total", "--precision=1"],
                    self.work, self.env(), self.work / "logs" / "coverage-report.log")
        try:
            return float(step.output.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None

    # -- the whole check -------------------------------------------------------------------
    def check(self, repeat: int) -> dict:
        result = self.result
        shutil.rmtree(self.work, ignore_errors=True)
        (self.work / "logs").mkdir(parents=True)

        # 1 + 6: the suite without and with recording, `repeat` times each, interleaved.
        plain_runs, record_runs = [], []
        data_root = self.work / "replay"  # the test directory of the kept recording
        index = 0
        while True:
            plain_runs.append(self.suite(f"suite-plain-{index}", None))
            target = data_root if index == 0 else self.work / f"record-extra-{index}"
            record_runs.append(self.suite(f"suite-record-{index}", target))
            if index:
                shutil.rmtree(target, ignore_errors=True)
            index += 1
            spent = sum(step.seconds for step, _ in plain_runs + record_runs)
            if not another_timing_run(index, repeat, spent, record_runs[0][0].seconds):
                break
        result["timing_runs"] = len(plain_runs)
        plain, plain_outcomes = plain_runs[0]
        record, record_outcomes = record_runs[0]
        result["plain"] = pytest_counts(plain.output)
        result["record"] = pytest_counts(record.output)
        result["expected_passed"] = _float(self.row.get("passed", ""))
        result["transparent"] = result["plain"] is not None and result["plain"] == result["record"] and all(
            pytest_counts(step.output) == result["plain"] for step, _ in plain_runs + record_runs)
        result["differing_tests"] = sorted(
            (test_id, plain_outcomes.get(test_id, ("absent", ""))[0], outcome, message)
            for test_id, (outcome, message) in record_outcomes.items()
            if plain_outcomes.get(test_id, ("absent", ""))[0] != outcome)
        result["differing_tests"] += sorted(
            (test_id, outcome, "absent", "") for test_id, (outcome, _) in plain_outcomes.items()
            if test_id not in record_outcomes)
        if result["plain"] is None:
            result["problems"].append(f"suite without recording has no pytest summary line: see {plain.log}")
        if result["record"] is None:
            result["problems"].append(f"suite with recording has no pytest summary line: see {record.log}")
        plain_median = statistics.median(step.seconds for step, _ in plain_runs)
        record_median = statistics.median(step.seconds for step, _ in record_runs)
        result["seconds"] = (plain_median, record_median)
        result["cost"] = record_median / plain_median if plain_median else None

        # 2: the tool's own summary.
        result["summary"] = parse_recording_block(record.output)
        data_directory = data_root / "test-data"
        result["data_files"] = sorted(data_directory.glob("*/*.json")) if data_directory.is_dir() else []
        result["cases_on_disk"] = sum(_case_count(path) for path in result["data_files"])

        # 3: scaffold, then replay the generated tests alone.
        if not result["data_files"]:
            result["problems"].append("nothing was recorded (no module of the library instrumented: see "
                                      f"{record.log} with PYTESTCLEANUP_LOG_LEVEL=debug)")
            return result
        scaffold = Step([self.python, "-m", "cleanup_trace"], data_root,
                        self.env(PYTESTCLEANUP_TEST_DIRECTORY=str(data_root)), self.work / "logs" / "scaffold.log")
        if scaffold.returncode != 0 or not (data_root / TEST_FILE).is_file():
            result["problems"].append(f"`python -m cleanup_trace` wrote no {TEST_FILE}: see {scaffold.log}")
            return result
        before = self.work / "test-data-before-verify"
        if data_directory.is_dir():
            shutil.copytree(data_directory, before)
        source_files = _files(self.source)
        first, first_outcomes = self.replay("replay-1", data_root)
        result["replay1"] = pytest_counts(first.output)
        result["replay1_failures"] = {test_id: message for test_id, (outcome, message) in first_outcomes.items()
                                      if outcome in ("failed", "error")}
        if result["replay1"] is None:
            result["problems"].append(f"replay run has no pytest summary line: see {first.log}")

        # 4: verify (quarantine), replay again, with coverage (5).
        verify = Step([self.python, "-m", "cleanup_trace", "verify"], data_root,
                      self.env(PYTESTCLEANUP_TEST_DIRECTORY=str(data_root)), self.work / "logs" / "verify.log")
        result["verify_output"] = verify.output.strip()
        match = re.search(r"verified (\d+) cases: (\d+) reproduce, (\d+) quarantined", verify.output)
        result["verify"] = tuple(int(group) for group in match.groups()) if match else None
        if verify.returncode != 0 or match is None:
            result["problems"].append(f"`python -m cleanup_trace verify` failed (exit {verify.returncode}): "
                                      f"see {verify.log}")
        result["quarantine"] = _quarantined(data_root)
        second, second_outcomes = self.replay("replay-2", data_root, coverage=True)
        result["replay2"] = pytest_counts(second.output)
        result["replay2_failures"] = {test_id: message for test_id, (outcome, message) in second_outcomes.items()
                                      if outcome in ("failed", "error")}
        result["coverage"] = self.coverage_total()
        # Replayed calls run for real: files they create at recorded absolute paths inside
        # the library's sources would change its next suite run. Reported, then removed.
        created = sorted(_files(self.source) - source_files)
        result["replay_wrote"] = [str(path) for path in created]
        for path in created:
            try:
                path.unlink()
            except OSError:
                pass
        result["own_coverage"] = _float(self.row.get("coverage_pct", ""))
        return result


def _files(directory: Path) -> set:
    return {path for path in directory.rglob("*") if path.is_file() and "__pycache__" not in path.parts}


def _case_count(path: Path) -> int:
    try:
        return len(json.loads(path.read_text(encoding="utf-8")).get("cases", []))
    except Exception:
        return 0


def _quarantined(test_directory: Path) -> list:
    """``[(function, reason)]`` of every quarantined case (the tool's own reasons)."""
    found = []
    for folder in sorted(test_directory.glob("*-quarantine")):
        for path in sorted(folder.glob("*/*.json")):
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except Exception:
                found.append((str(path), "unreadable quarantine file"))
                continue
            name = ".".join(part for part in (document.get("module"), document.get("qualname"), document.get("role"))
                            if part)
            for case in document.get("cases", []):
                found.append((name, case.get("quarantine_reason", "(no reason recorded)")))
    return found


# -- grouping failures by cause ------------------------------------------------------------
_NOISE = [
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),
    (re.compile(r"/[^\s'\"]+/"), "…/"),
    (re.compile(r"\b\d+\b"), "N"),
    (re.compile(r"'[^']{20,}'"), "'…'"),
]


def cause_of(message: str) -> str:
    """A short grouping key for a replay failure message."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    head = lines[0] if lines else "(no message)"
    if "replayed value differs" in message:
        detail = next((line for line in lines[1:] if not line.startswith(("+", "-", "E ", ">"))), "")
        detail = re.sub(r"^[\w.\[\]'\"]*?: ", "", detail)
        head = "value differs: " + detail
    elif "cannot decode" in head or "cannot import" in head or "no longer exists" in head:
        head = re.sub(r"^.*?case \d+: ", "", head)
    for pattern, replacement in _NOISE:
        head = pattern.sub(replacement, head)
    return head[:150]


def _function_of(test_id: str) -> str:
    match = re.search(r"\[(.+)-\d\d-\d+\]$", test_id)
    return match.group(1) if match else test_id


def group_failures(failures: dict) -> list:
    """``[(cause, count, [functions])]``, most frequent first."""
    groups: dict = collections.defaultdict(list)
    for test_id, message in failures.items():
        groups[cause_of(message)].append(_function_of(test_id))
    return sorted(((cause, len(functions), sorted(set(functions))) for cause, functions in groups.items()),
                  key=lambda item: (-item[1], item[0]))


# -- reporting -----------------------------------------------------------------------------
def _counts_text(counts: Optional[dict]) -> str:
    if counts is None:
        return "no summary"
    text = f"{counts['passed']}/{counts['failed'] + counts['errors']}/{counts['skipped']}"
    extra = counts["xfailed"] + counts["xpassed"]
    return text + (f"+{extra}x" if extra else "")


def _percent(part: float, whole: float) -> Optional[float]:
    return 100.0 * part / whole if whole else None


def _fmt(value: Optional[float], spec: str = ".1f", suffix: str = "") -> str:
    return "n/a" if value is None else f"{value:{spec}}{suffix}"


def figures(result: dict) -> dict:
    """The figures of one library and whether each meets its target."""
    out: dict = {}
    replay = result.get("replay1")
    total = (replay["passed"] + replay["failed"] + replay["errors"]) if replay else 0
    out["replay_rate"] = _percent(replay["passed"], total) if replay else None
    out["replay_total"] = total
    verify = result.get("verify")
    out["quarantine_rate"] = _percent(verify[2], verify[0]) if verify else None
    second = result.get("replay2")
    second_total = (second["passed"] + second["failed"] + second["errors"]) if second else 0
    out["replay2_rate"] = _percent(second["passed"], second_total) if second else None
    out["ok"] = {
        "transparency": bool(result.get("transparent")),
        "replay": out["replay_rate"] is not None and out["replay_rate"] >= TARGETS["replay"],
        "quarantine": out["quarantine_rate"] is not None and out["quarantine_rate"] <= TARGETS["quarantine"],
        "green after verify": out["replay2_rate"] == 100.0,
        "cost": result.get("cost") is not None and result["cost"] <= TARGETS["cost"],
    }
    return out


def table(results: list) -> str:
    header = ["library", "suite p/f/s", "recorded p/f/s", "same", "instr", "called", "w/cases", "written",
              "skipped (top)", "replay", "quar.", "after", "cov gen/own", "cost"]
    rows = [header]
    for result in results:
        if "plain" not in result:
            rows.append([result["name"], "—", "—", "—", "", "", "", "", "", "", "", "", "", ""]
                        + [])
            continue
        fig = figures(result)
        summary = result.get("summary", {"values": {}, "skipped": {}})
        values = summary["values"]
        skipped = summary["skipped"]
        top = sorted(skipped.items(), key=lambda item: -item[1])[:1]
        top_text = (f"{sum(skipped.values())} ({top[0][0][:18]} {top[0][1]})" if top else "0")
        verify = result.get("verify")
        rows.append([
            result["name"],
            _counts_text(result.get("plain")),
            _counts_text(result.get("record")),
            "yes" if result.get("transparent") else "NO",
            str(values.get("functions instrumented", "?")),
            str(values.get("functions called", "?")),
            str(values.get("functions with cases", "?")),
            str(values.get("cases written", "?")),
            top_text,
            f"{_fmt(fig['replay_rate'], '.1f', '%')} of {fig['replay_total']}",
            f"{verify[2]} ({_fmt(fig['quarantine_rate'], '.1f', '%')})" if verify else "n/a",
            _fmt(fig["replay2_rate"], ".1f", "%"),
            f"{_fmt(result.get('coverage'), '.1f')}/{_fmt(result.get('own_coverage'), '.1f')}%",
            f"{_fmt(result.get('cost'), '.2f', 'x')}",
        ])
    widths = [max(len(row[index]) for row in rows) for index in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def details(result: dict, limit: int) -> str:
    out = [f"== {result['name']}  (logs, data: {result.get('work', '')})"]
    for problem in result.get("problems", []):
        out.append(f"  PROBLEM: {problem}")
    if "plain" not in result:
        return "\n".join(out)
    fig = figures(result)
    plain, record = result.get("plain"), result.get("record")
    seconds = result.get("seconds", (0, 0))
    out.append(f"  1 transparency: without {plain}  with {record}  -> "
               f"{'identical' if result['transparent'] else 'DIFFERENT'}"
               + (f" (corpus.tsv expects {result['expected_passed']:.0f} passed)"
                  if result.get("expected_passed") is not None else ""))
    for test_id, before, after, message in result.get("differing_tests", [])[:limit]:
        first = next((line for line in message.splitlines() if line.strip()), "")
        out.append(f"      {test_id}: {before} -> {after}  {first[:160]}")
    if len(result.get("differing_tests", [])) > limit:
        out.append(f"      ... {len(result['differing_tests']) - limit} more (see logs/suite-*.junit.xml)")
    summary = result.get("summary", {})
    out.append("  2 recording block: " + (" | ".join(summary.get("raw", [])) or "(none)"))
    out.append(f"      data files on disk: {len(result.get('data_files', []))}, "
               f"cases on disk: {result.get('cases_on_disk', 0)}")
    if summary.get("missing"):
        out.append("      missing from the block: " + ", ".join(summary["missing"]))
    out.append("      not in the block (the tool does not print them): functions disabled by a tool error, "
               "modules that failed to instrument")
    out.append(f"  3 replay: {result.get('replay1')} -> {_fmt(fig['replay_rate'], '.2f', '%')} pass")
    for cause, count, functions in group_failures(result.get("replay1_failures", {}))[:limit]:
        shown = ", ".join(functions[:4]) + (f", +{len(functions) - 4}" if len(functions) > 4 else "")
        out.append(f"      {count:4d}  {cause}\n            in: {shown}")
    verified = re.search(r"verified .*", result.get("verify_output", ""))
    out.append(f"  4 verify: {verified.group(0) if verified else 'n/a (no verify summary line)'}")
    reasons = collections.Counter(cause_of(reason) for _, reason in result.get("quarantine", []))
    for reason, count in reasons.most_common(limit):
        functions = sorted({name for name, why in result["quarantine"] if cause_of(why) == reason})
        shown = ", ".join(functions[:4]) + (f", +{len(functions) - 4}" if len(functions) > 4 else "")
        out.append(f"      {count:4d}  {reason}\n            in: {shown}")
    out.append(f"    replay after verify: {result.get('replay2')} -> {_fmt(fig['replay2_rate'], '.2f', '%')}")
    for cause, count, functions in group_failures(result.get("replay2_failures", {}))[:limit]:
        out.append(f"      {count:4d}  {cause}  in: {', '.join(functions[:4])}")
    if result.get("replay_wrote"):
        out.append(f"    replay wrote {len(result['replay_wrote'])} file(s) into the library's sources (removed): "
                   + ", ".join(result["replay_wrote"][:5]))
    out.append(f"  5 coverage of {result.get('import', '')} by the generated tests: "
               f"{_fmt(result.get('coverage'), '.1f', '%')} (own suite: {_fmt(result.get('own_coverage'), '.1f', '%')})")
    out.append(f"  6 cost: {seconds[1]:.1f}s / {seconds[0]:.1f}s = {_fmt(result.get('cost'), '.2f', 'x')} "
               f"(median wall time of {result.get('timing_runs', 1)} run(s) each)")
    return "\n".join(out)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="NAME", help="libraries of corpus.tsv (default: all)")
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("CORPUS_CHECK_REPEAT", "3")),
                        help="runs of the suite with and without recording, for the median times (default 3; "
                             "with 3 or more, a short suite runs until 20 s of runs, 9 at most)")
    parser.add_argument("--no-install", action="store_true",
                        help="do not (re)install the repository's cleanup_trace into the venvs")
    parser.add_argument("--details", type=int, default=8, metavar="N",
                        help="groups / tests shown per detail section (default 8)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    arguments = parser.parse_args(argv)

    corpus = corpus_directory()
    root = corpus_root()
    rows = read_table(corpus / "corpus.tsv")
    if arguments.names:
        known = {row["name"]: row for row in rows}
        unknown = [name for name in arguments.names if name not in known]
        if unknown:
            parser.error(f"not in {corpus / 'corpus.tsv'}: {', '.join(unknown)} (known: {', '.join(known)})")
        rows = [known[name] for name in arguments.names]
    else:
        rows = [row for row in rows if not row.get("notes", "").startswith("EXCLUDED")]
    (root / "check").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    print(f"corpus {corpus}, work under {root / 'check'}, repeat {arguments.repeat}", flush=True)

    libraries = [Library(row, corpus, root) for row in rows]
    wheel = None
    results = []
    for library in libraries:
        library.result["work"] = str(library.work)
        library.result["import"] = " ".join(library.import_names)
        (library.work / "logs").mkdir(parents=True, exist_ok=True)
        if not library.is_set_up():
            print(f"{library.name}: not set up, running corpus.sh setup {library.name} ...", flush=True)
            if not library.setup(root):
                library.result["problems"].append(f"corpus.sh setup failed: see {library.work / 'logs' / 'setup.log'}")
                results.append(library.result)
                continue
        if not arguments.no_install:
            if wheel is None:
                wheel = build_wheel(root / "check", library.python)
                print(f"built {wheel.name} from a snapshot of {REPO}", flush=True)
            problem = install_tool(wheel, library.venv, corpus / "constraints.txt", library.work / "logs")
            if problem:
                library.result["problems"].append(problem)
                results.append(library.result)
                continue
        t0 = time.perf_counter()
        print(f"{library.name}: checking ...", flush=True)
        try:
            results.append(library.check(arguments.repeat))
        except Exception as error:  # report and go on with the next library
            library.result["problems"].append(f"corpus_check crashed: {type(error).__name__}: {error}")
            results.append(library.result)
        print(f"{library.name}: done in {time.perf_counter() - t0:.0f}s", flush=True)

    print()
    print(table(results))
    print()
    for result in results:
        print(details(result, arguments.details))
        print()
    met = collections.defaultdict(list)
    for result in results:
        if "plain" in result:
            for figure, ok in figures(result)["ok"].items():
                met[figure].append(ok)
    print("targets: transparency identical; replay >= 99% before verify; quarantine <= 2%; "
          "100% green after verify; cost <= 1.5x")
    for figure, oks in met.items():
        print(f"  {figure}: {'met' if all(oks) else 'NOT met'} ({sum(oks)}/{len(oks)} libraries)")
    print(f"total {time.perf_counter() - started:.0f}s")
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    all_ok = bool(met) and all(all(oks) for oks in met.values()) and len(results) == len(rows) and \
        all(not result["problems"] for result in results)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
