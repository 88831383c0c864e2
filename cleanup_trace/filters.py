"""Which modules get instrumented, and why.

``ModuleFilter.decide(name, origin)`` is pure apart from a per-name cache: every
decision carries a human-readable reason that the debug log shows. Order of the rules:

1. the tool itself and the libraries it runs on are never instrumented (re-entry);
2. ``PYTESTCLEANUP_EXCLUDE_MODULES`` unless ``PYTESTCLEANUP_INCLUDE_MODULES`` also matches;
3. ``PYTESTCLEANUP_INCLUDE_MODULES`` wins over every default exclusion below;
4. ``PYTESTCLEANUP_ALLOW_ALL_MODULES`` includes everything else;
5. default exclusions: standard library, site-packages (except the project in the current
   directory installed there, as tox and non-editable installs do), test modules and
   conftest;
6. everything left is the user's own code.
"""
from __future__ import annotations

import fnmatch
import functools
import os
import sys
import sysconfig
from typing import NamedTuple

# Never instrumented, whatever the settings say: instrumenting these would make the
# recorder record itself, or break the machinery it runs on. (pytest reads its
# configuration with ``iniconfig`` and checks versions with ``packaging`` before any
# plugin runs, and not while tests run: named in an include, they are instrumented in
# place when recording starts, see :mod:`cleanup_trace.late`.)
ALWAYS_EXCLUDED_TOP_LEVEL = frozenset({
    "cleanup_trace", "wrapt", "jsonpickle", "dill", "structlog", "pytest", "_pytest",
    "pluggy", "importlib", "importlib_metadata", "importlib_resources", "encodings",
    "py", "xdist", "execnet", "pytest_asyncio", "_virtualenv",
    "__editable__", "typing_extensions", "coverage", "pytest_cov",
})

# Pure modules of the tool that the recorder itself never calls while recording: an
# explicit include pattern may select them, so that the project records its own cases.
SELF_RECORDABLE = frozenset({"cleanup_trace.config", "cleanup_trace.compare", "cleanup_trace.writer"})

_STDLIB_NAMES = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)


class Decision(NamedTuple):
    include: bool
    reason: str


@functools.lru_cache(maxsize=None)  # (sysconfig works the paths out again at every call: ms each)
def _stdlib_directories() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {os.path.normcase(os.path.realpath(paths[key])) for key in ("stdlib", "platstdlib") if key in paths}
    return tuple(sorted(found))


def _site_directories() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {os.path.normcase(os.path.realpath(paths[key])) for key in ("purelib", "platlib") if key in paths}
    return tuple(sorted(found))


@functools.lru_cache(maxsize=None)  # per class compared while storing: a few hundred names
def is_standard_library(module_name: str) -> bool:
    """By name where Python lists its modules (3.10+), else by the module's file."""
    top_level = module_name.partition(".")[0]
    if top_level in _STDLIB_NAMES:
        return True
    origin = getattr(sys.modules.get(top_level), "__file__", None)
    return _is_standard_file(origin) if isinstance(origin, str) and origin else False


@functools.lru_cache(maxsize=None)
def _is_standard_file(origin: str) -> bool:
    # (one realpath per top-level package, not one per module name: recording starts by
    # asking for every module imported, hundreds of ``_pytest.*`` among them)
    real = os.path.normcase(os.path.realpath(origin))
    return not any(part in ("site-packages", "dist-packages") for part in real.split(os.sep)) and any(
        real.startswith(directory + os.sep) for directory in _stdlib_directories())


TEST_DIRECTORY_NAMES = frozenset({"test", "tests", "testing"})
_TOOL_DIRECTORY = os.path.normcase(os.path.realpath(os.path.dirname(os.path.abspath(__file__))))


@functools.lru_cache(maxsize=64)
def real_directory(path: str) -> str:
    # (asked with the current directory for every module a recording looks at: a
    # realpath is one lstat per component, and the answer for one name does not change)
    return os.path.normcase(os.path.realpath(path))


