"""Parametrize a test whose closure contains fixture unions, branch by branch.

pytest crosses every ``metafunc.parametrize`` call with all previous ones. For
a union that would cross alternatives with each other, so while the
``pytest_generate_tests`` implementations run, ``metafunc.parametrize`` is
replaced by a recorder: each call is still executed by pytest (validation,
ids, marks, direct-parametrization bookkeeping) but on an empty call list, so
it yields the call specs of that one step. Afterwards the steps are combined
per union branch (``_closure.split_closure``) and the branches concatenated.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from . import _compat
from ._closure import split_closure
from ._ids import is_empty_id
from ._registry import union_info
from ._sentinels import NOT_USED, USED


class Step(object):
    """One recorded ``parametrize`` call and the call specs it produced."""

    __slots__ = ("argnames", "calls")

    def __init__(self, argnames: List[str], calls: List[Any]) -> None:
        self.argnames = argnames
        self.calls = calls


def has_union(metafunc: Any) -> bool:
    defs = _compat.metafunc_fixturedefs(metafunc)
    for name in metafunc.fixturenames:
        fixturedefs = defs.get(name)
        if fixturedefs and union_info(_compat.fixturedef_func(fixturedefs[-1])) is not None:
            return True
    return False


def start_recording(metafunc: Any) -> List[Step]:
    steps: List[Step] = []
    real = metafunc.parametrize

    def recording_parametrize(*args: Any, **kwargs: Any) -> None:
        saved = _compat.get_calls(metafunc)
        _compat.set_calls(metafunc, [])
        try:
            real(*args, **kwargs)
            produced = _compat.get_calls(metafunc)
        finally:
            _compat.set_calls(metafunc, saved)
        names = list(produced[0].params) if produced else []
        steps.append(Step(names, produced))

    # An instance attribute shadows the method for the duration of the hook.
    metafunc.parametrize = recording_parametrize
    return steps


def stop_recording(metafunc: Any) -> None:
    try:
        del metafunc.parametrize
    except AttributeError:  # pragma: no cover
        pass


def _deps_getter(defs: Dict[str, Sequence[Any]]):
    def deps_of(name: str) -> List[str]:
        fixturedefs = defs.get(name)
        if not fixturedefs:
            return []
        deps: List[str] = []
        index = len(fixturedefs) - 1
        while index >= 0:
            argnames = _compat.fixturedef_argnames(fixturedefs[index])
            deps.extend(a for a in argnames if a != name and a not in deps)
            # An overriding fixture that requests its own name uses the
            # overridden one: collect the whole override chain (#374).
            if name not in argnames:
                break
            index -= 1
        return deps

    return deps_of


def _alternatives_getter(defs: Dict[str, Sequence[Any]]):
    def alternatives_of(name: str) -> Optional[List[str]]:
        fixturedefs = defs.get(name)
        if not fixturedefs:
            return None
        info = union_info(_compat.fixturedef_func(fixturedefs[-1]))
        return None if info is None else info.alternatives

    return alternatives_of


def apply_steps(metafunc: Any, steps: List[Step]) -> None:
    """Replace ``metafunc``'s call specs by the per-branch combination."""
    defs = _compat.metafunc_fixturedefs(metafunc)
    branches = split_closure(
        _compat.metafunc_initialnames(metafunc), _deps_getter(defs), _alternatives_getter(defs)
    )
    step_of: Dict[str, Step] = {}
    for step in steps:
        for name in step.argnames:
            step_of.setdefault(name, step)

    all_names = set()
    for names, _ in branches:
        all_names.update(names)
    in_every_branch = set.intersection(*(set(names) for names, _ in branches))

    def is_function_scoped(name: str) -> bool:
        fixturedefs = defs.get(name)
        return bool(fixturedefs) and _compat.fixturedef_scope(fixturedefs[-1]) == "function"

    template = None
    for step in steps:
        if step.calls:
            template = step.calls[0]
            break
    if template is None:
        return

    result: List[Any] = []
    for names, choices in branches:
        branch = set(names)
        calls = [_compat.empty_callspec(template)]
        applied = set()
        for name in names:
            step = step_of.get(name)
            if step is None or id(step) in applied:
                continue
            applied.add(id(step))
            sub = [step.calls[choices[name]]] if name in choices else step.calls
            calls = [_compat.merge_callspecs(c, s, is_empty_id) for c in calls for s in sub]
        # Steps about names outside the whole tree (should not happen, as
        # pytest validates argnames) are crossed with every branch.
        for step in steps:
            if id(step) not in applied and not any(n in all_names for n in step.argnames):
                applied.add(id(step))
                calls = [_compat.merge_callspecs(c, s, is_empty_id) for c in calls for s in step.calls]
        markers: Dict[str, Any] = {}
        for name in all_names:
            if name in in_every_branch:
                continue
            if name not in branch:
                if name in step_of or is_function_scoped(name):
                    for n in (step_of[name].argnames if name in step_of else [name]):
                        if n not in branch:
                            markers[n] = NOT_USED
            elif name not in step_of and is_function_scoped(name):
                markers[name] = USED
        if markers:
            calls = [_compat.with_pseudo_params(c, markers) for c in calls]
        result.extend(calls)
    _compat.set_calls(metafunc, result)
