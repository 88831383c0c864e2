"""Where generated fixtures live: the caller's module namespace.

pytest discovers fixtures by scanning module attributes, so every fixture the
goodies create on the user's behalf is set as an attribute of the module whose
code called us (found by walking the stack past our own frames).
"""
from __future__ import annotations

import keyword
import re
import sys
import warnings
from typing import Any, Dict

_OWN_PREFIX = __name__.rsplit(".", 1)[0] + "."


def caller_namespace() -> Dict[str, Any]:
    """Globals of the first frame that is not inside the goodies package."""
    frame = sys._getframe(1)
    while frame is not None:
        modname = frame.f_globals.get("__name__", "")
        if not (modname + ".").startswith(_OWN_PREFIX):
            return frame.f_globals
        frame = frame.f_back
    raise RuntimeError("could not find the calling module")  # pragma: no cover


def _module_label(namespace: Dict[str, Any]) -> str:
    return str(namespace.get("__name__", "?"))


def register(namespace: Dict[str, Any], name: str, obj: Any) -> None:
    """Publish a user-named fixture; a different existing symbol is replaced
    with a warning because the user explicitly chose that name."""
    existing = namespace.get(name, None)
    if name in namespace and existing is not obj:
        warnings.warn(
            "A symbol named %r already exists in module %s. Overriding symbol %s in"
            " module %s" % (name, _module_label(namespace), name, _module_label(namespace)),
            UserWarning,
            stacklevel=2,
        )
    namespace[name] = obj


def to_identifier(name: str) -> str:
    """A valid python identifier close to ``name`` (warns when it changes)."""
    if name.isidentifier() and not keyword.iskeyword(name):
        return name
    new_name = re.sub(r"\W", "_", name)
    if not new_name or new_name[0].isdigit() or keyword.iskeyword(new_name):
        new_name = "_" + new_name
    warnings.warn(
        "Name %r is not a valid python identifier: using %r instead" % (name, new_name),
        UserWarning,
        stacklevel=3,
    )
    return new_name


def unique_name(namespace: Dict[str, Any], name: str) -> str:
    """``name``, or ``name_1``, ``name_2``... for generated names, so that a
    generated fixture never silently replaces a user symbol."""
    name = to_identifier(name)
    if name not in namespace:
        return name
    i = 1
    while "%s_%d" % (name, i) in namespace:
        i += 1
    return "%s_%d" % (name, i)