# The project root of the recording (the current directory when it started): tests
# change directory (babel's into a temporary one, where the suite's helpers module in
# ``tests/`` no longer looked like test code).
_recording_root: list = []


def set_recording_root(root: str | None) -> None:
    _recording_root[:] = [] if root is None else [real_directory(root)]


# Files pytest collected as test modules, by normalised real path: whatever their name
# (jsonpatch's suite is ``pytest tests.py``, outside the default ``python_files``).
_collected_test_files: set[str] = set()


# Files pytest collects that PYTESTCLEANUP_INCLUDE_MODULES names as modules (a library's
# own modules under ``python_files = *.py``): the user's code, though collected.
_included_collected_files: set[str] = set()


def note_collected_test_file(path: str) -> None:
    _collected_test_files.add(os.path.normcase(os.path.realpath(path)))


def note_included_collected_file(path: str) -> None:
    _included_collected_files.add(os.path.normcase(os.path.realpath(path)))


def is_test_file(origin: str, project_root: str | None = None) -> bool:
    """A test module, a conftest, or any module inside a test directory (the helpers of a
    suite, ``tests/__init__.py``...), or a file pytest collected as a test module: replay
    runs the project, not its test suite.

    Directories count from the project root (normalised real path; default: the
    recording's, else the current directory), or inside site-packages for installed
    code, so a project that itself lives under a directory named ``tests`` is still the
    user's code.
    """
    if _collected_test_files and os.path.normcase(origin) in _collected_test_files \
            and os.path.normcase(origin) not in _included_collected_files:
        return True
    return looks_like_test_code(origin, project_root)


def looks_like_test_code(origin: str, project_root: str | None = None) -> bool:
    """Test code by its file's name or directory (:func:`is_test_file`, whether pytest
    collected it or not)."""
    base = os.path.basename(origin)
    if base == "conftest.py" or (base.startswith("test_") and base.endswith(".py")) or base.endswith("_test.py"):
        return True
    root = project_root if project_root is not None else \
        _recording_root[0] if _recording_root else real_directory(os.getcwd())
    path = os.path.normcase(origin)
    if path.startswith(root + os.sep):
        directories = path[len(root) + 1:].split(os.sep)[:-1]
    else:
        parts = path.split(os.sep)[:-1]
        installed = [index for index, part in enumerate(parts) if part in ("site-packages", "dist-packages")]
        directories = parts[installed[-1] + 1:] if installed else []
    return any(directory in TEST_DIRECTORY_NAMES for directory in directories)


