"""``identity(obj)``: what ``id(obj)`` tells, without the audit event.

Every call of ``id()`` raises the ``builtins.id`` audit event, and while recording, the
tool's own audit hook (``runtime._audit``) hears each one as a call of Python: ~0.3 µs,
several times the call itself. The tool numbers every object of every value it stores,
decodes or compares by identity: a recording of tomlkit's suite called ``id()`` 720,000
times, markdown's 520,000.

CPython's ``object.__hash__`` is the object's address rotated by four bits
(``_Py_HashPointer``), a one-to-one function of it: as unique among live objects as
``id()``, and no event. It is used only when that formula is verified here, at import;
else ``identity`` is ``id``. The keys it gives are not ``id()`` values: a table is keyed
by one or the other throughout.
"""
from __future__ import annotations

import struct
from typing import Any, Callable

_BITS = 8 * struct.calcsize("P")


def _rotated_address(address: int) -> int:
    """``_Py_HashPointer``: the address rotated right by four bits, as a signed hash."""
    mask = (1 << _BITS) - 1
    rotated = ((address >> 4) | (address << (_BITS - 4))) & mask
    if rotated >= 1 << (_BITS - 1):
        rotated -= 1 << _BITS
    return -2 if rotated == -1 else rotated


def _cheapest_identity() -> Callable[[Any], int]:
    hash_of_address = object.__hash__
    probes = [object(), [], {}, set(), 1.5, "text", None, type, struct, _rotated_address]
    try:
        if all(hash_of_address(probe) == _rotated_address(id(probe)) for probe in probes):
            return hash_of_address
    except Exception:  # (another interpreter)
        pass
    return id


identity: Callable[[Any], int] = _cheapest_identity()
