"""The import hook: a ``MetaPathFinder`` at ``sys.meta_path[0]`` and its loader.

* Cheap first: the filter decides from the dotted name alone when it can (stdlib, the
  tool, its dependencies, explicit patterns), before any file-system work.
* Only for included names are the *other* finders asked for the spec; our loader replaces
  the spec's loader only when that is exactly a ``SourceFileLoader`` on a ``.py`` file.
  Everything else passes untouched: pytest's assertion rewriter (test files, conftest),
  namespace packages, zip imports, extension and frozen modules.
* The loader subclasses ``SourceFileLoader`` and overrides ``get_code`` (``runpy``, hence
  ``python -m``, calls ``get_code``, not ``exec_module``); ``get_source``, ``get_data`` and
  ``importlib.resources`` keep working.
* Rewritten bytecode is cached beside the normal ``.pyc`` under its own name, validated by
  the source's hash (a same-second edit is never served stale), written to a temporary
  file then ``os.replace``d, honouring ``sys.dont_write_bytecode`` and
  ``sys.pycache_prefix``. The standard ``cache_from_source`` is never monkeypatched.
* A transform failure never breaks the import: the module is compiled unmodified and one
  warning names it.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import marshal
import os
import sys
import threading
import time
from typing import Any, Callable, Optional, Sequence

from cleanup_trace import _log, filters, rewrite
from cleanup_trace._log import log
from cleanup_trace.filters import ModuleFilter

_CACHE_SUFFIX = f"-cleanup_trace-{rewrite.TRANSFORM_VERSION}.pyc"
# magic (4) + our flags (4) + source mtime_ns (8) + size (8) + source hash (8).
_HEADER_FLAGS = (rewrite.TRANSFORM_VERSION << 8 | 0xC7).to_bytes(4, "little")
_HEADER_SIZE = 32
# A source modified this recently may be edited again within the same clock tick, with
# the same size: its cache entry is validated by hashing the source, never by mtime.
_RECENT_SECONDS = 2.0


def cache_path(source_path: str) -> Optional[str]:
    try:
        normal = importlib.util.cache_from_source(source_path)
    except (NotImplementedError, ValueError):
        return None
    return normal[: -len(".pyc")] + _CACHE_SUFFIX


def _stamp(stat: os.stat_result) -> bytes:
    return stat.st_mtime_ns.to_bytes(8, "little") + (stat.st_size & (2 ** 64 - 1)).to_bytes(8, "little")


def _read_cached(path: str, stat: os.stat_result, source: Callable[[], bytes]) -> Any:
    """The cached code if it is valid for the source, else ``None`` (a miss)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    if len(data) < _HEADER_SIZE or data[:8] != importlib.util.MAGIC_NUMBER + _HEADER_FLAGS:
        return None
    fresh = time.time() - stat.st_mtime < _RECENT_SECONDS
    if fresh or data[8:24] != _stamp(stat):
        # Same-second edits and touched files: the hash decides (PEP 552 style).
        if data[24:32] != importlib.util.source_hash(source()):
            return None
    try:
        return marshal.loads(data[_HEADER_SIZE:])
    except Exception:  # a corrupt cache file is a cache miss
        return None


def _write_cached(path: str, stat: os.stat_result, source_hash: bytes, code: Any) -> None:
    if sys.dont_write_bytecode:
        return
    payload = importlib.util.MAGIC_NUMBER + _HEADER_FLAGS + _stamp(stat) + source_hash + marshal.dumps(code)
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as handle:
            handle.write(payload)
        # Invariant: the cache name always holds a complete, valid file (or nothing).
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


# Modules whose transform failed (imported unmodified), for the recording summary.
not_instrumented: list = []

# Code rewritten in this process, by file and module name, with its source's hash: a
# module imported again (a test's fresh import with ``sys.modules`` cleared: astor's
# suite imports its package twice) is not rewritten again, the disk cache written or not
# (``PYTHONDONTWRITEBYTECODE``). The rewrite reads nothing but the source and the names.
_made_in_process: dict = {}

# The helper rewriting the recording's modules ahead, while recording (see prewarm).
_prewarmed: Optional[Any] = None


class InstrumentingLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname: str) -> Any:
        source_path = self.get_filename(fullname)
        stat = os.stat(source_path)
        loaded: list = []

        def source() -> bytes:
            if not loaded:
                loaded.append(self.get_data(source_path))
            return loaded[0]

        hashed: list = []

        def source_hash() -> bytes:
            if not hashed:
                hashed.append(importlib.util.source_hash(source()))
            return hashed[0]

        made = _made_in_process.get((source_path, fullname))
        if made is not None and made[0] == source_hash():
            return made[1]
        cached = cache_path(source_path)
        if cached is not None:
            code = _read_cached(cached, stat, source)
            if code is not None:
                return code
        try:
            prewarmed = _prewarmed  # (once: another thread may stop recording meanwhile)
            code = prewarmed.code_for(source_path, fullname, source_hash) if prewarmed is not None else None
            if code is None:
                code = rewrite.compile_instrumented(source(), source_path, fullname)
        except Exception as error:
            if not isinstance(error, SyntaxError):
                not_instrumented.append(fullname)
                log.warning("module.not_instrumented", module=fullname,
                            error=f"{type(error).__name__}: {error}")
            # The plain path reports the user's own SyntaxError exactly as Python would.
            return self.source_to_code(source(), source_path)
        _made_in_process[source_path, fullname] = (source_hash(), code)
        if cached is not None:
            _write_cached(cached, stat, source_hash(), code)
        return code


