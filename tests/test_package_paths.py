"""Where the packages of yours are: found again only for the modules imported since."""
from __future__ import annotations

import importlib
import os
import sys

import pytest

from cleanup_trace.package_paths import PackagePaths


@pytest.fixture
def two_packages(tmp_path, monkeypatch):
    for name in ("pkg_one", "pkg_two"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("pkg_one", "pkg_two"):
        sys.modules.pop(name, None)


def test_a_package_imported_later_is_found_and_only_it_is_looked_at(two_packages) -> None:
    asked: list = []
    paths = PackagePaths(lambda module: asked.append(module.__name__) or module.__name__.startswith("pkg_"))
    importlib.import_module("pkg_one")
    assert (str(two_packages / "pkg_one") + os.sep,) == paths.refresh()
    asked.clear()
    importlib.import_module("pkg_two")
    assert {str(two_packages / name) + os.sep for name in ("pkg_one", "pkg_two")} == set(paths.refresh())
    assert ["pkg_two"] == asked  # (every other package was looked at before)
    # Imported afresh (a test clearing sys.modules): another module, looked at again.
    # (the old module held meanwhile: freed, its address could go to the new one, which
    # would then pass for it; same name, same file: the same directory all the same)
    old = sys.modules.pop("pkg_one")
    assert (str(two_packages / "pkg_two") + os.sep,) == paths.refresh()
    asked.clear()
    importlib.import_module("pkg_one")
    assert 2 == len(paths.refresh()) and ["pkg_one"] == asked
    assert old is not sys.modules["pkg_one"]


def test_a_message_names_the_package_by_its_mark_but_not_a_path_into_its_tests(two_packages) -> None:
    """An error message naming a file of a package replays wherever the package is
    imported from; a path into a test directory of it is kept as it is, as an argument
    naming it is (yamale's error gives back the fixture path it was given, in the source
    tree, while the replay imported the package from site-packages)."""
    paths = PackagePaths(lambda module: module.__name__.startswith("pkg_"))
    importlib.import_module("pkg_one")
    paths.refresh()
    package = str(two_packages / "pkg_one")
    fixture = os.path.join(package, "tests", "fixtures", "data.yaml")
    module = os.path.join(package, "core.py")
    message = f"Error validating '{fixture}' with '{module}' (also {package}_extra, {package})"
    assert paths.masked(message) == (f"Error validating '{fixture}' with '<package pkg_one>{os.sep}core.py' "
                                     f"(also {package}_extra, <package pkg_one>)")
    assert not paths.holds(fixture) and paths.holds(module)
