"""``fixture_union``: a fixture taking in turn the values of other fixtures.

The union fixture is parametrized by one ``UnionFixtureAlternative`` per
alternative; the plugin (see ``_generate``) then splits the test's closure so
that alternatives are never crossed with each other.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, List, Optional, Sequence

import pytest

from . import _compat
from ._ids import id_to_str, resolve_ids
from ._names import caller_namespace, register
from ._registry import STATE, UNION_ATTR
from ._sentinels import NOT_USED
from ._wrapping import REQUEST, new_function

__all__ = ["fixture_union", "UnionFixtureAlternative", "UnionIdMakers"]


class UnionFixtureAlternative(object):
    """The parameter of a union fixture: which alternative is active."""

    def __init__(self, union_name: str, alternative_name: str, alternative_index: int) -> None:
        self.union_name = union_name
        self.alternative_name = alternative_name
        self.alternative_index = alternative_index

    def get_alternative_id(self) -> str:
        return self.alternative_name

    def __str__(self) -> str:
        return "%s/%s/%s" % (self.union_name, self.alternative_index, self.alternative_name)

    def __repr__(self) -> str:
        return "%s(union_name=%s, alternative_index=%s, alternative_name=%s)" % (
            type(self).__name__, self.union_name, self.alternative_index, self.alternative_name)


class UnionIdMakers(object):
    """The ``idstyle`` values: how an alternative shows in the test id."""

    @staticmethod
    def nostyle(alt: UnionFixtureAlternative) -> str:
        return alt.get_alternative_id()

    @staticmethod
    def compact(alt: UnionFixtureAlternative) -> str:
        return "/%s" % alt.get_alternative_id()

    @staticmethod
    def explicit(alt: UnionFixtureAlternative) -> str:
        return "%s/%s" % (alt.union_name, alt.get_alternative_id())

    @classmethod
    def get(cls, style: Any) -> Callable[[Any], str]:
        if style is None or style == "nostyle":
            return cls.nostyle
        if callable(style):
            return style
        if style == "compact":
            return cls.compact
        if style == "explicit":
            return cls.explicit
        raise ValueError("Unknown style: %r" % (style,))


class UnionInfo(object):
    """Attached to the union fixture function; read by the plugin."""

    __slots__ = ("name", "alternatives")

    def __init__(self, name: str, alternatives: Sequence[str]) -> None:
        self.name = name
        self.alternatives = list(alternatives)


def alternative_name_of(item: Any) -> str:
    if isinstance(item, str):
        return item
    if _compat.is_fixture(item):
        return _compat.fixture_name(item)
    raise TypeError(
        "fixture_union: alternatives should be fixtures or fixture names, got %r" % (item,)
    )


def create_union(
    namespace: dict,
    name: str,
    alternatives: Sequence[Any],
    ids: Optional[Sequence[Any]],
    marks: Sequence[Sequence[Any]],
    scope: str,
    autouse: bool,
    hook: Optional[Callable[[Any], Any]],
    kwargs: dict,
    register_it: bool = True,
) -> Any:
    """Build the union fixture from ready alternative objects (shared by
    ``fixture_union`` and ``@parametrize``)."""
    unique_alts: List[str] = []
    for alt in alternatives:
        if alt.alternative_name not in unique_alts:
            unique_alts.append(alt.alternative_name)

    def body(kw: dict) -> Any:
        param = getattr(kw[REQUEST], "param", None)
        if param is NOT_USED:
            return NOT_USED
        return kw[param.alternative_name]

    func = new_function(name, unique_alts + [REQUEST], body, module=namespace.get("__name__"))
    setattr(func, UNION_ATTR, UnionInfo(name, [a.alternative_name for a in alternatives]))
    STATE.unions_created = True
    if hook is not None:
        func = hook(func)
    params = [
        pytest.param(alt, id=(id_to_str(i) if i is not None else None), marks=m)
        for alt, i, m in zip(alternatives, ids if ids is not None else [None] * len(alternatives), marks)
    ]
    fix = pytest.fixture(scope=scope, autouse=autouse, name=name, params=params, **kwargs)(func)
    if register_it:
        register(namespace, name, fix)
    return fix


def fixture_union(
    name: str,
    fixtures: Any,
    scope: str = "function",
    idstyle: Any = "compact",
    ids: Any = None,
    unpack_into: Any = None,
    autouse: bool = False,
    hook: Optional[Callable[[Any], Any]] = None,
    **kwargs: Any,
) -> Any:
    """A fixture named ``name`` that takes all values of each fixture of
    ``fixtures`` in turn (never crossing them). Registered in the caller's
    module and returned."""
    namespace = caller_namespace()
    if not isinstance(fixtures, (list, tuple, set)):
        raise TypeError("fixture_union: the `fixtures` argument should be a tuple, set or list")
    fixtures = list(fixtures)
    if len(fixtures) == 0:
        raise ValueError("Empty fixture unions are not permitted")
    id_maker = UnionIdMakers.get(idstyle)

    alternatives, custom_ids, marks = [], [], []
    seen = set()
    for i, item in enumerate(fixtures):
        parts = _compat.pytest_param_parts(item)
        if parts is not None:
            (item,), item_marks, item_id = parts[0][:1], parts[1], parts[2]
        else:
            item_marks, item_id = (), None
        alt_name = alternative_name_of(item)
        if alt_name in seen:
            warnings.warn(
                "Creating a fixture union %r where two alternatives are the same fixture %r."
                % (name, alt_name),
                UserWarning,
                stacklevel=2,
            )
        seen.add(alt_name)
        alternatives.append(UnionFixtureAlternative(name, alt_name, i))
        custom_ids.append(item_id)
        marks.append(item_marks)

    explicit = resolve_ids(ids, alternatives)
    final_ids = []
    for i, alt in enumerate(alternatives):
        if custom_ids[i] is not None:  # pytest.param(id=...) always wins
            final_ids.append(custom_ids[i])
        elif explicit is not None:
            final_ids.append(explicit[i])
        else:
            final_ids.append(id_maker(alt))

    fix = create_union(namespace, name, alternatives, final_ids, marks, scope, autouse, hook, kwargs)
    if unpack_into is not None:
        from ._fixture import _unpack

        _unpack(namespace, unpack_into, name, "function", False, False, hook)
    return fix
