"""``python -m cleanup_trace [MODULE]``: record a program, write the replay scaffold."""
from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from typing import Optional, Sequence

from cleanup_trace.config import ConfigError, Settings, describe_options

DESCRIPTION = """\
Record the calls of your own functions while MODULE runs, and write them as pytest data
files under <test dir>/<data dir>; then `pytest` replays them.

  python -m cleanup_trace your.module   import it with recording on and call its no-arg
                                        main() (or PYTESTCLEANUP_FUNCTION)
  python -m cleanup_trace               only write the scaffold: the replay test file and
                                        the two conftest snippets (never overwriting)
  python -m cleanup_trace verify        replay every recorded case; move the ones that do
                                        not reproduce into <data dir>-quarantine, with why
  python -m cleanup_trace compact       merge each function's -00..-09 files into as few
                                        as needed, without duplicates

Staging runs, with no code change: PYTESTCLEANUP_RECORD=1 python app.py
  The installed cleanup_trace.pth starts recording at interpreter start-up (subprocesses
  inherit the variable and record too). Where .pth files are not processed (python -S,
  some embedded interpreters), put the bundled sitecustomize on the path instead:
    PYTHONPATH="$(python -c 'import cleanup_trace.startup as s; print(s.DIRECTORY)')" \
    PYTESTCLEANUP_RECORD=1 python app.py
  Data goes to PYTESTCLEANUP_TEST_DIRECTORY (default: test, tests or testing under the
  current directory) and is written as it is recorded: nothing to flush.
"""

EPILOG = "Configuration, by environment variables only:\n" + describe_options()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cleanup_trace", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("module", nargs="?", help="importable module path (not a file path), e.g. app.main")
    return parser


def _error(message: str) -> int:
    print(f"cleanup_trace: error: {message}", file=sys.stderr)
    return 1


def _module_missing(name: str, error: ModuleNotFoundError) -> bool:
    missing = error.name or ""
    return missing == name or name.startswith(missing + ".")


def main(argv: Optional[Sequence[str]] = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        return _error(str(error))
    from cleanup_trace import scaffold

    if arguments.module in ("verify", "compact"):
        return _maintain(arguments.module, settings)
    if arguments.module is None:
        for path, result in scaffold.write_scaffold(settings.test_directory, settings.test_data_directory).items():
            print(f"{result}: {path}")
        return 0
    return _record(arguments.module, settings)


def _current_directory_importable() -> None:
    """`python -m` semantics: modules of the current directory are importable."""
    if "" not in sys.path:
        sys.path.insert(0, "")


def _maintain(command: str, settings: Settings) -> int:
    from cleanup_trace import maintenance

    _current_directory_importable()
    directory = settings.data_directory
    if not directory.is_dir():
        return _error(f"no data directory {directory} (set PYTESTCLEANUP_TEST_DIRECTORY)")
    if command == "compact":
        report = maintenance.compact(directory, settings.filesize_limit_bytes)
        print(f"compacted {report['functions']} functions: {report['files before']} files -> "
              f"{report['files after']}")
        return 0
    report = maintenance.verify(directory)
    print(f"verified {report['cases']} cases: {report['kept']} reproduce, "
          f"{report['quarantined']} quarantined in {report['quarantine']}")
    for reason, count in report["reasons"].most_common():
        print(f"  {count:5d}  {reason}")
    return 0


def _record(module_name: str, settings: Settings) -> int:
    from cleanup_trace import scaffold
    from cleanup_trace.recorder import Recorder

    _current_directory_importable()
    recorder = Recorder(settings)
    exit_code = 0
    with recorder:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if _module_missing(module_name, error):
                return _error(f"no module named {module_name!r} (give an importable module path, "
                              f"not a file path, from the current directory)")
            raise
        function = getattr(module, settings.function, None)
        if function is None or not callable(function):
            return _error(f"module {module_name!r} has no function {settings.function!r} "
                          f"(set PYTESTCLEANUP_FUNCTION to the no-argument function to call)")
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            signature = None
        if signature is not None:
            required = [name for name, parameter in signature.parameters.items()
                        if parameter.default is parameter.empty
                        and parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD,
                                               parameter.KEYWORD_ONLY)]
            if required:
                return _error(f"{module_name}.{settings.function}() needs arguments ({', '.join(required)}); "
                              f"cleanup_trace calls a function that takes none")
        try:
            result = function()
            if inspect.iscoroutine(result):
                import asyncio

                asyncio.run(result)
        except SystemExit as stop:
            exit_code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
            if stop.code is not None and not isinstance(stop.code, int):
                print(stop.code, file=sys.stderr)
    for path, result in scaffold.write_scaffold(settings.test_directory, settings.test_data_directory).items():
        if result == "written":
            print(f"written: {path}")
    return exit_code
