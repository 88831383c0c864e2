"""Paths inside your packages, stored relative to the package.

A function naming a file of its own package (babel's ``resolve_locale_filename``, a
template or data file found next to ``__file__``) returns a path that holds where the
package is: the checkout it was recorded in, which is not where the tests replay (another
clone, CI, the installed copy). Such a text, or ``pathlib`` path, is stored as the
package's name and the rest of the path, and decodes to the same file of the package as
the replay run imports it.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
from typing import Any, Callable, Optional

from cleanup_trace._identity import identity
from cleanup_trace.filters import TEST_DIRECTORY_NAMES

LOADER = "cleanup_trace.package_paths.load"


def load(package: str, relative: str, kind: Any = None) -> Any:
    """The path ``relative`` (``/``-separated, ``""`` for the package's own directory)
    inside ``package`` as imported now; made a ``kind`` (a ``pathlib`` class) if given."""
    directory = os.path.dirname(os.path.abspath(importlib.import_module(package).__file__))
    path = os.path.join(directory, *relative.split("/")) if relative else directory
    return path if kind is None else kind(path)


_MARK = re.compile(r"<package ([\w.]+)>")


def localised(text: str) -> str:
    """A recorded message with its ``<package NAME>`` marks (see :meth:`PackagePaths.masked`)
    made the directories of those packages as imported now."""
    if "<package " not in text:
        return text

    def directory(match: "re.Match[str]") -> str:
        try:
            return load(match.group(1), "")
        except Exception:  # (not importable here: the comparison says the rest)
            return match.group(0)

    return _MARK.sub(directory, text)


def _in_a_test_directory(relative: str) -> bool:
    """Does a path relative to a package (``/tests/data.yaml``) go through a test directory?"""
    return any(part in TEST_DIRECTORY_NAMES for part in relative.split(os.sep))


class PackagePaths:
    """The directories of the packages the tool instruments (the outermost ones), looked
    for again only when ``sys.modules`` grew."""

    def __init__(self, instrumented: Callable[[Any], bool]) -> None:
        self._instrumented = instrumented
        self._modules_seen = -1
        # Each module looked at, by name: its id and the package directory it gave (or ""): a
        # module imported during the run made every module be looked at again (a test
        # suite imports hundreds, one by one, between recorded calls).
        self._looked_at: dict[str, tuple] = {}
        self.prefixes: tuple[str, ...] = ()  # each directory followed by a separator
        self._packages: dict[str, str] = {}  # directory -> package name
        # What every one of those paths starts with: most texts are told apart by it alone.
        self.lead = ""

    def refresh(self) -> tuple[str, ...]:
        if len(sys.modules) != self._modules_seen:
            self._modules_seen = len(sys.modules)
            looked_at = self._looked_at
            modules = list(sys.modules.items())
            if len(looked_at) > 2 * len(modules):  # (modules removed since: forgotten)
                looked_at.clear()
            found = {}
            for name, module in modules:
                seen = looked_at.get(name)
                # (its identity, not the module: one removed must not stay alive here)
                if seen is None or seen[0] != identity(module):
                    seen = looked_at[name] = (identity(module), self._directory_of(module))
                if seen[1]:
                    found[seen[1]] = name
            outermost = {directory: name for directory, name in found.items()
                         if not any(directory.startswith(other + os.sep) for other in found)}
            self._packages = outermost
            self.prefixes = tuple(directory + os.sep for directory in outermost)
            self.lead = os.path.commonprefix(list(outermost))
        return self.prefixes

    def _directory_of(self, module: Any) -> str:
        """The directory of an instrumented package, "" for any other module."""
        path = getattr(module, "__path__", None)
        origin = getattr(module, "__file__", None)
        if path is None or not origin or not self._instrumented(module):
            return ""
        return os.path.dirname(os.path.abspath(origin))

    def holds(self, text: str) -> bool:
        """Is ``text`` a path inside (or of) one of the packages, not in a test directory
        of it? (after :meth:`refresh`) A package's tests are often left out of what is
        installed: ``voluptuous/tests/tests.py`` named relative to the package was
        missing from the copy the replay imported; named as it is, the file is found."""
        if not self.prefixes:
            return False
        if not text.startswith(self.prefixes):
            return text in self._packages
        prefix = next(prefix for prefix in self.prefixes if text.startswith(prefix))
        # (the test directory itself too: radon's ``iter_filenames([".../radon/tests"])``)
        return not _in_a_test_directory(text[len(prefix):])

    def masked(self, text: str) -> str:
        """``text`` with the directory of every package in it as ``<package NAME>``: an
        error message naming a file of the package (mako's ``KeyError`` of a module path)
        replays wherever the package is. (after :meth:`refresh`) Not a path into a test
        directory of the package, which an argument keeps as it is (see :meth:`holds`):
        yamale's error naming the fixture file it was given gives back that path, the
        package's tests in the source tree, wherever the replay imports the package from."""
        separator = re.escape(os.sep)
        for directory, name in sorted(self._packages.items(), key=lambda item: -len(item[0])):
            if directory in text:  # (not ``pkg_extra`` beside ``pkg``)
                text = re.sub(re.escape(directory) + rf"(?![\w.-])((?:{separator}[\w.-]+)*)",
                              lambda found, name=name: found.group(0) if _in_a_test_directory(found.group(1))
                              else f"<package {name}>{found.group(1)}", text)
        return text

    def parts(self, text: str) -> Optional[tuple[str, str]]:
        """``(package, relative path)`` for a path :meth:`holds`, else ``None``."""
        if text in self._packages:
            return self._packages[text], ""
        for prefix in self.prefixes:
            if text.startswith(prefix):
                relative = text[len(prefix):]
                return self._packages[prefix[:-len(os.sep)]], relative.replace(os.sep, "/")
        return None
