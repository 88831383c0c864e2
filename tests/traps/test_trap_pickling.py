"""Trap family: pickling and copying instrumented functions, multiprocessing, functions as values."""
from __future__ import annotations

import json
import sys

import pytest


@pytest.mark.skipif(sys.platform == "win32", reason="fork start method")
def test_pickle_copy_and_pools_behave_and_replay(trap) -> None:
    """pickle, copy, deepcopy and fork/spawn Pool.map over instrumented functions."""
    for recording in trap.run("pickling", min_cases=4):
        cases = recording.cases()
        # Fork children inherit recording and write their own cases; spawn children do not record.
        assert {0, 1, 4, 9, 16, 25, 36, 49} >= {case["outcome"]["returned"] for case in cases["pickling.square"]}
        assert 5 >= len(cases["pickling.square"]) - len({json.dumps(c, sort_keys=True)
                                                         for c in cases["pickling.square"]}) + 5


def test_pickled_bound_method_keeps_its_instance(trap) -> None:
    """``pickle.loads(pickle.dumps(obj.method))`` and ``Pool.map(obj.method, ...)`` still bind ``obj``."""
    trap.run("pickling", function="main_bound_method", activations=("cli",), min_cases=1)


def test_functions_as_values_and_mutated_arguments(trap) -> None:
    """Lambdas and closures are pickled by value and replay; inputs are recorded before the call."""
    for recording in trap.run("funcvalues", min_cases=12):
        cases = recording.cases()
        assert [[[1, 2]], [[1, 2, 2]]] == [case["call"]["args"] for case in cases["funcvalues.append_length"]]
        assert [[1, 2, 3], []] == [case["call"]["args"][0] for case in cases["funcvalues.drain"]]
        assert [{}, "a"] == cases["funcvalues.fill"][0]["call"]["args"]
        bag_states = [case["call"]["args"][0]["items"] for case in cases["funcvalues.Bag.add"]]
        assert [[], ["x"]] == bag_states
        by_value = [case for case in cases["funcvalues.apply"] if "load_pickled" in json.dumps(case)]
        assert 1 == len(by_value)  # the closure; negate and abs are stored by name
        assert 4 == sum("load_pickled" in json.dumps(case) for case in cases["funcvalues.make_scaler"])
        assert 2 == len(cases["funcvalues.compose"])


def test_lambdas_are_recorded_by_value(trap) -> None:
    """Lambdas as arguments and return values are recorded (pickled by value) and replay green."""
    for recording in trap.run("funcvalues", function="main_lambdas", activations=("cli",), min_cases=5):
        cases = recording.cases()
        assert 2 == len(cases.get("funcvalues.apply", []))  # apply(lambda, 4), apply(add_five, 1)
        assert 1 == len(cases.get("funcvalues.make_adder", []))
        assert 1 == len(cases.get("funcvalues.compose", []))
