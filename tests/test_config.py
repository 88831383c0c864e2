"""Settings from the PYTESTCLEANUP_* environment: defaults, every variable, bad values."""
from __future__ import annotations

from pathlib import Path

import pytest

from cleanup_trace.config import OPTIONS, ConfigError, Settings


def test_defaults_follow_the_seed(tmp_path: Path) -> None:
    """No variable set: the seed's defaults, and '.' as the test directory."""
    settings = Settings.from_env({}, cwd=tmp_path)
    assert ("INFO", "test-data", "main", 5, 500, 1000, 5.0, (), (), False, False) == (
        settings.log_level, settings.test_data_directory, settings.function,
        settings.test_case_count_per_function, settings.serialisation_depth, settings.value_limit,
        settings.filesize_limit_mb,
        settings.include_modules, settings.exclude_modules, settings.allow_all_modules, settings.record)
    assert tmp_path.resolve() == settings.test_directory
    assert not settings.test_directory_is_explicit


@pytest.mark.parametrize("present, expected", [
    (["testing", "tests", "test"], "test"),
    (["testing", "tests"], "tests"),
    (["testing"], "testing"),
])
def test_test_directory_is_the_first_that_exists(tmp_path: Path, present: list, expected: str) -> None:
    """The seed's order: test, tests, testing."""
    for name in present:
        (tmp_path / name).mkdir()
    assert (tmp_path / expected).resolve() == Settings.from_env({}, cwd=tmp_path).test_directory


def test_every_variable_is_read(tmp_path: Path) -> None:
    """Each documented variable changes its setting."""
    environ = {
        "PYTESTCLEANUP_LOG_LEVEL": "debug",
        "PYTESTCLEANUP_TEST_DATA_DIRECTORY": "data",
        "PYTESTCLEANUP_TEST_DIRECTORY": "somewhere",
        "PYTESTCLEANUP_FUNCTION": "run",
        "PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION": "7",
        "PYTESTCLEANUP_SERIALISATION_DEPTH": "40",
        "PYTESTCLEANUP_VALUE_LIMIT": "30",
        "PYTESTCLEANUP_FILESIZE_LIMIT_MB": "0.5",
        "PYTESTCLEANUP_INCLUDE_MODULES": "app*, lib.*",
        "PYTESTCLEANUP_EXCLUDE_MODULES": "app.secret",
        "PYTESTCLEANUP_ALLOW_ALL_MODULES": "yes",
        "PYTESTCLEANUP_RECORD": "1",
    }
    settings = Settings.from_env(environ, cwd=tmp_path)
    assert ("DEBUG", "data", "run", 7, 40, 30, 0.5, ("app*", "lib.*"), ("app.secret",), True, True) == (
        settings.log_level, settings.test_data_directory, settings.function,
        settings.test_case_count_per_function, settings.serialisation_depth, settings.value_limit,
        settings.filesize_limit_mb,
        settings.include_modules, settings.exclude_modules, settings.allow_all_modules, settings.record)
    assert (tmp_path / "somewhere" / "data").resolve() == settings.data_directory
    assert settings.test_directory_is_explicit


def test_settings_are_frozen(tmp_path: Path) -> None:
    """One object, read once, never changed."""
    settings = Settings.from_env({}, cwd=tmp_path)
    with pytest.raises(AttributeError):
        settings.function = "other"  # type: ignore[misc]


@pytest.mark.parametrize("variable, value, allowed", [
    ("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "abc", "a whole number >= 1"),
    ("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "0", "a whole number >= 1"),
    ("PYTESTCLEANUP_SERIALISATION_DEPTH", "-3", "a whole number >= 1"),
    ("PYTESTCLEANUP_VALUE_LIMIT", "0", "a whole number >= 1"),
    ("PYTESTCLEANUP_FILESIZE_LIMIT_MB", "-1", "a number >= 0 (megabytes)"),
    ("PYTESTCLEANUP_FILESIZE_LIMIT_MB", "nan", "a number >= 0 (megabytes)"),
    ("PYTESTCLEANUP_LOG_LEVEL", "LOUD", "one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
    ("PYTESTCLEANUP_ALLOW_ALL_MODULES", "maybe", "one of 1, 0, true, false, yes, no"),
    ("PYTESTCLEANUP_RECORD", "2", "one of 1, 0, true, false, yes, no"),
    ("PYTESTCLEANUP_FUNCTION", "not a name", "a Python identifier"),
    ("PYTESTCLEANUP_TEST_DATA_DIRECTORY", " ", "a non-empty directory name"),
])
def test_bad_value_names_variable_value_and_allowed(tmp_path: Path, variable: str, value: str, allowed: str) -> None:
    """A malformed value: one line with the variable, the value and what is allowed."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: value}, cwd=tmp_path)
    assert f"{variable}={value!r} is not valid: expected {allowed}" == str(caught.value)


def test_option_table_covers_every_setting() -> None:
    """The table declares each setting once: CLI and pytest help come from it."""
    assert [option.field for option in OPTIONS] == [
        "log_level", "test_data_directory", "test_directory", "function", "test_case_count_per_function",
        "serialisation_depth", "value_limit", "filesize_limit_mb", "include_modules", "exclude_modules",
        "allow_all_modules", "record"]
