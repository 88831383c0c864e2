"""The public API: what `from cleanup_trace import ...` offers, and nothing happens on import."""
from __future__ import annotations

import subprocess
import sys

import cleanup_trace


def test_all_names_are_importable() -> None:
    """Every name in __all__ exists; the seed's and the goodies' names are there."""
    for name in cleanup_trace.__all__:
        assert getattr(cleanup_trace, name) is not None
    assert {"Recorder", "parametrize_stg_tests", "assert_return_values", "fixture", "unpack_fixture",
            "param_fixture", "param_fixtures", "fixture_union", "parametrize", "fixture_ref", "lazy_value",
            "is_lazy", "ignore_unused", "NOT_USED", "assert_exception", "InvalidParamsList"} <= set(cleanup_trace.__all__)


def test_import_has_no_side_effects() -> None:
    """Importing the package installs no hook and starts no recording."""
    code = "import sys; before = list(sys.meta_path); import cleanup_trace; print(sys.meta_path == before)"
    assert "True" == subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()


def test_recording_loads_no_asyncio_into_a_program_that_does_not() -> None:
    """wrapt imports asyncio for its async locks, structlog for its async loggers; the tool
    imports them without it (13-22 ms each and asyncio, ssl, concurrent.futures less in a
    recording run). wrapt's async decorators and the program's own ``import asyncio`` still
    get the real module."""
    code = """if True:
        import sys
        from cleanup_trace import Recorder
        with Recorder():
            print("asyncio" in sys.modules, "ssl" in sys.modules)
        # (the summary at the end was logged through structlog)
        print("structlog" in sys.modules, "asyncio" in sys.modules, "ssl" in sys.modules)
        import asyncio, wrapt
        print(type(asyncio) is type(sys), asyncio.run is sys.modules["asyncio"].run)

        @wrapt.synchronized
        async def double(x):
            return 2 * x

        print(asyncio.run(double(21)))
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert ["False False", "True False False", "True True", "42"] == result.stdout.split("\n")[:4], result.stderr
