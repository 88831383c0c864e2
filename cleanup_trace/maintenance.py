"""Data-file upkeep: ``verify`` (quarantine cases that do not reproduce) and ``compact``.

Both rewrite data files atomically through the writer's helpers, so a reader never sees
a partial file.
"""
from __future__ import annotations

import collections
import contextlib
import io
import json
import re
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from cleanup_trace import serialise
from cleanup_trace.replay import CaseRef, DataFileError, read_data_file, run_case
from cleanup_trace.writer import MAX_FILES, atomic_write, render

QUARANTINE_DIRECTORY = "quarantine"
_STEM = re.compile(r"^(?P<stem>.+)-(?P<suffix>\d\d)$")


def _header(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "cases"}


def _reason(error: BaseException) -> str:
    if isinstance(error, AssertionError):
        text = str(error).splitlines()
        return "does not reproduce: " + (text[1].strip() if len(text) > 1 else (text[0] if text else "mismatch"))
    return f"raises {type(error).__module__}.{type(error).__qualname__}: {error}"


def _reason_kind(reason: str) -> str:
    """The grouping key of a reason: 'does not reproduce', 'raises builtins.KeyError', ..."""
    return reason.split(":", 1)[0]


REPEATS = 3
# A case replayed longer than this is stopped and quarantined: recorded calls are a
# test's calls, and one waiting for input or a signal would hold verify for ever.
TIME_LIMIT_SECONDS = 20.0


class _TimeLimit(BaseException):
    """Raised into a case that runs past :data:`TIME_LIMIT_SECONDS` (a BaseException:
    the case's own ``except Exception`` must not swallow it)."""


class _NoInput(io.TextIOBase):
    """Standard input while cases are verified: reading it fails, as under pytest's
    capture, where the generated tests run (markdown-it-py's prompt loop, recorded with
    a patched ``input``, asked /dev/null again and again)."""

    def readable(self) -> bool:
        return True

    def read(self, size: Optional[int] = -1) -> str:
        raise OSError("reading from standard input: verify replays cases without input, as pytest does")

    readline = read

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return self.read()


class _Discarded(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


@contextlib.contextmanager
def _as_under_pytest() -> Iterator[None]:
    """No standard input, and the cases' printing dropped (pytest captures it)."""
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin = _NoInput()
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(_Discarded()), encoding="utf-8", write_through=True)
    sys.stderr = io.TextIOWrapper(io.BufferedWriter(_Discarded()), encoding="utf-8", write_through=True)
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`_TimeLimit` into the running case after ``seconds``, and every
    second after that until it ends (a loop catching everything once goes on). Only where
    a timer signal exists and this is the main thread; elsewhere no limit."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def verify(data_directory: Path, quarantine_directory: Optional[Path] = None,
           runner: Callable[[CaseRef], None] = run_case, repeats: int = REPEATS,
           time_limit: float = TIME_LIMIT_SECONDS) -> dict:
    """Replay every case ``repeats`` times (fresh decode each time, so non-determinism
    shows); move those that fail into the quarantine, each with its reason. Cases run as
    under pytest: no standard input, their output dropped; each run at most
    ``time_limit`` seconds.

    Returns ``{"cases": n, "kept": n, "quarantined": n, "reasons": Counter}``.
    """
    quarantine_directory = quarantine_directory or data_directory.parent / f"{data_directory.name}-{QUARANTINE_DIRECTORY}"
    totals: collections.Counter = collections.Counter()
    reasons: collections.Counter = collections.Counter()
    for path in sorted(data_directory.glob("*/*.json")):
        try:
            data_file = read_data_file(path)
        except DataFileError as error:
            reasons[f"unreadable file: {error}"] += 1
            continue
        keep, moved = [], []
        for index, case in enumerate(data_file.cases):
            totals["cases"] += 1
            try:
                for _ in range(repeats):
                    with _as_under_pytest(), _time_limit(time_limit):
                        runner(CaseRef(data_file, index, path))
            except (Exception, _TimeLimit) as error:  # the user's code may raise anything
                reason = f"runs longer than {time_limit:g} s" if isinstance(error, _TimeLimit) else _reason(error)
                moved.append(dict(case, quarantine_reason=reason))
                reasons[_reason_kind(reason)] += 1
            else:
                keep.append(case)
        if not moved:
            continue
        header = _header(data_file.header)
        target = quarantine_directory / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        earlier = json.loads(target.read_text(encoding="utf-8"))["cases"] if target.exists() else []
        atomic_write(target, render(header, earlier + moved))
        if keep:
            atomic_write(path, render(header, keep))
        else:
            path.unlink()
        totals["quarantined"] += len(moved)
    totals["kept"] = totals["cases"] - totals["quarantined"]
    return {"cases": totals["cases"], "kept": totals["kept"], "quarantined": totals["quarantined"],
            "reasons": reasons, "quarantine": str(quarantine_directory)}


def compact(data_directory: Path, size_limit_bytes: int = 0) -> dict:
    """Merge each function's ``-NN`` files into as few as needed, without duplicates."""
    groups: dict[tuple[Path, str], list[Path]] = collections.defaultdict(list)
    for path in sorted(data_directory.glob("*/*.json")):
        match = _STEM.match(path.stem)
        if match:
            groups[(path.parent, match.group("stem"))].append(path)
    before = after = 0
    for (folder, stem), paths in sorted(groups.items()):
        header: Optional[dict] = None
        cases, seen = [], set()
        for path in paths:
            document = json.loads(path.read_text(encoding="utf-8"))
            header = header or _header(document)
            for case in document.get("cases", []):
                text = serialise.dumps(case)
                if text not in seen:
                    seen.add(text)
                    cases.append(case)
        before += len(paths)
        chunks: list[list] = [[]]
        for case in cases:
            chunks[-1].append(case)
            if size_limit_bytes and len(render(header or {}, chunks[-1]).encode()) > size_limit_bytes \
                    and len(chunks[-1]) > 1 and len(chunks) < MAX_FILES:
                chunks.append([chunks[-1].pop()])
        targets = [folder / f"{stem}-{index:02d}.json" for index in range(len(chunks))]
        for target, chunk in zip(targets, chunks):
            atomic_write(target, render(header or {}, chunk))
        for path in paths:
            if path not in targets:
                path.unlink()
        after += len(targets)
    return {"functions": len(groups), "files before": before, "files after": after}
