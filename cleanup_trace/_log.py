"""The tool's structured logger.

Built with ``structlog.wrap_logger`` on a private stderr logger: a library must never
call ``structlog.configure()``, which is the user's global state. Event names are stable
and dotted (``module.instrumented``, ``call.unserialisable``, ``datafile.written`` ...)
so that users can grep for them.
"""
from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

_state: dict[str, Any] = {"level": logging.INFO}


class _StderrLogger:
    """Prints to the *current* ``sys.stderr`` (pytest's capture swaps it)."""

    def msg(self, message: str) -> None:
        try:
            print(message, file=sys.stderr, flush=True)
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
