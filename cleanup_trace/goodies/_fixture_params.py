"""Parametrize marks placed under ``@fixture`` become fixture params.

pytest ignores (9.0: warns, 9.1+: fails) ``@pytest.mark.parametrize`` on a
fixture; ``@fixture`` reads those marks and turns their cartesian product
into the fixture's ``params``, each param being a ``CombinedFixtureParamValue``
that the fixture wrapper unpacks into the function's keyword arguments.
"""
from __future__ import annotations

import itertools
from typing import Any, List, Sequence, Tuple

import pytest

from . import _compat
from ._ids import id_to_str, render_values, resolve_ids
from ._lazy import LazyValue


class CombinedFixtureParamValue(object):
    """One fixture param: the value tuple of each parametrize mark."""

    __slots__ = ("argnames", "values")

    def __init__(self, argnames: Sequence[Tuple[str, ...]], values: Sequence[tuple]) -> None:
        self.argnames = argnames
        self.values = values

    def iterparams(self):
        for names, vals in zip(self.argnames, self.values):
            for n, v in zip(names, vals):
                yield n, v

    def __repr__(self) -> str:
        return "CombinedFixtureParamValue(%s)" % ", ".join("%s=%r" % nv for nv in self.iterparams())


def split_argnames(argnames: Any) -> Tuple[str, ...]:
    if isinstance(argnames, str):
        return tuple(n.strip() for n in argnames.split(",") if n.strip())
    if isinstance(argnames, (list, tuple)):
        return tuple(argnames)
    raise TypeError("argnames should be a string or a list/tuple of strings, got %r" % (argnames,))


def parse_mark(mark: Any) -> Tuple[Tuple[str, ...], list, Any]:
    """(argnames, argvalues, ids) of a ``parametrize`` mark."""
    args = list(mark.args)
    kwargs = dict(mark.kwargs)
    argnames = args.pop(0) if args else kwargs.pop("argnames")
    argvalues = args.pop(0) if args else kwargs.pop("argvalues")
    ids = kwargs.get("ids", None)
    return split_argnames(argnames), list(argvalues), ids


def value_entries(argnames: Tuple[str, ...], argvalues: Sequence[Any], ids: Any) -> List[Tuple[tuple, tuple, str]]:
    """One (values, marks, id) per argvalue, ids rendered like pytest."""
    explicit = resolve_ids(ids, [_unwrap_param(v) for v in argvalues])
    out = []
    for i, raw in enumerate(argvalues):
        parts = _compat.pytest_param_parts(raw)
        if parts is not None:
            values, marks, pid = parts
            value = values[0] if len(argnames) == 1 else tuple(values)
        else:
            value, marks, pid = raw, (), None
        if isinstance(value, LazyValue):
            marks = tuple(marks) + value.get_marks()
        if len(argnames) == 1:
            values_t: tuple = (value,)
        elif isinstance(value, LazyValue):
            values_t = tuple(value.as_tuple_items(len(argnames)))
        else:
            values_t = tuple(value)
            if len(values_t) != len(argnames):
                raise ValueError(
                    "Inconsistent number of values in parametrize: %r for argnames %r"
                    % (value, argnames)
                )
        idval = id_to_str(pid)
        if idval is None and explicit is not None:
            idval = id_to_str(explicit[i])
        if idval is None:
            if len(argnames) > 1 and isinstance(value, LazyValue):
                idval = value.get_id()
            else:
                idval = render_values(argnames, values_t, i)
        out.append((values_t, tuple(marks), idval))
    return out


def _unwrap_param(v: Any) -> Any:
    parts = _compat.pytest_param_parts(v)
    if parts is None:
        return v
    return parts[0][0] if len(parts[0]) == 1 else tuple(parts[0])


def combined_params(marks: Sequence[Any]) -> Tuple[List[Tuple[str, ...]], list]:
    """The fixture ``params`` equivalent to a stack of parametrize marks.

    ``marks`` are in pytest's storage order (the decorator closest to ``def``
    first); that first mark is the outermost loop and gives the first id part.
    """
    all_names = []
    per_mark = []
    for mark in marks:
        argnames, argvalues, ids = parse_mark(mark)
        all_names.append(argnames)
        per_mark.append(value_entries(argnames, argvalues, ids))
    params = []
    for combo in itertools.product(*per_mark):
        value = CombinedFixtureParamValue(all_names, [c[0] for c in combo])
        merged_marks = [m for c in combo for m in c[1]]
        params.append(pytest.param(value, id="-".join(c[2] for c in combo), marks=merged_marks))
    return all_names, params
