"""Trap family: generators. Laziness, send/throw/close, return values, yield from."""
from __future__ import annotations

DEBUG_LOG = {"PYTESTCLEANUP_LOG_LEVEL": "DEBUG"}  # call.skipped is a debug event


def test_generators_behave_and_replay(trap) -> None:
    """Same output with and without the tool; recorded generator cases replay green."""
    recordings = trap.run("gens", min_cases=8)
    for recording in recordings:
        cases = recording.cases()
        islice = [case for case in cases["gens.naturals"]]
        # The islice'd infinite generator: exactly the 3 consumed items, left open.
        assert [2, 3] == sorted(len(case["outcome"]["generator"]["items"]) for case in islice)
        assert {"open"} == {case["outcome"]["generator"]["end"] for case in islice}
        ends = {case["outcome"]["generator"]["end"] for case in cases["gens.countdown"]}
        assert {"returned"} == ends
        assert "gens.accumulator" not in cases  # driven with send(): not replayable, so not recorded
        assert ["raised"] == [case["outcome"]["generator"]["end"] for case in cases["gens.failing"]]


def test_generator_send_is_logged_once_as_skipped(trap) -> None:
    """A generator driven with send() is skipped with one log event that says why."""
    trap.copy_app("gens")
    recording = trap.record("gens", "cli", env=DEBUG_LOG)
    skipped = [line for line in recording.events("call.skipped") if "gens.accumulator" in line]
    assert 1 == len(skipped), recording.result.errlines


def test_generator_object_keeps_its_name(trap) -> None:
    """``gen.__name__``/``__qualname__``/repr/``gi_code`` of the generator object are unchanged."""
    trap.run("gens", function="main_object_names", activations=("cli",), min_cases=1)
