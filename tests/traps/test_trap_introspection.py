"""Trap family: inspect answers, attributes, source and traceback lines of instrumented functions."""
from __future__ import annotations

import pytest


def test_introspection_is_unchanged(trap) -> None:
    """signature, is*function, names, docs, __wrapped__, getsource, co_firstlineno, traceback lines."""
    for recording in trap.run("introspect", min_cases=10):
        cases = recording.cases()
        assert {"introspect.fails", "introspect.calls_fails", "introspect.Klass.method",
                "introspect.documented"} <= set(cases)
        [raised] = [case["outcome"] for case in cases["introspect.fails"] if "raised" in case["outcome"]]
        assert {"raised": {"type": "builtins.ValueError", "message": "bad 3"}} == raised


def test_function_dict_is_the_functions_own(trap) -> None:
    """``vars(fn)`` is the function's dict; ``functools.wraps`` copies attributes set by decorators."""
    trap.run("introspect", function="main_function_attributes", activations=("cli",))


def test_identity_once_budgets_are_full(trap) -> None:
    """Wrappers nobody else holds go back (``type()`` is ``function`` again); held ones stay, identities hold."""
    trap.copy_app("identity_lib")
    for recording in trap.run("identity", min_cases=10):
        cases = recording.cases()
        assert 5 == len(cases["identity_lib.alone"])
        assert 5 == len(cases["identity_lib.shared"])
        assert 5 == len(cases["identity_lib.in_partial"])
