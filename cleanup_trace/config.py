"""Settings: one frozen object, read once from the ``PYTESTCLEANUP_*`` environment.

Every option is declared once in ``OPTIONS`` (variable, parser, default, help); the CLI
help and the pytest ``--help`` text are built from the same table. A malformed value is a
:class:`ConfigError` whose message is one line naming the variable, the value and what is
allowed, so front ends print it instead of a traceback.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple

PREFIX = "PYTESTCLEANUP_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_TEST_DIRECTORIES = ("test", "tests", "testing")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class ConfigError(ValueError):
    """A ``PYTESTCLEANUP_*`` variable holds a value the tool cannot use."""


def _positive_int(raw: str) -> int:
    value = int(raw.strip())
    if value < 1:
        raise ValueError
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw.strip())
    if not value >= 0:  # also rejects nan
        raise ValueError
    return value


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError


def _log_level(raw: str) -> str:
    upper = raw.strip().upper()
    if upper not in LOG_LEVELS:
        raise ValueError
    return upper


def _patterns(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _identifier(raw: str) -> str:
    name = raw.strip()
    if not name.isidentifier():
        raise ValueError
    return name


def _directory_name(raw: str) -> str:
    name = raw.strip()
    if not name:
        raise ValueError
    return name


# Named tuples, frozen as frozen dataclasses are: a dataclass is made by running code it
# generates, and these two took 4 ms of every recording process's start.
class Option(NamedTuple):
    field: str
    parse: Callable[[str], Any]
    default: Any
    allowed: str
    help: str

    @property
    def variable(self) -> str:
        return PREFIX + self.field.upper()


OPTIONS: tuple[Option, ...] = (
    Option("log_level", _log_level, "INFO", "one of " + ", ".join(LOG_LEVELS),
           "Level of the tool's log events; DEBUG shows every include/exclude decision."),
    Option("test_data_directory", _directory_name, "test-data", "a non-empty directory name",
           "Directory, under the test directory, that holds the recorded data files."),
    Option("test_directory", _directory_name, None, "a directory path",
           "The test directory. Default: the first of test, tests, testing that exists, else '.'."),
    Option("function", _identifier, "main", "a Python identifier",
           "No-argument function that `python -m cleanup_trace MODULE` calls."),
    Option("test_case_count_per_function", _positive_int, 5, "a whole number >= 1",
           "Most distinct cases recorded per function in one run."),
    Option("serialisation_depth", _positive_int, 500, "a whole number >= 1",
           "Deepest nesting of a recorded value; deeper values are not recorded."),
    Option("value_limit", _positive_int, 1000, "a whole number >= 1",
           "Most values (items, keys, attributes; a text once more per 64 characters) in a recorded call "
           "or outcome; a bigger case is "
           "skipped before it is serialised: slow to record, unreadable as a test."),
    Option("filesize_limit_mb", _non_negative_float, 5.0, "a number >= 0 (megabytes)",
           "Largest data file written; a case that would make a file larger is skipped."),
    Option("include_modules", _patterns, (), "comma-separated fnmatch patterns",
           "Modules to record even if excluded by default (site-packages, stdlib). Wins over exclude."),
    Option("exclude_modules", _patterns, (), "comma-separated fnmatch patterns",
           "Modules never to record."),
    Option("allow_all_modules", _boolean, False, "one of 1, 0, true, false, yes, no",
           "Record every module not excluded explicitly (slow)."),
    Option("record", _boolean, False, "one of 1, 0, true, false, yes, no",
           "Record from interpreter start-up (staging runs, through the installed .pth hook)."),
)


class Settings(NamedTuple):
    log_level: str = "INFO"
    test_data_directory: str = "test-data"
    test_directory: Path = Path(".")
    test_directory_is_explicit: bool = False
    function: str = "main"
    test_case_count_per_function: int = 5
    serialisation_depth: int = 500
    value_limit: int = 1000
    filesize_limit_mb: float = 5.0
    include_modules: tuple[str, ...] = ()
    exclude_modules: tuple[str, ...] = ()
    allow_all_modules: bool = False
    record: bool = False

    @property
    def data_directory(self) -> Path:
        """``<test dir>/<data dir>``: where data files are written and read."""
        return self.test_directory / self.test_data_directory

    @property
    def filesize_limit_bytes(self) -> int:
        return int(self.filesize_limit_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
        """Read and validate every ``PYTESTCLEANUP_*`` variable; raise :class:`ConfigError`."""
        environ = os.environ if environ is None else environ
        cwd = Path.cwd() if cwd is None else cwd
        values: dict[str, Any] = {}
        for option in OPTIONS:
            raw = environ.get(option.variable)
            if raw is None:
                values[option.field] = option.default
                continue
            try:
                values[option.field] = option.parse(raw)
            except ValueError:
                raise ConfigError(
                    f"{option.variable}={raw!r} is not valid: expected {option.allowed}"
                ) from None
        explicit = values["test_directory"] is not None
        if explicit:
            test_directory = (cwd / values["test_directory"]).resolve()
        else:
            test_directory = default_test_directory(cwd)
        values["test_directory"] = test_directory
        return cls(test_directory_is_explicit=explicit, **values)


def default_test_directory(cwd: Path) -> Path:
    """The seed's rule: the first of test, tests, testing under ``cwd``, else ``cwd``."""
    for name in DEFAULT_TEST_DIRECTORIES:
        candidate = cwd / name
        if candidate.is_dir():
            return candidate.resolve()
    return cwd.resolve()


def describe_options() -> str:
    """Help text for every environment variable, for ``--help`` outputs."""
    lines = []
    for option in OPTIONS:
        default = ", ".join(option.default) if isinstance(option.default, tuple) else option.default
        lines.append(f"  {option.variable}\n      {option.help} Default: {default!s}.")
    return "\n".join(lines)
