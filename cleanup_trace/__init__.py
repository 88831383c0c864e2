"""cleanup_trace: record your program's real calls and replay them as pytest tests.

Also ships the fixture goodies of pytest-cases (``fixture``, ``fixture_union``,
``parametrize`` with ``fixture_ref``/``lazy_value``, ...), working on current pytest.

PYTEST_DONT_REWRITE: pytest's marker for modules it must not assertion-rewrite. A staging
run imports this package before pytest starts; without the marker pytest warns that it
could not rewrite it, and a suite with ``filterwarnings = error`` stops there.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any


def _skip_assertion_rewriting() -> None:
    """Take the tool's modules out of pytest's assertion rewriting.

    pytest rewrites every module of a distribution that declares a ``pytest11`` entry
    point. The tool has no ``assert`` to rewrite, and the rewriting import hook compiles
    each module from source whenever it may not cache its bytecode
    (``PYTHONDONTWRITEBYTECODE``, a read-only site-packages): ~0.15 s of every recording
    run. There is no public way to unmark a package, so this edits the hook's set of
    marked names; with a pytest whose hook looks otherwise, nothing changes.
    """
    for finder in sys.meta_path:
        if type(finder).__module__ != "_pytest.assertion.rewrite":
            continue
        marked = getattr(finder, "_must_rewrite", None)
        known = getattr(finder, "_marked_for_rewrite_cache", None)
        if not isinstance(marked, set) or not isinstance(known, dict):
            continue
        ours = {name for name in marked if name == __name__ or name.startswith(__name__ + ".")}
        if ours:
            marked.difference_update(ours)
            known.clear()  # answers given before for our names


_skip_assertion_rewriting()  # before any other module of the package is imported

from cleanup_trace._version import __version__  # noqa: E402

# Where each public name lives. Imported on first use (PEP 562): a staging process that
# only records must not pay for pytest, the goodies or the plugin at start-up.
_HOMES = {
    "Recorder": "cleanup_trace.recorder",
    "assert_return_values": "cleanup_trace.compare",
    "parametrize_stg_tests": "cleanup_trace.plugin",
    **{name: "cleanup_trace.goodies" for name in (
        "NOT_USED", "InvalidParamsList", "assert_exception", "fixture", "fixture_ref", "fixture_union",
        "ignore_unused", "is_lazy", "lazy_value", "param_fixture", "param_fixtures", "parametrize",
        "unpack_fixture")},
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
