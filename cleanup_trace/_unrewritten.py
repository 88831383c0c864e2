"""The tool's modules and the libraries it runs on, imported past pytest's assertion rewriting.

pytest's import hook rewrites the asserts of every module matching ``python_files``
(``*.py`` in license-expression's settings: every module imported once the hook is in)
and of every module of a distribution declaring a ``pytest11`` entry point (taken out by
``cleanup_trace._skip_assertion_rewriting``). Rewriting is a parse and a compile from
source, never cached where bytecode may not be written (``PYTHONDONTWRITEBYTECODE``, a
read-only site-packages): the 30 modules a recording imports, wrapt's and jsonpickle's
included, cost license-expression's recorded suite three full garbage collections and
about 0.3 s of its run. Ahead of that hook, this finder gives those modules the import
system's own spec (their cached bytecode), and answers nothing else.

Installed only while a pytest session records, so a run that does not record imports
exactly as before. A test importing wrapt or jsonpickle itself gets them unrewritten (the
tool imported them first): their asserts are theirs, not the test's.
"""
from __future__ import annotations

import importlib.machinery
import sys
from typing import Any, Optional

# Top-level names whose modules this finder answers for: the tool, the libraries it runs
# on, and the modules of the standard library it imports while recording (its random
# state's ctypes, the pickling of closures, jsonpickle's version look-up through
# importlib.metadata's email parser, sysconfig's paths).
NAMES = frozenset({"cleanup_trace", "wrapt", "jsonpickle", "structlog", "dill",
                   "contextvars", "ctypes", "email", "pickle", "_compat_pickle", "queue", "sysconfig"})
_SYSCONFIG_DATA = "_sysconfigdata"  # (the platform's: ``_sysconfigdata__linux_x86_64-linux-gnu``)


class UnrewrittenFinder:
    """A meta path finder for :data:`NAMES`: the spec the path finder gives (``None``,
    and the import system asks the next finder, when it finds nothing: an editable
    install's own finder)."""

    @staticmethod
    def find_spec(name: str, path: Any = None, target: Any = None) -> Optional[importlib.machinery.ModuleSpec]:
        if name.partition(".")[0] not in NAMES and not name.startswith(_SYSCONFIG_DATA):
            return None
        return importlib.machinery.PathFinder.find_spec(name, path)


def install() -> None:
    """Put the finder first (once), when pytest's assertion rewriting hook is installed."""
    if any(type(finder) is UnrewrittenFinder or finder is UnrewrittenFinder for finder in sys.meta_path):
        return
    if any(type(finder).__module__ == "_pytest.assertion.rewrite" for finder in sys.meta_path):
        sys.meta_path.insert(0, UnrewrittenFinder)  # type: ignore[arg-type]


__all__ = ["UnrewrittenFinder", "install"]
