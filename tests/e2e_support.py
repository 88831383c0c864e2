"""Helpers shared by the end-to-end tests (conftest.py holds the fixtures)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest


def run_tool(pytester: pytest.Pytester, *arguments: str) -> pytest.RunResult:
    """``python -m cleanup_trace ARGUMENTS`` in the project directory."""
    return pytester.run(sys.executable, "-m", "cleanup_trace", *arguments)


def data_files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.glob("tests/test-data/*/*.json"))
