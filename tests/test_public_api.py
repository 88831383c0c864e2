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
