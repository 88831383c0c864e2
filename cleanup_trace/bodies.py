"""The code of a module's functions: as compiled from its file, and without the call
that asks whether a function records.

A module instrumented in place gives each function the rewritten body of its ``def``
(:mod:`cleanup_trace.late`, :func:`function_bodies`). A function that records in its body
takes, once its recording is over, the same code with its first call (OPEN_HOOK: is my
gate open?) taken out (:func:`without_gate_call`): its later calls skip the recording
at the cost of a few tests of a local, and no module is compiled again for it.
"""
from __future__ import annotations

import dis
import types
from typing import Iterator, Optional

from cleanup_trace.inline import CALL_LOCAL, OPEN_HOOK

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


# What may stand between OPEN_HOOK's load and the store of its answer, on Python 3.9 to
# 3.13: its key, the call (3.11's PRECALL), and the inline caches of 3.11 and later.
_GATE_CALL = frozenset({"LOAD_CONST", "CALL_FUNCTION", "PRECALL", "CALL", "CACHE"})
_LOAD_CONST, _NOP = dis.opmap["LOAD_CONST"], dis.opmap["NOP"]


def without_gate_call(code: types.CodeType) -> Optional[types.CodeType]:
    """``code`` (a body recording inside, see :mod:`cleanup_trace.inline`) with
    ``@call = OPEN_HOOK(key)`` made ``@call = None``: the instructions of the call become
    one ``LOAD_CONST None`` and ``NOP``s, so no offset moves (jumps, the exception table
    and the line table stay as they are). ``None`` when the code does not start as the
    transformer writes it: then nothing is changed."""
    instructions = list(dis.get_instructions(code))
    start = next((index for index, instruction in enumerate(instructions[:4])
                  if instruction.opname == "LOAD_GLOBAL" and instruction.argval == OPEN_HOOK), None)
    if start is None or (start and instructions[start - 1].opname == "EXTENDED_ARG"):
        return None
    end = start + 1
    while end < len(instructions) and instructions[end].opname in _GATE_CALL:
        end += 1
    store = instructions[end] if end < len(instructions) else None
    stored = store.argval[0] if store is not None and isinstance(store.argval, tuple) else getattr(store, "argval", None)
    if store is None or not store.opname.startswith("STORE_FAST") or stored != CALL_LOCAL \
            or [instruction.opname for instruction in instructions[start + 1:end]].count("LOAD_CONST") != 1:
        return None
    constants = code.co_consts
    none_index = next((index for index, constant in enumerate(constants) if constant is None), len(constants))
    if none_index > 255:
        return None
    if none_index == len(constants):
        constants += (None,)
    first, last = instructions[start].offset, store.offset
    replaced = bytearray(code.co_code)
    replaced[first:last] = bytes((_LOAD_CONST, none_index)) + bytes((_NOP, 0)) * ((last - first - 2) // 2)
    return code.replace(co_code=bytes(replaced), co_consts=constants)


__all__ = ["function_bodies", "without_gate_call"]
