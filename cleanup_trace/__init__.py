"""cleanup_trace: record your program's real calls and replay them as pytest tests."""
from cleanup_trace._version import __version__
from cleanup_trace.compare import assert_return_values
from cleanup_trace.plugin import parametrize_stg_tests
from cleanup_trace.recorder import Recorder

__all__ = [
    "Recorder",
    "__version__",
    "assert_return_values",
    "parametrize_stg_tests",
]
