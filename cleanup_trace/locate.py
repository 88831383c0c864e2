"""Find a recorded function again from (module, qualified name, role).

Shared by the recorder (is this function reachable by name, so replayable?) and by
replay (what to call). Class attributes are read from ``__dict__`` to see descriptors
(``staticmethod``, ``classmethod``, ``property``, ``cached_property``) instead of what they
bind to; then ``__wrapped__`` is followed down to the innermost layer, the one that was
recorded (outer decorators such as ``lru_cache`` are not replayed through).
"""
from __future__ import annotations

import functools
import sys
import types
from typing import Any, Callable, Optional

_MISSING = object()


def module_attribute(module: Any, name: str) -> Any:
    """A module's attribute read from its ``__dict__`` (``None`` if absent): a lazily
    loaded module (``importlib.util.LazyLoader``) runs its import on any other read."""
    try:
        return object.__getattribute__(module, "__dict__").get(name)
    except Exception:
        return None


def of_a_local_class(value: Any) -> bool:
    """Is ``value`` an instance of a class made inside a function (no importable name)?"""
    kind = type(value)
    return "<locals>" in kind.__qualname__ and not issubclass(kind, (type, types.FunctionType))


def resolve_dotted(name: str) -> Any:
    """What ``module.qualname`` names, the module being the longest loaded prefix
    (``None`` when no prefix is loaded or the path leads nowhere)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module = find_module(".".join(parts[:cut]))
        if module is not None:
            found = attribute_path(module, ".".join(parts[cut:]))
            return None if found is _MISSING else found
    return None


def find_module(module_name: str) -> Optional[types.ModuleType]:
    """The loaded module, also when it runs as ``__main__`` (``python -m``, runpy)."""
    module = sys.modules.get(module_name)
    if module is not None:
        return module
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name == module_name:
        return main
    return None


def private_name(klass: type, name: str) -> str:
    """``name`` as a class statement stores it (``__cache`` of ``_Parser``: ``_Parser__cache``)."""
    if name.startswith("__") and not name.endswith("__"):
        return f"_{klass.__name__.lstrip('_')}{name}"
    return name


def attribute_path(root: Any, qualname: str) -> Any:
    """Walk ``qualname`` from ``root``; class members come raw from ``__dict__``."""
    target = root
    for part in qualname.split("."):
        if isinstance(target, type):
            value = _MISSING
            for klass in target.__mro__:
                if part in klass.__dict__:
                    value = klass.__dict__[part]
                    break
            if value is _MISSING and private_name(target, part) != part:
                value = target.__dict__.get(private_name(target, part), _MISSING)
        else:
            value = getattr(target, part, _MISSING)
        if value is _MISSING:
            return _MISSING
        target = value
    return target


def _unwrap_descriptor(value: Any, role: str) -> Any:
    if isinstance(value, (staticmethod, classmethod)):
        return value.__func__
    if isinstance(value, property):
        return {"setter": value.fset, "deleter": value.fdel}.get(role, value.fget)
    if isinstance(value, functools.cached_property):
        return value.func
    if isinstance(value, functools.singledispatchmethod):
        return value.func
    return value


def innermost(value: Any, stop: Callable[[Any], bool] | None = None) -> Any:
    """Follow ``__wrapped__`` to the bottom, or to the first layer where ``stop`` is true."""
    seen = set()
    while True:
        if stop is not None and stop(value):
            return value
        if id(value) in seen or type(value) is types.MethodType:
            # (A bound method's ``__wrapped__`` is its function's: calling one is not
            # calling the other. pytz's ``UTC = utc = UTC()`` makes ``pytz.UTC.localize``
            # a method of the instance.)
            return value
        seen.add(id(value))
        try:
            inner = getattr(value, "__wrapped__", _MISSING)
        except Exception:  # a user's __getattr__ may raise anything
            inner = _MISSING
        if inner is _MISSING or inner is None:
            return value
        value = _unwrap_descriptor(inner, "")


def locate(module: Any, qualname: str, role: str = "") -> Any:
    """The descriptor-free object at ``module.qualname`` (``None`` when it is not there)."""
    value = attribute_path(module, qualname)
    if value is _MISSING:
        return None
    return _unwrap_descriptor(value, role)


def reaches(module: Any, qualname: str, role: str, target: Any) -> bool:
    """Does following ``module.qualname`` and its ``__wrapped__`` chain lead to ``target``?"""
    start = locate(module, qualname, role)
    if start is None:
        return False
    return innermost(start, stop=lambda layer: layer is target) is target
