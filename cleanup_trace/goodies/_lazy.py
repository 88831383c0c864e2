"""``lazy_value``: a parameter value computed at test setup, not at import.

The getter is called at most once per test node (the result is cached
against the node, weakly, so a value never leaks to another test).
"""
from __future__ import annotations

import functools
import weakref
from typing import Any, Callable, Sequence

from . import _compat
from ._registry import STATE

__all__ = ["lazy_value", "is_lazy"]


def _getter_id(getter: Callable[..., Any]) -> str:
    if isinstance(getter, functools.partial):
        args = [repr(a) for a in getter.args]
        args += ["%s=%r" % (k, v) for k, v in getter.keywords.items()]
        return "%s(%s)" % (_getter_id(getter.func), ", ".join(args))
    return getattr(getter, "__name__", str(getter))


class _Lazy(object):
    """Base of everything that resolves at setup time."""

    def get_id(self) -> str:
        raise NotImplementedError

    def get(self, request_or_item: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return "%s(%s)" % (type(self).__name__, self.get_id())


class LazyValue(_Lazy):
    """What ``lazy_value(...)`` returns."""

    def __init__(self, valuegetter: Callable[[], Any], id: Any = None, marks: Any = ()) -> None:
        if not callable(valuegetter):
            raise TypeError("lazy_value: `valuegetter` should be a callable, got %r" % (valuegetter,))
        self.valuegetter = valuegetter
        self._id = id
        if not isinstance(marks, (list, tuple, set)):
            marks = (marks,)
        self._marks = tuple(marks)
        self._cache_node: Any = None
        self._cache_value: Any = None
        STATE.lazies_created = True

    def get_marks(self) -> tuple:
        """``marks=`` plus the pytest marks decorating the getter itself."""
        return self._marks + tuple(_compat.marks_of(self.valuegetter))

    def get_id(self) -> str:
        return str(self._id) if self._id is not None else _getter_id(self.valuegetter)

    def get(self, request_or_item: Any = None) -> Any:
        node = _compat.item_node_for_cache(request_or_item) if request_or_item is not None else None
        if node is not None and self._cache_node is not None and self._cache_node() is node:
            return self._cache_value
        value = self.valuegetter()
        if node is not None:
            try:
                self._cache_node = weakref.ref(node)
                self._cache_value = value
            except TypeError:  # pragma: no cover - nodes are weak-referenceable
                pass
        return value

    def as_tuple_items(self, n: int) -> list:
        """Stand-ins for the ``n`` items of a lazy tuple (several argnames)."""
        return [LazyTupleItem(self, i) for i in range(n)]

    def __str__(self) -> str:
        return self.get_id()


class LazyTupleItem(_Lazy):
    """Item ``i`` of the tuple a ``LazyValue`` will return."""

    def __init__(self, host: LazyValue, item: int) -> None:
        self.host = host
        self.item = item

    def get_id(self) -> str:
        return "%s[%d]" % (self.host.get_id(), self.item)

    def get(self, request_or_item: Any = None) -> Any:
        return self.host.get(request_or_item)[self.item]

    def __str__(self) -> str:
        return self.get_id()


def lazy_value(valuegetter: Callable[[], Any], id: Any = None, marks: Any = ()) -> LazyValue:
    """A parameter value computed by ``valuegetter()`` when the test is set up.

    ``id`` defaults to the getter's ``__name__``; ``marks`` (and marks put on
    the getter itself) are applied to that parameter by ``@parametrize``.
    """
    return LazyValue(valuegetter, id=id, marks=marks)


def is_lazy(value: Any) -> bool:
    """True for ``lazy_value`` objects (and items of a lazy tuple)."""
    return isinstance(value, _Lazy)


def resolve(value: Any, request_or_item: Any) -> Any:
    """The real value of a parameter: lazies resolved, also inside tuples."""
    if isinstance(value, _Lazy):
        return value.get(request_or_item)
    if type(value) is tuple and any(isinstance(v, _Lazy) for v in value):
        return tuple(resolve(v, request_or_item) for v in value)
    return value


def resolve_all(values: Sequence[Any], request_or_item: Any) -> list:
    return [resolve(v, request_or_item) for v in values]
