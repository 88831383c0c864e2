"""Trap family: failure containment. The tool's own failures never reach the user's program."""
from __future__ import annotations


# Stands in for a bug of the transformer on some module (the real transformer handles
# every module Python compiles, deep_expression's 500 nested additions included).
FAILING_TRANSFORMER = """
import cleanup_trace.rewrite as rewrite

_real = rewrite.compile_instrumented


def compile_instrumented(source, filename, module_name):
    if module_name == "deep_expression":
        raise RecursionError("maximum recursion depth exceeded (simulated)")
    return _real(source, filename, module_name)


rewrite.compile_instrumented = compile_instrumented
"""


def test_untransformable_module_is_imported_unmodified_with_one_warning(trap) -> None:
    """A module the transformer cannot handle runs unchanged; one warning names it; nothing recorded."""
    trap.copy_app("deep_expression")
    plain = trap.plain("deep_expression")
    (trap.pytester.path / "sitecustomize.py").write_text(FAILING_TRANSFORMER, encoding="utf-8")
    for activation in ("cli", "recorder"):
        recording = trap.record("deep_expression", activation)
        assert (0, plain.outlines) == (recording.result.ret, recording.stdout_lines)
        warnings = recording.events("module.not_instrumented")
        assert 1 == len(warnings), recording.result.errlines
        assert "module=deep_expression" in warnings[0] and "RecursionError" in warnings[0]
        assert {} == recording.cases()


def test_a_module_too_deep_for_a_walk_of_its_expressions_is_instrumented(trap) -> None:
    """Only statements are walked to find functions: 500 nested additions are no obstacle."""
    for recording in trap.run("deep_expression"):
        assert recording.cases()["deep_expression.total"][0]["outcome"] == {"returned": 500}
        assert not recording.events("module.not_instrumented")


def test_tool_error_disables_one_function_with_one_log_event(trap) -> None:
    """The tool fails on an argument (a __getstate__ raising a BaseException): the call proceeds, one event."""
    for recording in trap.run("toolerror", min_cases=1, allow_errors=True):
        disabled = [line.split(" function=")[1].split()[0] for line in recording.events("function.disabled")]
        # Each function the tool fails on is disabled once (field: 4 calls, 1 event).
        assert ["toolerror.Record.__getattr__", "toolerror.Record.__init__", "toolerror.field"] == sorted(disabled)
        assert "toolerror.field" not in recording.cases()
        assert "toolerror.main" in recording.cases()
