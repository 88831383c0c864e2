"""The code of a module's functions as compiled from its file, found by qualified name.

Two uses: a module instrumented in place gives each function the rewritten body of its
``def`` (:mod:`cleanup_trace.late`), and a function that records in its body takes the
body without the recording once its recording is over, so that its later calls cost
what they cost without the tool (:func:`plain_bodies`).
"""
from __future__ import annotations

import os
import types
from typing import Iterator, Optional

from cleanup_trace import rewrite

_FUNCTION_FLAGS = 0x0001  # CO_OPTIMIZED: set for functions, never for class or module bodies


def function_bodies(code: types.CodeType) -> dict:
    """The code of every function of a compiled module and its classes, by (qualified
    name, first line): a property's getter and setter share a name."""
    return {(qualname, body.co_firstlineno): body for qualname, body in _walk(code, "")}


def _walk(code: types.CodeType, prefix: str) -> Iterator[tuple]:
    for constant in code.co_consts:
        if not isinstance(constant, types.CodeType) or constant.co_name.startswith("<"):
            continue
        qualname = prefix + constant.co_name
        if constant.co_flags & _FUNCTION_FLAGS:
            yield qualname, constant  # (functions nested in it are not instrumented)
        else:  # a class body
            yield from _walk(constant, qualname + ".")


def source_stamp(filename: Optional[str]) -> Optional[tuple]:
    """What tells that a file changed: its modification time and size."""
    try:
        status = os.stat(filename)  # type: ignore[arg-type]
    except (OSError, TypeError, ValueError):
        return None
    return (status.st_mtime_ns, status.st_size)


def plain_bodies(module_name: str, filename: str, stamp: Optional[tuple]) -> dict:
    """The module's function bodies as rewritten without recording inside (the clock and
    entropy hooks stay: they tell the recorded calls still running elsewhere), or ``{}``
    when the file changed since ``stamp`` (what it holds now is not what was imported)."""
    if stamp is None or source_stamp(filename) != stamp:
        return {}
    with open(filename, "rb") as handle:
        source = handle.read()
    tree, _ = rewrite.rewrite_module(source, filename, module_name, record_inside=False)
    return function_bodies(compile(tree, filename, "exec", dont_inherit=True))


__all__ = ["function_bodies", "plain_bodies", "source_stamp"]
