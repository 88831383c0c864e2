"""The pytest plugin (entry point ``pytest11``): replay, record mode, summary.

Cheap to import: the recorder and the replay machinery load only when used. Per-session
state lives in ``config.stash``.
"""
from __future__ import annotations

import inspect
import os
import sys
from pathlib import Path
from typing import Any, Optional

import pytest

import cleanup_trace

# Again here: when the package was imported before pytest marked it (a start-up hook of a
# staging run), this module is rewritten all the same, but not those imported from now on.
cleanup_trace._skip_assertion_rewriting()

from cleanup_trace import _unrewritten  # noqa: E402
from cleanup_trace.config import ConfigError, Settings, describe_options  # noqa: E402
from cleanup_trace.scaffold import ASYNC_TEST, SYNC_TEST  # noqa: E402

settings_key = pytest.StashKey[Settings]()
cases_key = pytest.StashKey[dict]()
recording_key = pytest.StashKey[bool]()
_parametrized_key = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cleanup_trace", "cleanup_trace: record real calls, replay them as tests")
    group.addoption(
        "--cleanup-record", action="store_true", default=False,
        help="record the calls this test run makes into your code as data files "
             "(configured by the PYTESTCLEANUP_* environment variables: see `python -m cleanup_trace --help`)",
    )
    if _recording_asked(sys.argv[1:] + os.environ.get("PYTEST_ADDOPTS", "").split()):
        # The helper that rewrites your modules ahead starts now, while pytest loads its
        # other plugins: started with the recording, it was not ready before the first
        # conftest's imports (see Recorder.start_helper).
        _start_helper_early()


def _start_helper_early() -> None:
    try:
        settings = Settings.from_env()
    except ConfigError:
        return  # (said when the recording starts)
    _unrewritten.install()  # (before the recorder's imports: see _unrewritten)
    from cleanup_trace.recorder import Recorder

    Recorder(settings).start_helper()


def _recording_asked(arguments: list) -> bool:
    """Does the command line ask to record, other than as an xdist controller (which runs
    no test: its workers record)?"""
    return "--cleanup-record" in arguments and not any(
        argument.startswith(("-n", "--numprocesses", "--dist", "--tx")) for argument in arguments)


def _read_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from None


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list) -> Any:
    # Earlier than pytest_configure: a conftest.py that imports the application runs
    # inside this hook, and modules imported before it cannot be rewritten. A wrapper
    # around pytest's capture wrapper: the tool's log keeps the real standard error, taken
    # before capturing swaps file descriptor 2 (else every line would vanish with the
    # captured output of a passing test).
    if getattr(early_config.known_args_namespace, "cleanup_record", False):
        early_config.stash[settings_key] = _read_settings()
        _start_recording(early_config)
    return (yield)


def _start_recording(config: pytest.Config) -> None:
    _unrewritten.install()
    from cleanup_trace.recorder import Recorder

    recorder = Recorder(config.stash[settings_key])
    # An xdist controller runs no test (its workers do, on the cores a helper would take).
    options = config.known_args_namespace
    recorder.rewrite_ahead = not (getattr(options, "numprocesses", None) or getattr(options, "dist", "no") != "no")
    # pytest reaches its end (terminal summary, unconfigure: both flush; the recorder's
    # exit handler otherwise) even on Ctrl-C, and flushes between tests every few
    # seconds: about one write per data file, not one per case. (Said before the start:
    # a helper started with it lays the cases out too.)
    recorder.write_at_flush()
    recorder.start()
    # (Options are parsed after the initial conftests: the early namespace has it then.)
    basetemp = config.getoption("basetemp", None) or getattr(config.known_args_namespace, "basetemp", None)
    if basetemp:  # tmp_path is there, not under the system's temporary directory
        from cleanup_trace import runtime

        runtime.note_temporary_directory(str(basetemp))
    config.stash[recording_key] = True


def pytest_configure(config: pytest.Config) -> None:
    if settings_key not in config.stash:
        config.stash[settings_key] = _read_settings()
    if config.getoption("--cleanup-record", False) and not config.stash.get(recording_key, False):
        _start_recording(config)
    if config.stash.get(recording_key, False):
        # The last of the session's cleanups (registered before pytest's own: they run
        # the other way round): the helper writes the files given to it at the
        # session's end while pytest does its last work (its garbage collections).
        config.add_cleanup(_finish_files)


def _finish_files() -> None:
    from cleanup_trace.recorder import Recorder

    Recorder().finish_files()


def pytest_pycollect_makemodule(module_path: Path, parent: Any) -> None:
    # Before it is imported: its classes' values are refused, its module never included.
    if parent.config.stash.get(recording_key, False):
        from cleanup_trace.filters import note_collected_test_file

        note_collected_test_file(str(module_path))


def pytest_collection_finish(session: pytest.Session) -> None:
    # The directories pytest put on sys.path for what it collected: a replay's run has
    # them too (a class of a module found through one is stored as any other).
    if session.config.stash.get(recording_key, False):
        from cleanup_trace import runtime

        runtime.note_search_path()


