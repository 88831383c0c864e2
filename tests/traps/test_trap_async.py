"""Trap family: coroutines, async generators and gather; replay with and without pytest-asyncio."""
from __future__ import annotations

import pytest


def test_async_behaves_and_replays_in_every_mode(trap) -> None:
    """Replay runs without pytest-asyncio, and with it in strict and in auto mode."""
    pytest.importorskip("pytest_asyncio")
    recordings = trap.run("asyncs", min_cases=8, replay_modes=("no-asyncio", "asyncio-strict", "asyncio-auto"))
    for recording in recordings:
        cases = recording.cases()
        assert {"asyncs.fetch", "asyncs.missing", "asyncs.ticks", "asyncs.endless", "asyncs.gather_all",
                "asyncs.Service.get"} <= set(cases)
        assert [[10, 11]] == [case["outcome"]["generator"]["items"] for case in cases["asyncs.endless"]]
        assert [{"type": "builtins.LookupError", "message": "missing x"}] == \
            [case["outcome"]["raised"] for case in cases["asyncs.missing"]]
