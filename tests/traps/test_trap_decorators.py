"""Trap family: decorated functions. The recording layer is innermost, outer decorators work."""
from __future__ import annotations

DEBUG_LOG = {"PYTESTCLEANUP_LOG_LEVEL": "DEBUG"}  # call.skipped is a debug event


def test_decorators_behave_and_replay(trap) -> None:
    """wraps, lru_cache (cache_info/cache_clear), contextmanager, singledispatch, cached_property."""
    for recording in trap.run("decos", min_cases=15):
        cases = recording.cases()
        assert {"decos.double", "decos.fib", "decos.slow_square", "decos.show",
                "decos.Formatter.fmt", "decos.Report.total", "decos.with_default"} <= set(cases)
        # lru_cache sits outside the recording layer: only cache misses reach it.
        assert [1, 2, 3] == sorted(case["call"]["args"][0] for case in cases["decos.slow_square"])[:3]
        # Only calls dispatched to the base implementation reach the recorded base function.
        assert {"s", "a", 2.5} == {case["call"]["args"][0] for case in cases["decos.show"]}
        # A context manager's generator is driven by the with block: not instrumented
        # (its block runs between the yield and what follows, and replay has no block).
        assert "decos.tag" not in cases and "decos.suppressing" not in cases
        # Registered implementations are skipped at transform time.
        assert not any(name.startswith("decos._") for name in cases)


def test_unreachable_functions_are_skipped_with_a_reason(trap) -> None:
    """greet (wrapped in a Command) and handler (in a registry) cannot be replayed by name."""
    trap.copy_app("decos")
    recording = trap.record("decos", "cli", env=DEBUG_LOG)
    skipped = " ".join(recording.events("call.skipped"))
    assert "function=decos.greet reason='not importable by its qualified name'" in skipped
    assert "function=decos.handler reason='not importable by its qualified name'" in skipped
    assert "decos.greet" not in recording.cases()
