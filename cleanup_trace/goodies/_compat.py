"""The only module of the goodies that touches pytest internals.

Everything that reads a private ``_pytest`` attribute (fixture definition
objects, ``Metafunc._calls``, ``Metafunc._arg2fixturedefs``, call spec fields,
fixture-info closures) is concentrated here so that a pytest upgrade has one
place to look at.

Checked against: pytest 8.4.2 and pytest 9.2.0 (``CallSpec2`` was renamed
``CallSpec`` in 9.2; both have the fields ``params``, ``indices``,
``_arg2scope``, ``_idlist`` and ``marks``; fixture objects are
``FixtureFunctionDefinition`` since 8.4).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Sequence

import pytest
from _pytest.compat import ascii_escaped as _ascii_escaped
from _pytest.fixtures import FixtureFunctionDefinition

# Checked by the tests so that a new pytest version is noticed when it breaks us.
CHECKED_PYTEST_VERSIONS = ("8.4.2", "9.2.0")


def ascii_escaped(value: Any) -> str:
    """Escape a str/bytes value the way pytest does for test ids."""
    return _ascii_escaped(value)


# ----------------------------------------------------------------- fixtures


def is_fixture(obj: Any) -> bool:
    """True if ``obj`` is what ``@pytest.fixture`` returns."""
    return isinstance(obj, FixtureFunctionDefinition)


def fixture_name(obj: Any) -> str:
    """The name under which pytest registers the fixture object ``obj``."""
    return obj.name


def fixture_scope(obj: Any) -> str:
    """The declared scope of the fixture object ``obj`` (a callable scope
    cannot be known before collection: it is reported as "function")."""
    scope = obj._fixture_function_marker.scope
    return scope if isinstance(scope, str) else "function"


def fixture_wrapped_function(obj: Any) -> Callable[..., Any]:
    """The user function behind a fixture object."""
    return obj._get_wrapped_function()


# ------------------------------------------------------ collection internals


def metafunc_fixturedefs(metafunc: Any) -> Dict[str, Sequence[Any]]:
    """name -> FixtureDef list (closest last), as seen by this test."""
    return metafunc._arg2fixturedefs


def metafunc_initialnames(metafunc: Any) -> Sequence[str]:
    """Autouse fixture names then the test's own argnames, in pytest's order."""
    return metafunc.definition._fixtureinfo.initialnames


def fixturedef_func(fixturedef: Any) -> Any:
    return fixturedef.func


def fixturedef_argnames(fixturedef: Any) -> Sequence[str]:
    return fixturedef.argnames


def fixturedef_scope(fixturedef: Any) -> str:
    return fixturedef.scope


def get_calls(metafunc: Any) -> List[Any]:
    return metafunc._calls


def set_calls(metafunc: Any, calls: List[Any]) -> None:
    metafunc._calls = calls


def empty_callspec(template: Any) -> Any:
    """A call spec with no parameters, of the class pytest uses."""
    return type(template)()


def callspec_ids(callspec: Any) -> List[str]:
    return list(callspec._idlist)


def merge_callspecs(base: Any, step: Any, drop_id: Callable[[str], bool]) -> Any:
    """``base`` extended with the parameters, ids and marks of ``step``.

    ``step`` comes from a real ``Metafunc.parametrize`` call made on an empty
    call list, so all its fields were validated and rendered by pytest; ids
    for which ``drop_id`` is true (our empty-id sentinel) are left out.
    """
    params = dict(base.params)
    indices = dict(base.indices)
    arg2scope = dict(base._arg2scope)
    for name, value in step.params.items():
        if name in params:
            raise ValueError("duplicate parametrization of %r" % name)
        params[name] = value
        indices[name] = step.indices[name]
        arg2scope[name] = step._arg2scope[name]
    idlist = list(base._idlist) + [i for i in step._idlist if not drop_id(i)]
    return dataclasses.replace(
        base,
        params=params,
        indices=indices,
        _arg2scope=arg2scope,
        _idlist=idlist,
        marks=list(base.marks) + list(step.marks),
    )


def with_pseudo_params(base: Any, values: Dict[str, Any]) -> Any:
    """``base`` plus function-scoped parameters that add no id part (used for
    the NOT_USED / USED markers of fixtures inactive in a union branch)."""
    from _pytest.scope import Scope

    params = dict(base.params)
    indices = dict(base.indices)
    arg2scope = dict(base._arg2scope)
    for name, value in values.items():
        params[name] = value
        indices[name] = 0
        arg2scope[name] = Scope.Function
    return dataclasses.replace(base, params=params, indices=indices, _arg2scope=arg2scope)


def item_funcargs(item: Any) -> Optional[Dict[str, Any]]:
    return getattr(item, "funcargs", None)


def item_node_for_cache(request_or_item: Any) -> Any:
    """The test node behind a request (or the node itself)."""
    node = getattr(request_or_item, "node", request_or_item)
    # A SubRequest of a higher-scoped fixture still belongs to one test item.
    return getattr(request_or_item, "_pyfuncitem", node)


def pytest_param_parts(value: Any):
    """(values, marks, id) if ``value`` is a ``pytest.param(...)``, else None."""
    from _pytest.mark.structures import ParameterSet

    if isinstance(value, ParameterSet):
        return value.values, tuple(value.marks), value.id
    return None


def is_hidden_id(value: Any) -> bool:
    hidden = getattr(pytest, "HIDDEN_PARAM", None)
    return hidden is not None and value is hidden


def marks_of(obj: Any) -> List[Any]:
    """pytest marks stored on a function (``pytestmark``)."""
    marks = getattr(obj, "pytestmark", [])
    return list(marks) if isinstance(marks, list) else [marks]
