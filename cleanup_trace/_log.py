"""The tool's structured logger.

Built with ``structlog.wrap_logger`` on a private stderr logger: a library must never
call ``structlog.configure()``, which is the user's global state. Event names are stable
and dotted (``module.instrumented``, ``call.unserialisable``, ``datafile.written`` ...)
so that users can grep for them.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog

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


def _filter_by_level(logger: Any, method_name: str, event_dict: dict) -> dict:
    if _LEVELS.get(method_name.upper(), 20) < _state["level"]:
        raise structlog.DropEvent
    return event_dict


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
    return structlog.wrap_logger(
        _StderrLogger(),
        processors=[
            _filter_by_level,
            _render,
        ],
        context_class=dict,
    )


log = get_logger()
