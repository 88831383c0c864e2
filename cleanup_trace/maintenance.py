"""Data-file upkeep: ``verify`` (quarantine cases that do not reproduce) and ``compact``.

Both rewrite data files atomically through the writer's helpers, so a reader never sees
a partial file.
"""
from __future__ import annotations

import collections
import json
import re
from pathlib import Path
from typing import Callable, Optional

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


def verify(data_directory: Path, quarantine_directory: Optional[Path] = None,
           runner: Callable[[CaseRef], None] = run_case, repeats: int = REPEATS) -> dict:
    """Replay every case ``repeats`` times (fresh decode each time, so non-determinism
    shows); move those that fail into the quarantine, each with its reason.

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
                    runner(CaseRef(data_file, index, path))
            except Exception as error:  # the user's code may raise anything
                reason = _reason(error)
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
