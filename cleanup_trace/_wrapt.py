"""wrapt, imported without importing asyncio into a program that has not.

wrapt 2's package imports ``wrapt.synchronization``, which runs ``import asyncio`` for
its async locks: asyncio, ssl and concurrent.futures, 13-16 ms at every recording start
(a tenth of a small test suite's whole run) and modules the program may never load
itself. That module only reads ``asyncio.<name>`` when one of its async decorators runs,
so while wrapt imports, ``asyncio`` is a stand-in that imports the real module at its
first attribute read. The stand-in leaves ``sys.modules`` as soon as wrapt is imported
(or as soon as anything reads from it), so the program's own ``import asyncio`` gets the
real one. wrapt 1, which imports no asyncio, is imported as usual.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class _AsyncioOnFirstUse(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if sys.modules.get("asyncio") is self:
            del sys.modules["asyncio"]  # (read while wrapt still imports: the real one from now on)
        return getattr(importlib.import_module("asyncio"), name)


def _import_wrapt() -> Any:
    if "wrapt" in sys.modules or "asyncio" in sys.modules:
        return importlib.import_module("wrapt")
    stand_in = _AsyncioOnFirstUse("asyncio")
    sys.modules["asyncio"] = stand_in
    try:
        return importlib.import_module("wrapt")
    finally:
        if sys.modules.get("asyncio") is stand_in:
            del sys.modules["asyncio"]


wrapt = _import_wrapt()

__all__ = ["wrapt"]
