"""The tool's structured logger.

Built with ``structlog.wrap_logger`` on a private stderr logger: a library must never
call ``structlog.configure()``, which is the user's global state. structlog is imported at
the first event at or above the level (a recording process which logs nothing must not pay
for it), without asyncio (see :mod:`cleanup_trace._without_asyncio`). Event names are stable
and dotted (``module.instrumented``, ``call.unserialisable``, ``datafile.written`` ...)
so that users can grep for them.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

_state: dict[str, Any] = {"level": logging.INFO}


class _StderrLogger:
    """Writes to the process's real standard error.

    Not to the current ``sys.stderr``: a program (or a test using ``capsys``/``capfd``)
    that swaps it must not find the tool's lines in its own output. ``claim_stderr`` keeps
    a duplicate of file descriptor 2 taken when recording starts.
    """

    def msg(self, message: str) -> None:
        data = (message + "\n").encode("utf-8", "replace")
        descriptor = _state.get("fd")
        try:
            if descriptor is not None:
                os.write(descriptor, data)
            else:
                stream = sys.__stderr__ or sys.stderr
                stream.write(message + "\n")
                stream.flush()
        except Exception:  # a closed stderr must never break the user's program
            pass

    log = debug = info = warning = warn = error = critical = exception = msg


def _render(logger: Any, method_name: str, event_dict: dict) -> str:
    """``cleanup_trace [warning] event key=value ...``: one line, greppable."""
    event = event_dict.pop("event", "")
    fields = " ".join(f"{key}={value!r}" if isinstance(value, str) and " " in value
                      else f"{key}={value}" for key, value in event_dict.items())
    return f"cleanup_trace [{method_name}] {event} {fields}".rstrip()


def claim_stderr() -> None:
    """Keep a duplicate of fd 2 as it is now (before any capture swaps it)."""
    if _state.get("fd") is None:
        try:
            _state["fd"] = os.dup(2)
            if hasattr(os, "set_inheritable"):
                os.set_inheritable(_state["fd"], False)
        except OSError:
            _state["fd"] = None


def set_level(level_name: str) -> None:
    """Set the minimum level of the tool's log events (``PYTESTCLEANUP_LOG_LEVEL``)."""
    _state["level"] = _LEVELS[level_name.upper()]


def is_enabled_for(level_name: str) -> bool:
    return _LEVELS[level_name.upper()] >= _state["level"]


def get_logger() -> Any:
    from cleanup_trace._without_asyncio import import_without_asyncio

    # (structlog imports asyncio for its async loggers: 42 ms instead of 15 after pytest's imports)
    structlog = import_without_asyncio("structlog")
    return structlog.wrap_logger(_StderrLogger(), processors=[_render], context_class=dict)


class _Log:
    """``log.warning("event", key=value)``: level checked first, structlog built on first use."""

    def __init__(self) -> None:
        self._logger: Any = None
        self._building = False

    def _emit(self, method_name: str, event: str, **fields: Any) -> None:
        if _LEVELS.get(method_name.upper(), 20) < _state["level"]:
            return
        try:
            self._emit_now(method_name, event, **fields)
        except Exception:
            # Never into the program: an event at its recursion limit (structlog imported
            # there failed half-way), a field whose repr raises...
            pass

    def _emit_now(self, method_name: str, event: str, **fields: Any) -> None:
        if self._logger is None:
            if self._building:
                # An event while structlog itself imports (our import hook sees its
                # imports): rendered the same way, without it.
                _StderrLogger().msg(_render(None, method_name, {"event": event, **fields}))
                return
            self._building = True
            try:
                self._logger = get_logger()
            finally:
                self._building = False
        getattr(self._logger, method_name)(event, **fields)

    def debug(self, event: str, **fields: Any) -> None:
        self._emit("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self._emit("error", event, **fields)

    def critical(self, event: str, **fields: Any) -> None:
        self._emit("critical", event, **fields)


log = _Log()
