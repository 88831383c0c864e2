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
    root = split_closure(
        _compat.metafunc_initialnames(metafunc), _deps_getter(defs), _alternatives_getter(defs)
    )
    template = next((s.calls[0] for s in steps if s.calls), None)
    if template is None:
        return
    step_of: Dict[str, Step] = {}
    for step in steps:
        for name in step.argnames:
            step_of.setdefault(name, step)
    leaves = root.leaves()
    all_names = set().union(*leaves)
    in_every_branch = set.intersection(*(set(leaf) for leaf in leaves))
    # Steps about names outside the whole tree (cannot normally happen, as
    # pytest validates argnames) are crossed with every branch.
    orphans = [s for s in steps if not any(n in all_names for n in s.argnames)]

    def is_function_scoped(name: str) -> bool:
        fixturedefs = defs.get(name)
        return bool(fixturedefs) and _compat.fixturedef_scope(fixturedefs[-1]) == "function"

    def cross(calls: List[Any], sub: List[Any]) -> List[Any]:
        return [_compat.merge_callspecs(c, s, is_empty_id) for c in calls for s in sub]

    def markers_for(branch: set) -> Dict[str, Any]:
        markers: Dict[str, Any] = {}
        for name in all_names - in_every_branch:
            if name not in branch:
                if name in step_of:
                    markers.update((n, NOT_USED) for n in step_of[name].argnames if n not in branch)
                elif is_function_scoped(name):
                    markers[name] = NOT_USED
            elif name not in step_of and is_function_scoped(name):
                markers[name] = USED
        return markers

    def visit(node: Any, calls: List[Any], path: List[str], applied: set) -> List[Any]:
        applied = set(applied)
        for name in node.names:
            step = step_of.get(name)
            if name == node.split or step is None or id(step) in applied:
                continue
            applied.add(id(step))
            calls = cross(calls, step.calls)
        path = path + node.names
        if node.split is None:
            for step in orphans:
                calls = cross(calls, step.calls)
            markers = markers_for(set(path))
            return [_compat.with_pseudo_params(c, markers) for c in calls] if markers else calls
        union_step = step_of.get(node.split)
        out: List[Any] = []
        # Parent call first, then each alternative: ids stay grouped by prefix.
        for call in calls:
            for index, child in enumerate(node.children):
                sub = [call] if union_step is None else cross([call], [union_step.calls[index]])
                out.extend(visit(child, sub, path, applied | {id(union_step)}))
        return out

    _compat.set_calls(metafunc, visit(root, [_compat.empty_callspec(template)], [], set()))
