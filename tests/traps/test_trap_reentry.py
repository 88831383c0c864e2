"""Trap family: recursion and re-entrancy of the tool through the user's own dunder methods."""
from __future__ import annotations


def test_dunders_called_by_the_tool_are_not_recorded(trap) -> None:
    """Serialising self runs the instrumented __getstate__/__eq__: no recursion, no extra cases."""
    for recording in trap.run("reentry", min_cases=6):
        cases = recording.cases()
        # The user called __repr__ once, __eq__ on 2 distinct top-level pairs (nested ones repeat
        # fingerprints), and pickle called __getstate__ once per node: nothing from the tool's own use.
        assert 1 == len(cases["reentry.Node.__repr__"])
        assert {"a"} == {case["call"]["args"][0]["name"] for case in cases["reentry.Node.__eq__"]
                         if "name" in case["call"]["args"][0]} | {"a"}
        assert 4 >= len(cases.get("reentry.Node.__getstate__", []))
        assert "reentry.Node.label" in cases
