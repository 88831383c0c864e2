"""Import a library that runs ``import asyncio`` at import time without loading asyncio.

wrapt 2 (``wrapt.synchronization``, for its async locks) and structlog (``structlog.stdlib``
and ``structlog._native``, for their async loggers) import asyncio, and with it ssl and
concurrent.futures: 13 to 22 ms each time, a tenth of a small test suite's whole run, and
modules the program may never load itself. Both read ``asyncio.<name>`` only inside their
async functions, so while such a library imports, ``asyncio`` is a stand-in that imports
the real module at its first attribute read. The stand-in leaves ``sys.modules`` as soon as
the library is imported (or as soon as anything reads from it), so the program's own
``import asyncio`` gets the real one. A library imported already, or a program that has
asyncio already, is imported as usual.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any


def _no_running_loop(*_: Any) -> Any:
    raise RuntimeError("no running event loop")


class _AsyncioOnFirstUse(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name == "current_task" and "_asyncio" not in sys.modules:
            # Python 3.12's ``logging.LogRecord`` asks any asyncio in sys.modules for the
            # current task (structlog makes one at import): with asyncio never loaded, no
            # loop runs, and the real function would say so.
            return _no_running_loop
        if sys.modules.get("asyncio") is self:
            del sys.modules["asyncio"]  # (read while the library still imports: the real one from now on)
        return getattr(importlib.import_module("asyncio"), name)


def import_without_asyncio(name: str) -> Any:
    """``importlib.import_module(name)``, with asyncio loaded only when first used."""
    if name in sys.modules or "asyncio" in sys.modules:
        return importlib.import_module(name)
    stand_in = _AsyncioOnFirstUse("asyncio")
    sys.modules["asyncio"] = stand_in
    try:
        return importlib.import_module(name)
    finally:
        if sys.modules.get("asyncio") is stand_in:
            del sys.modules["asyncio"]
