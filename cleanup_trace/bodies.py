"""The code of a module's functions: as compiled from its file, and without the call
that asks whether a function records.

A module instrumented in place gives each function the rewritten body of its ``def``
(:mod:`cleanup_trace.late`, :func:`function_bodies`). A function that records in its body
takes, once its recording is over, the same code with its first call (OPEN_HOOK: is my
gate open?) taken out (:func:`without_gate_call`): its later calls skip the recording
at the cost of a few tests of a local, and no module is compiled again for it.
Which globals a function's code reads, rather than only appends to (:func:`names_read`),
is read from its bytes here too.
"""
from __future__ import annotations

import dis
import sys
import types
from typing import Iterable, Iterator, Optional

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
# 3.13: its key and the call (3.11's PRECALL); inline caches (3.11 and later) are skipped.
_GATE_CALL = frozenset(dis.opmap[name] for name in ("LOAD_CONST", "CALL_FUNCTION", "PRECALL", "CALL")
                       if name in dis.opmap)
_LOAD_CONST, _NOP, _LOAD_GLOBAL = dis.opmap["LOAD_CONST"], dis.opmap["NOP"], dis.opmap["LOAD_GLOBAL"]
_JUMP_FORWARD = dis.opmap["JUMP_FORWARD"]
_EXTENDED_ARG, _CACHE = dis.opmap["EXTENDED_ARG"], dis.opmap.get("CACHE", -1)
_STORES = {dis.opmap[name]: shift for name, shift in (("STORE_FAST", 0), ("STORE_FAST_LOAD_FAST", 4),
                                                      ("STORE_FAST_STORE_FAST", 4)) if name in dis.opmap}
# LOAD_GLOBAL's argument holds the name's index shifted by one from Python 3.11 on (its
# lowest bit: push a NULL first), LOAD_ATTR's from 3.12 on (its lowest bit: load a method).
_GLOBAL_SHIFT = 1 if sys.version_info >= (3, 11) else 0
_ATTRIBUTE_SHIFT = 1 if sys.version_info >= (3, 12) else 0
_LOAD_ATTR = dis.opmap["LOAD_ATTR"]
_LOAD_METHOD = dis.opmap.get("LOAD_METHOD", -1)  # (a pseudo-instruction from 3.12: never in code)
if _LOAD_METHOD >= 256:
    _LOAD_METHOD = -1
_PROLOGUE_BYTES = 256  # the cells' set-up and RESUME, then the call and its store: far less


# Methods that change a container without telling anything of what it held (their result,
# ``None``, is what a log's ``append`` gives): a name used only through them is not read.
WRITE_ONLY_METHODS = frozenset({"append", "appendleft", "extend", "extendleft", "add", "update", "insert"})


def names_read(codes: Iterable[types.CodeType], names: frozenset) -> set:
    """Those of ``names`` (globals) that ``codes`` (a function's and its nested code) use
    other than by calling one of WRITE_ONLY_METHODS on them."""
    read: set = set()
    for code in codes:
        if names.isdisjoint(code.co_names):
            continue
        found = _instructions(code)
        for position, (operation, argument) in enumerate(found):
            if operation != _LOAD_GLOBAL:
                continue
            name = code.co_names[argument >> _GLOBAL_SHIFT]
            if name not in names:
                continue
            operation, argument = found[position + 1] if position + 1 < len(found) else (None, 0)
            attribute = code.co_names[argument >> _ATTRIBUTE_SHIFT] if operation == _LOAD_ATTR else \
                code.co_names[argument] if operation == _LOAD_METHOD else None
            if attribute not in WRITE_ONLY_METHODS:
                read.add(name)
    return read


_REBINDING = frozenset(dis.opmap[name] for name in ("STORE_GLOBAL", "DELETE_GLOBAL"))


def names_rebound(codes: Iterable[types.CodeType]) -> set:
    """The globals ``codes`` (a function's and its nested code) assign or delete
    (``global _stdtrans; _stdtrans = t.gettext``)."""
    rebound: set = set()
    for code in codes:
        if not code.co_names:
            continue
        rebound.update(code.co_names[argument] for operation, argument in _instructions(code)
                       if operation in _REBINDING)
    return rebound