class ModuleFilter:
    def __init__(self, include: tuple[str, ...] = (), exclude: tuple[str, ...] = (),
                 allow_all: bool = False, project_root: str | None = None) -> None:
        self.project_root = project_root if project_root is not None else os.getcwd()
        self._real_root = real_directory(self.project_root)  # once: decide() runs per import
        self._project_names: dict[str, bool] = {}
        self.include = tuple(include)
        self.exclude = tuple(exclude)
        self.allow_all = allow_all
        self._stdlib_dirs = _stdlib_directories()
        self._site_dirs = _site_directories()
        self._by_name: dict[str, Decision | None] = {}

    def never_included(self) -> list[str]:
        """The libraries the tool runs on that an include pattern names by their own name
        (``pluggy*``: pytest calls its hooks through pluggy): never
        instrumented, which a user who asked for them must be told."""
        named = []
        for pattern in self.include:
            top_level = pattern.partition(".")[0].rstrip("*?")
            if top_level in ALWAYS_EXCLUDED_TOP_LEVEL and top_level not in named and not any(
                    fnmatch.fnmatchcase(name, pattern) for name in SELF_RECORDABLE):
                named.append(top_level)
        return named

    @staticmethod
    def _match(name: str, patterns: tuple[str, ...]) -> str | None:
        for pattern in patterns:
            if fnmatch.fnmatchcase(name, pattern):
                return pattern
        return None

    def decide_by_name(self, name: str) -> Decision | None:
        """The cheap bail-out, before any file-system work: a final decision or ``None``."""
        try:
            return self._by_name[name]
        except KeyError:
            pass
        top_level = name.partition(".")[0]
        decision: Decision | None = None
        if name in SELF_RECORDABLE and self._match(name, self.include):
            decision = Decision(True, f"matches PYTESTCLEANUP_INCLUDE_MODULES pattern {self._match(name, self.include)!r}")
        elif top_level in ALWAYS_EXCLUDED_TOP_LEVEL:
            decision = Decision(False, f"{top_level} is cleanup_trace or a library it runs on")
        else:
            excluded_by = self._match(name, self.exclude)
            included_by = self._match(name, self.include)
            if included_by:
                decision = Decision(True, f"matches PYTESTCLEANUP_INCLUDE_MODULES pattern {included_by!r}")
            elif excluded_by:
                decision = Decision(False, f"matches PYTESTCLEANUP_EXCLUDE_MODULES pattern {excluded_by!r}")
            elif self.allow_all:
                decision = Decision(True, "PYTESTCLEANUP_ALLOW_ALL_MODULES is set")
            elif top_level in _STDLIB_NAMES:
                decision = Decision(False, "is in the standard library")
        self._by_name[name] = decision
        return decision

    def _included_with_its_package(self, name: str) -> bool:
        """Is ``name`` included by a wildcard only (an exact name is the user's choice)?"""
        pattern = self._match(name, self.include)
        return pattern is not None and pattern != name

    def _is_project(self, top_level: str) -> bool:
        known = self._project_names.get(top_level)
        if known is None:
            root = self.project_root
            known = any(
                os.path.isfile(os.path.join(base, top_level, "__init__.py"))
                or os.path.isfile(os.path.join(base, top_level + ".py"))
                for base in (root, os.path.join(root, "src"))
            )
            self._project_names[top_level] = known
        return known

    def decide(self, name: str, origin: str | None, real: str | None = None) -> Decision:
        """``real``: ``origin``'s normalised real path, when known (a walk of a package
        resolves each directory once, not each file's every component)."""
        decision = self.decide_by_name(name)
        if decision is not None:
            if decision.include and origin and self._included_with_its_package(name) \
                    and is_test_file(real or os.path.normcase(os.path.realpath(origin)), self._real_root):
                # ``h11*`` names the library, and with it the suite it ships inside
                # (``h11/tests/helpers.py``): test code all the same, which replay, run
                # on the installed library, often cannot import.
                return Decision(False, "is a test module, a conftest or in a test directory "
                                       "(an include pattern names the package holding it)")
            return decision
        if not origin:
            return Decision(False, "has no source file")
        real = real or os.path.normcase(os.path.realpath(origin))
        if real.startswith(_TOOL_DIRECTORY + os.sep):
            # (the ``sitecustomize`` fallback of the start-up hook, by its own name)
            return Decision(False, "is part of cleanup_trace")
        if any(real.startswith(directory + os.sep) for directory in self._site_dirs) or (
            f"{os.sep}site-packages{os.sep}" in real or f"{os.sep}dist-packages{os.sep}" in real
        ):
            if self._is_project(name.partition(".")[0]):
                # tox (and any non-editable install) runs the project from site-packages:
                # it is still the user's code, and its data belongs to the project.
                return Decision(True, "is the project in the current directory, installed")
            return Decision(False, "is installed in site-packages")
        if any(real.startswith(directory + os.sep) for directory in self._stdlib_dirs):
            return Decision(False, "is in the standard library")
        if is_test_file(real, self._real_root):
            return Decision(False, "is a test module, a conftest or in a test directory")
        return Decision(True, "is the user's own code")