class InstrumentingFinder:
    """Finder that swaps in :class:`InstrumentingLoader` for included source modules."""

    def __init__(self, module_filter: ModuleFilter) -> None:
        self.filter = module_filter
        self._busy = threading.local()
        self.instrumented: list[str] = []

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: Any = None) -> Any:
        early = self.filter.decide_by_name(fullname)
        if early is not None and not early.include:
            if early.reason.startswith("matches") and _log.is_enabled_for("DEBUG"):
                log.debug("module.skipped", module=fullname, reason=early.reason)
            return None
        if getattr(self._busy, "active", False):
            return None
        self._busy.active = True
        try:
            spec = self._find_with_others(fullname, path, target)
        finally:
            self._busy.active = False
        if spec is not None and early is not None and early.reason.startswith(_INCLUDED) \
                and _rewritten_by_pytest(spec):
            # A module of yours named in PYTESTCLEANUP_INCLUDE_MODULES that pytest also
            # collects (``python_files = *.py``, or ``--doctest-modules`` with it): the
            # explicit include wins, and pytest's rewriting of its asserts is lost (they
            # still raise AssertionError, with a plainer message).
            filters.note_included_collected_file(spec.origin)
            spec = importlib.util.spec_from_file_location(
                fullname, spec.origin, submodule_search_locations=spec.submodule_search_locations)
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
            return None
        origin = spec.origin or ""
        if not origin.endswith(".py"):  # the path finder found the file: no stat needed
            return None
        decision = self.filter.decide(fullname, origin)
        if _log.is_enabled_for("DEBUG"):
            log.debug("module.instrumented" if decision.include else "module.skipped",
                      module=fullname, reason=decision.reason)
        if not decision.include:
            return None
        spec.loader = InstrumentingLoader(fullname, origin)
        self.instrumented.append(fullname)
        return spec

    def _find_with_others(self, fullname: str, path: Any, target: Any) -> Any:
        for finder in list(sys.meta_path):
            if finder is self or isinstance(finder, InstrumentingFinder):
                continue
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            try:
                spec = find_spec(fullname, path, target)
            except Exception:
                continue
            if spec is not None:
                return spec
        return None

    def invalidate_caches(self) -> None:
        pass


_INCLUDED = "matches PYTESTCLEANUP_INCLUDE_MODULES"


def _rewritten_by_pytest(spec: Any) -> bool:
    """pytest's assertion rewriter found it as a test module, though it is not test code
    by its name (``test_*.py``, ``*_test.py``, ``conftest.py``) nor by its directory
    (``voluptuous/tests/tests.py``)."""
    loader = type(spec.loader)
    if loader.__name__ != "AssertionRewritingHook" or loader.__module__ != "_pytest.assertion.rewrite":
        return False
    origin = spec.origin or ""
    return origin.endswith(".py") and not filters.looks_like_test_code(os.path.normcase(os.path.realpath(origin)))


def install(module_filter: ModuleFilter, prewarmed: Optional[Any] = None) -> InstrumentingFinder:
    """Put a finder first on ``sys.meta_path`` (one at a time); ``prewarmed``: a
    :class:`cleanup_trace.prewarm.Prewarm` whose code the loader takes first."""
    global _prewarmed
    if prewarmed is not None:
        if _prewarmed is not None:
            _prewarmed.close()
        _prewarmed = prewarmed
    for finder in sys.meta_path:
        if isinstance(finder, InstrumentingFinder):
            finder.filter = module_filter
            return finder
    finder = InstrumentingFinder(module_filter)
    sys.meta_path.insert(0, finder)
    return finder


def uninstall() -> None:
    global _prewarmed
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, InstrumentingFinder)]
    if _prewarmed is not None:
        prewarmed, _prewarmed = _prewarmed, None
        prewarmed.close()


def already_imported(module_filter: ModuleFilter) -> list[str]:
    """Included modules imported before the hook: they cannot be rewritten any more."""
    names = []
    for name, module in list(sys.modules.items()):
        if name in ("__main__", "__mp_main__") or module is None:
            continue
        early = module_filter.decide_by_name(name)
        if early is not None and not early.include:
            continue
        origin = getattr(getattr(module, "__spec__", None), "origin", None) or getattr(module, "__file__", None)
        if not origin or not str(origin).endswith(".py"):
            continue
        if module_filter.decide(name, origin).include and not _is_instrumented(module) \
                and not filters.is_test_file(os.path.normcase(os.path.realpath(str(origin)))):
            # (a test module an include names, imported before recording: test code)
            names.append(name)
    return sorted(names)


def _is_instrumented(module: Any) -> bool:
    return isinstance(getattr(module, "__loader__", None), InstrumentingLoader)
