"""Start-up activation for staging runs: ``PYTESTCLEANUP_RECORD=1 python app.py``.

The installed ``cleanup_trace.pth`` (and the documented ``sitecustomize`` fallback) call
:func:`process_startup` at interpreter start when ``PYTESTCLEANUP_RECORD`` is set. It is
idempotent (a ``.pth`` can be processed twice) and never raises: an exception here would
print at every start of every Python program in the environment.
"""
from __future__ import annotations

import sys

_started = False


def process_startup() -> bool:
    """Start recording for this process if the environment asks for it; True if it did."""
    global _started
    if _started:
        return False
    try:
        from cleanup_trace.config import ConfigError, Settings

        try:
            settings = Settings.from_env()
        except ConfigError as error:
            print(f"cleanup_trace: not recording: {error}", file=sys.stderr)
            return False
        if not settings.record:
            return False
        _started = True
        from cleanup_trace.recorder import Recorder

        recorder = Recorder(settings)
        recorder.started_with_the_process = True
        recorder.start()
        return True
    except Exception as error:  # never break interpreter start-up
        try:
            print(f"cleanup_trace: not recording: {type(error).__name__}: {error}", file=sys.stderr)
        except Exception:
            pass
        return False

