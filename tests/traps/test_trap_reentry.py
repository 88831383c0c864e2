"""Trap family: recursion and re-entrancy of the tool through the user's own dunder methods."""
from __future__ import annotations


def test_dunders_called_by_the_tool_are_not_recorded(trap) -> None:
    """Serialising self runs the instrumented __getstate__/__eq__: no recursion, no extra cases."""
    for recording in trap.run("reentry", min_cases=6):
        cases = recording.cases()
        # pickle.dumps(tree) called __getstate__ once per node, after the rename: those are the only
        # recorded calls. The tool's own calls (serialising self for size(), label()...) would add "b".
        names = {case["call"]["args"][0]["py/state"]["name"] for case in cases["reentry.Node.__getstate__"]}
        assert {"a", "bb", "c", "d"} == names
        assert {"a", "b", "c", "d", "bb"} == {case["call"]["args"][0]["py/state"]["name"]
                                              for case in cases["reentry.Node.__repr__"]}
        assert {"reentry.Node.label", "reentry.Node.size", "reentry.Node.__eq__"} <= set(cases)
