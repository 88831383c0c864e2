"""wrapt, imported without importing asyncio into a program that has not.

wrapt 2's package imports ``wrapt.synchronization``, which runs ``import asyncio`` for
its async locks, and reads it only when one of its async decorators runs (see
:mod:`cleanup_trace._without_asyncio`). wrapt 1, which imports no asyncio, is imported as
usual.
"""
from __future__ import annotations

from cleanup_trace._without_asyncio import import_without_asyncio

wrapt = import_without_asyncio("wrapt")

__all__ = ["wrapt"]
