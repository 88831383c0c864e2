"""Trap family: threads. Budgets and dedupe hold under concurrent calls."""
from __future__ import annotations

import json


def test_thread_pool_keeps_budget_and_dedupe(trap) -> None:
    """200 concurrent distinct calls record exactly the budget; 200 equal calls record one case."""
    for recording in trap.run("threads", min_cases=4, env={"PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION": "3"}):
        cases = recording.cases()
        assert 3 == len(cases["threads.work"])
        assert 3 == len({json.dumps(case, sort_keys=True) for case in cases["threads.work"]})
        assert [{"call": {"args": [1], "kwargs": {}}, "outcome": {"returned": 2}}] == cases["threads.same"]
