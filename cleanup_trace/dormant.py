"""The recording hooks, dormant, for a process that does not record (replay, verify).

A function stored by value (a local function, a callable object's function that its name
does not lead to) keeps the code it ran with: recording in its body, reading the clock
through the clock hook. Rebuilt where nothing records, that code still names the hooks:
here they are builtins that do nothing (the gate lookup finds no gate, the clock hook
hands back what it was given). A recording process's runtime puts the real ones in place.
"""
from __future__ import annotations

import builtins
from typing import Any

from cleanup_trace.inline import OPEN_HOOK
from cleanup_trace.rewrite import CLOCK_HOOK


def _untold(value: Any, source: str) -> Any:
    return value


def install() -> None:
    """Add the dormant hooks where no hook is (never over the runtime's)."""
    for name, hook in ((OPEN_HOOK, {}.get), (CLOCK_HOOK, _untold)):
        if not hasattr(builtins, name):
            setattr(builtins, name, hook)


__all__ = ["install"]
