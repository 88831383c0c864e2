"""Fallback start-up hook where ``.pth`` files are not processed.

Put this directory on ``PYTHONPATH``; recording starts only if PYTESTCLEANUP_RECORD is set.
"""
try:
    import cleanup_trace.activate as _cleanup_trace_activate

    _cleanup_trace_activate.process_startup()
except Exception:  # a start-up hook must never break the interpreter
    pass
