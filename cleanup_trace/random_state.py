"""The global random generator's state, taken at every recorded call for a fraction of a microsecond.

A recorded call that draws from the global generator replays from the state it started
from, stored only when the call changed it: the state is read as each recorded call
starts and compared as it ends. ``random.getstate()`` builds a tuple of 625 ints (15 µs
here) and comparing two of them costs nearly as much again: together a third of what
recording one call of python-stdnum's ``luhn.checksum`` cost.

CPython's generator keeps its state inside the object (``_randommodule.c``: an ``int``
index, then 624 32-bit words, right after the object header). A copy of those 2,500
bytes is one ``memcpy`` into a ``bytes`` (0.2 µs), compared by ``memcmp``. That layout
is checked once, against ``getstate()`` itself; on an interpreter where it does not hold
(another implementation, a free-threaded build's larger header), ``getstate()`` is used.
Reading never changes the generator: no number is drawn to check anything.
"""
from __future__ import annotations

import random
import struct
import sys
from typing import Any, Optional

_WORDS = 624  # Mersenne Twister's state, in 32-bit words
_RAW_SIZE = 4 + 4 * _WORDS  # the index, then the words
_UNPACK_WORDS = struct.Struct(f"={_WORDS}I")

# The generator behind ``random.random()`` and friends, taken once: a test patching
# ``random.getstate`` must not see the tool's calls.
_generator: Any = getattr(random, "_inst", None) or getattr(random.getstate, "__self__", None)
_view: Any = None  # a ctypes view of its state bytes, once the layout is confirmed
_checked = False


def _confirm_layout() -> None:
    """Use the raw bytes only if they decode to exactly what ``getstate()`` says."""
    global _view, _checked
    _checked = True
    if type(_generator) is not random.Random:
        return
    try:
        import ctypes

        view = (ctypes.c_char * _RAW_SIZE).from_address(id(_generator) + object.__basicsize__)
        if _as_state(view.raw, _generator.gauss_next) == _generator.getstate():
            _view = view
    except Exception:  # (no ctypes, or an unexpected layout: getstate() it is)
        _view = None


def _as_state(raw: bytes, gauss_next: Any) -> tuple:
    index = int.from_bytes(raw[:4], sys.byteorder, signed=True)
    return random.Random.VERSION, _UNPACK_WORDS.unpack(raw[4:]) + (index,), gauss_next


def taken() -> Optional[tuple]:
    """The generator's state now, in a form only this module reads (None: no generator)."""
    if not _checked:
        _confirm_layout()
    if _view is not None:
        return _view.raw, _generator.gauss_next
    if _generator is None:
        return None
    return None, _generator.getstate()


def changed_since(state: tuple) -> bool:
    """Has the generator moved since ``state`` was :func:`taken`?"""
    raw, rest = state
    if raw is not None:
        return _view.raw != raw or _generator.gauss_next != rest
    return _generator.getstate() != rest


def as_getstate(state: tuple) -> tuple:
    """``state`` as ``random.getstate()`` gave it then: what ``random.setstate`` takes."""
    raw, rest = state
    return _as_state(raw, rest) if raw is not None else rest


__all__ = ["taken", "changed_since", "as_getstate"]