def _instructions(code: types.CodeType) -> list:
    """``(operation, argument)`` of each instruction of ``code``, its ``EXTENDED_ARG``
    prefixes applied, its inline caches left out (without ``dis.get_instructions``: 0.5 ms
    a function, which bleach's 47 functions naming a table of their module paid)."""
    raw = code.co_code
    found = []
    extended = 0
    for offset in range(0, len(raw), 2):
        operation, argument = raw[offset], raw[offset + 1] | extended
        if operation == _EXTENDED_ARG:
            extended = argument << 8
            continue
        extended = 0
        if operation != _CACHE:
            found.append((operation, argument))
    return found


def _first_instructions(code: types.CodeType) -> list:
    """(offset, opcode, argument) of the code's first instructions, inline caches left out
    (read from the bytes: ``dis`` reads the whole body first, milliseconds for a large one)."""
    raw = code.co_code[:_PROLOGUE_BYTES]
    return [(offset, raw[offset], raw[offset + 1]) for offset in range(0, len(raw) - 1, 2)
            if raw[offset] != _CACHE]


def without_gate_call(code: types.CodeType) -> Optional[types.CodeType]:
    """``code`` (a body recording inside, see :mod:`cleanup_trace.inline`) with
    ``@call = OPEN_HOOK(key)`` made ``@call = None``: the instructions of the call become
    one ``LOAD_CONST None`` and a jump over ``NOP``s, so no offset moves (jumps, the
    exception table and the line table stay as they are). ``None`` when the code does
    not start as the transformer writes it: then nothing is changed."""
    instructions = _first_instructions(code)
    names = code.co_names
    start = next((index for index, (_, opcode, argument) in enumerate(instructions[:6])
                  if opcode == _LOAD_GLOBAL and (argument >> _GLOBAL_SHIFT) < len(names)
                  and names[argument >> _GLOBAL_SHIFT] == OPEN_HOOK), None)
    if start is None or (start and instructions[start - 1][1] == _EXTENDED_ARG):
        return None
    end = start + 1
    while end < len(instructions) and instructions[end][1] in _GATE_CALL:
        end += 1
    if end >= len(instructions) or instructions[end][1] not in _STORES:
        return None
    store_offset, store, argument = instructions[end]
    local = argument >> _STORES[store]
    if local >= len(code.co_varnames) or code.co_varnames[local] != CALL_LOCAL \
            or [opcode for _, opcode, _ in instructions[start + 1:end]].count(_LOAD_CONST) != 1:
        return None
    constants = code.co_consts
    none_index = next((index for index, constant in enumerate(constants) if constant is None), len(constants))
    if none_index > 255:
        return None
    if none_index == len(constants):
        constants += (None,)
    first = instructions[start][0]
    replaced = bytearray(code.co_code)
    replaced[first:store_offset] = bytes((_LOAD_CONST, none_index)) + _skip(store_offset - first - 2)
    return code.replace(co_code=bytes(replaced), co_consts=constants)


def _skip(size: int) -> bytes:
    """``size`` bytes of code that run as nothing: one forward jump over ``NOP``s (the
    call's instructions and inline caches, 13 code units on 3.11, 9 on 3.12 and 3.13: every
    call of a function whose recording is over ran them all, twice the cost of a small one)."""
    nops = bytes((_NOP, 0)) * (size // 2)
    if size < 6:
        return nops  # (one NOP or two: no slower than the jump)
    # The jump's argument counts bytes on 3.9, code units from 3.10 on, after the jump.
    over = size - 2 if sys.version_info < (3, 10) else size // 2 - 1
    return bytes((_JUMP_FORWARD, over)) + nops[2:] if over < 256 else nops


__all__ = ["function_bodies", "without_gate_call", "names_read", "names_rebound", "WRITE_ONLY_METHODS"]
