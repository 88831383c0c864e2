"""cleanup_trace: record your program's real calls and replay them as pytest tests.

Also ships the fixture goodies of pytest-cases (``fixture``, ``fixture_union``,
``parametrize`` with ``fixture_ref``/``lazy_value``, ...), working on current pytest.
"""
from cleanup_trace._version import __version__
from cleanup_trace.compare import assert_return_values
from cleanup_trace.goodies import (
    NOT_USED,
    InvalidParamsList,
    assert_exception,
    fixture,
    fixture_ref,
    fixture_union,
    ignore_unused,
    is_lazy,
    lazy_value,
    param_fixture,
    param_fixtures,
    parametrize,
    unpack_fixture,
)
from cleanup_trace.plugin import parametrize_stg_tests
from cleanup_trace.recorder import Recorder

__all__ = [
    "NOT_USED",
    "InvalidParamsList",
    "Recorder",
    "__version__",
    "assert_exception",
    "assert_return_values",
    "fixture",
    "fixture_ref",
    "fixture_union",
    "ignore_unused",
    "is_lazy",
    "lazy_value",
    "param_fixture",
    "param_fixtures",
    "parametrize",
    "parametrize_stg_tests",
    "unpack_fixture",
]