def pytest_runtest_logfinish(nodeid: str, location: tuple) -> None:
    # Between tests: the cases recorded since the last flush reach their files, once
    # FLUSH_INTERVAL_SECONDS have passed (a session killed outright, a timeout plugin's
    # os._exit, loses no more than those).
    recording = sys.modules.get("cleanup_trace.recorder")  # never imported by a session not recording
    recorder = recording.Recorder.current() if recording is not None else None
    if recorder is not None and recorder.active:
        recorder.flush_due()


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(recording_key, False):
        from cleanup_trace.recorder import Recorder

        config.stash[recording_key] = False
        recorder = Recorder()
        # (the terminal summary said it already; the files are waited for last)
        recorder.stop(force=True, report=False, wait_for_files=False)
        recorder.release()


def pytest_report_header(config: pytest.Config) -> Optional[str]:
    if config.stash.get(recording_key, False):
        return f"cleanup_trace: recording into {config.stash[settings_key].data_directory}"
    return None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if not config.stash.get(recording_key, False):
        return
    from cleanup_trace.recorder import Recorder

    recorder = Recorder()
    recorder.flush()
    summary = recorder.summary()
    skipped = summary.pop("skipped")
    terminalreporter.write_sep("-", "cleanup_trace recording")
    terminalreporter.write_line(", ".join(f"{key}: {value}" for key, value in summary.items()))
    if skipped:
        terminalreporter.write_line("skipped cases: " + ", ".join(f"{k}: {v}" for k, v in skipped.items()))


# -- replay -------------------------------------------------------------------------------
def _data_directory(metafunc: pytest.Metafunc, settings: Settings) -> Path:
    if settings.test_directory_is_explicit:
        return settings.data_directory
    return Path(str(metafunc.definition.path)).parent / settings.test_data_directory


def parametrize_stg_tests(metafunc: pytest.Metafunc, data_directory: Optional[Path] = None) -> None:
    """Parametrize a test taking ``fn, args, kwargs, expected`` from the data files.

    Sync tests get the sync cases, ``async def`` tests the async ones. The data come from
    ``data_directory`` if given, else from ``<test dir>/<data dir>`` (the test file's own
    directory unless PYTESTCLEANUP_TEST_DIRECTORY is set). Idempotent: the plugin calls it
    for the generated tests, a conftest may call it too.
    """
    from cleanup_trace import replay

    if not set(replay.ARGNAMES) <= set(metafunc.fixturenames):
        return
    stash = metafunc.definition.stash
    if stash.get(_parametrized_key, False):
        return
    stash[_parametrized_key] = True
    config = metafunc.config
    settings = config.stash[settings_key] if settings_key in config.stash else _read_settings()
    directory = Path(data_directory) if data_directory is not None else _data_directory(metafunc, settings)
    cache = config.stash.setdefault(cases_key, {})
    if directory not in cache:
        cache[directory] = replay.collect(directory)
    wants_async = inspect.iscoroutinefunction(metafunc.function)
    refs = [ref for ref in cache[directory]
            if (ref.file is not None and ref.file.is_async == wants_async) or (ref.file is None and not wants_async)]
    metafunc.parametrize(",".join(replay.ARGNAMES), [(ref,) * 4 for ref in refs],
                         ids=[ref.id for ref in refs], indirect=True)


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.function.__name__ in (SYNC_TEST, ASYNC_TEST):
        parametrize_stg_tests(metafunc)


def _loaded(request: pytest.FixtureRequest) -> Any:
    from cleanup_trace.replay import CaseRef

    ref = getattr(request, "param", None)
    if not isinstance(ref, CaseRef):
        raise pytest.UsageError(
            f"fixture {request.fixturename!r} comes from cleanup_trace and only serves tests "
            "parametrized from recorded data files (parametrize_stg_tests)")
    try:
        return ref.load()
    except Exception as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def fn(request: pytest.FixtureRequest) -> Any:
    """The recorded function, as a callable that replays its outcome."""
    from cleanup_trace.replay import ReplayCall

    return ReplayCall(_loaded(request))


@pytest.fixture
def args(request: pytest.FixtureRequest) -> list:
    """Recorded positional arguments (``self``/``cls`` first for methods)."""
    return list(_loaded(request).args)


@pytest.fixture
def kwargs(request: pytest.FixtureRequest) -> dict:
    """Recorded keyword arguments."""
    return dict(_loaded(request).kwargs)


@pytest.fixture
def expected(request: pytest.FixtureRequest) -> Any:
    """The recorded outcome: a return value, an exception, or yielded items."""
    return _loaded(request).expected


def _is_replay_item(item: pytest.Function) -> bool:
    from cleanup_trace.replay import CaseRef

    callspec = getattr(item, "callspec", None)
    return callspec is not None and isinstance(callspec.params.get("fn"), CaseRef)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Optional[bool]:
    # Async replay tests run without pytest-asyncio; when pytest-asyncio manages the item
    # (auto mode marks it ``asyncio``) it is left to pytest-asyncio.
    if not inspect.iscoroutinefunction(pyfuncitem.obj) or pyfuncitem.get_closest_marker("asyncio"):
        return None
    if not _is_replay_item(pyfuncitem):
        return None
    import asyncio  # only for async replay tests: every pytest run loads this plugin

    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


__all__ = ["parametrize_stg_tests", "describe_options"]
