"""Include/exclude decisions, each with its reason."""
from __future__ import annotations

import json
import os
import sysconfig

from cleanup_trace.filters import ModuleFilter

SITE = os.path.join(sysconfig.get_paths()["purelib"], "somelib", "__init__.py")
STDLIB = json.__file__


def test_user_code_is_included(tmp_path) -> None:
    """A module of the user's project is recorded by default."""
    assert (True, "is the user's own code") == ModuleFilter().decide("app", str(tmp_path / "app.py"))


def test_default_exclusions_have_reasons(tmp_path) -> None:
    """stdlib, site-packages, tests and conftest, and the tool itself are left alone."""
    module_filter = ModuleFilter()
    assert (False, "is in the standard library") == module_filter.decide("json", STDLIB)
    assert (False, "is installed in site-packages") == module_filter.decide("somelib", SITE)
    test_module = (False, "is a test module, a conftest or in a test directory")
    assert test_module == module_filter.decide("test_app", str(tmp_path / "test_app.py"))
    assert test_module == module_filter.decide("conftest", str(tmp_path / "conftest.py"))
    assert not module_filter.decide("cleanup_trace.runtime", str(tmp_path / "x.py")).include
    assert not module_filter.decide("wrapt", SITE).include


def test_helpers_in_a_test_directory_are_test_code(tmp_path) -> None:
    """tests/__init__.py, test/common.py: the suite's helpers, not the project (replay could
    not import them); a project that lives under a directory named tests is still the user's."""
    project = tmp_path / "tests" / "project"
    module_filter = ModuleFilter(project_root=str(project))
    test_module = (False, "is a test module, a conftest or in a test directory")
    assert test_module == module_filter.decide("tests", str(project / "tests" / "__init__.py"))
    assert test_module == module_filter.decide("common", str(project / "test" / "common.py"))
    assert (True, "is the user's own code") == module_filter.decide("app", str(project / "app.py"))
    assert (True, "is the user's own code") == module_filter.decide("app.core", str(project / "app" / "core.py"))


def test_include_wins_over_default_exclusions_and_exclude() -> None:
    """PYTESTCLEANUP_INCLUDE_MODULES takes precedence, as in the seed."""
    module_filter = ModuleFilter(include=("somelib*",), exclude=("somelib*",))
    decision = module_filter.decide("somelib.core", SITE)
    assert (True, "matches PYTESTCLEANUP_INCLUDE_MODULES pattern 'somelib*'") == decision


def test_a_suite_shipped_inside_an_included_package_is_test_code(tmp_path) -> None:
    """``h11*`` names h11 and the suite it ships in ``h11/tests/``: its helpers are test
    code, not recorded (replay, on the installed library, cannot import them); a module
    the include names exactly is the user's choice."""
    package = tmp_path / "h11"
    module_filter = ModuleFilter(include=("h11*", "lib.tests.fixtures"), project_root=str(tmp_path))
    decision = module_filter.decide("h11.tests.helpers", str(package / "tests" / "helpers.py"))
    assert (False, "is a test module, a conftest or in a test directory "
                   "(an include pattern names the package holding it)") == decision
    assert module_filter.decide("h11._util", str(package / "_util.py")).include
    assert module_filter.decide("lib.tests.fixtures", str(tmp_path / "lib" / "tests" / "fixtures.py")).include


def test_an_include_naming_a_library_the_tool_runs_on_is_told() -> None:
    """``pluggy*`` cannot win: pytest runs on pluggy. The recorder warns with what
    :meth:`never_included` names; wide patterns name nothing. ``packaging``, which pytest
    only uses before tests run, can be included."""
    module_filter = ModuleFilter(include=("pluggy*", "pytest.x", "p*", "*", "cleanup_trace.compare", "mylib*",
                                          "packaging*"))
    assert ["pluggy", "pytest"] == module_filter.never_included()
    assert not module_filter.decide("pluggy._hooks", SITE).include
    assert module_filter.decide("packaging.version", SITE).include


def test_exclude_patterns(tmp_path) -> None:
    """PYTESTCLEANUP_EXCLUDE_MODULES drops user modules by fnmatch pattern."""
    module_filter = ModuleFilter(exclude=("app.secret*",))
    assert (False, "matches PYTESTCLEANUP_EXCLUDE_MODULES pattern 'app.secret*'") == module_filter.decide(
        "app.secrets", str(tmp_path / "app" / "secrets.py"))
    assert module_filter.decide("app.public", str(tmp_path / "app" / "public.py")).include


def test_allow_all_modules() -> None:
    """PYTESTCLEANUP_ALLOW_ALL_MODULES records site-packages too, never the tool itself."""
    module_filter = ModuleFilter(allow_all=True)
    assert module_filter.decide("somelib", SITE).include
    assert not module_filter.decide("jsonpickle", SITE).include


def test_project_installed_in_site_packages_is_user_code(tmp_path) -> None:
    """Under tox the project runs from site-packages: still recorded, by its name."""
    (tmp_path / "src" / "somelib").mkdir(parents=True)
    (tmp_path / "src" / "somelib" / "__init__.py").write_text("")
    module_filter = ModuleFilter(project_root=str(tmp_path))
    assert (True, "is the project in the current directory, installed") == module_filter.decide("somelib.x", SITE)
    assert not module_filter.decide("otherlib", SITE.replace("somelib", "otherlib")).include
