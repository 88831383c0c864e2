"""verify replays cases as pytest runs the generated tests: no standard input, output
captured, and no case holds it for ever."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from cleanup_trace import maintenance
from cleanup_trace.writer import render

LOOPS = '''
def prompt_loop():
    lines = []
    while True:
        try:
            lines.append(input("> "))
        except EOFError:  # markdown-it-py's interactive(): render, then prompt again
            print("".join(lines))
            lines = []
        except KeyboardInterrupt:
            return None


def spin():  # (waiting for something that never comes; "while True: pass" is not
    # interruptible on Python 3.10, whose tight loops never look at pending signals)
    import time
    while True:
        try:
            time.sleep(0.05)
        except Exception:
            pass


def chatty():
    print("chatter " * 100)
    return 1
'''


def _data_file(directory: Path, qualname: str) -> None:
    header = {"format": "cleanup_trace/1", "module": "verify_loops", "qualname": qualname, "role": "",
              "async": False, "generator": False}
    case = {"call": {"args": [], "kwargs": {}}, "outcome": {"returned": None if qualname != "chatty" else 1}}
    path = directory / "verify_loops" / f"{qualname}-00.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(header, [case]), encoding="utf-8")


def test_cases_run_without_input_within_a_time_limit_and_quietly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "verify_loops.py").write_text(textwrap.dedent(LOOPS))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "verify_loops", raising=False)
    data = tmp_path / "test-data"
    for qualname in ("prompt_loop", "spin", "chatty"):
        _data_file(data, qualname)
    stdin = sys.stdin

    report = maintenance.verify(data, time_limit=0.3)

    assert (3, 1, 2) == (report["cases"], report["kept"], report["quarantined"])
    quarantine = Path(report["quarantine"])

    def reason(qualname: str) -> str:
        document = json.loads((quarantine / "verify_loops" / f"{qualname}-00.json").read_text())
        return document["cases"][0]["quarantine_reason"]

    assert reason("prompt_loop").startswith("raises builtins.OSError: reading from standard input")
    assert "runs longer than 0.3 s" == reason("spin")
    assert (data / "verify_loops" / "chatty-00.json").exists()
    assert "chatter" not in capsys.readouterr().out
    assert sys.stdin is stdin
