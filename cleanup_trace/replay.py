"""Replay: data files -> parametrized cases -> call -> compare.

Decoding is lazy: collection reads each file's JSON only to count its cases and build
ids (``module.qualname-NN-index``, stable and readable, identical on every xdist
worker); jsonpickle decoding, imports and calls happen when the test runs. A corrupt or
unreadable file becomes one failing item naming the file and the reason.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import json
import os
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional

from cleanup_trace import locate, serialise
from cleanup_trace.compare import differences, object_state, same_text
from cleanup_trace.package_paths import localised
from cleanup_trace.effects import REFUSED_AT_REPLAY, SETTING_TYPES, bytecode_cache, during_an_import

ARGNAMES = ("fn", "args", "kwargs", "expected")


class DataFileError(Exception):
    """A data file cannot be replayed; the message names the file and the reason."""


@dataclasses.dataclass
class DataFile:
    path: Path
    header: dict
    cases: list
    suffix: str

    @property
    def is_async(self) -> bool:
        return bool(self.header.get("async"))

    @property
    def function_name(self) -> str:
        head = self.header
        return ".".join(part for part in (head["module"], head["qualname"], head.get("role", "")) if part)


@dataclasses.dataclass
class CaseRef:
    """One recorded case, not yet decoded."""

    file: Optional[DataFile]
    index: int
    path: Path
    problem: str = ""
    _loaded: Any = dataclasses.field(default=None, repr=False)

    @property
    def id(self) -> str:
        if self.file is None:
            return f"{self.path.parent.name}.{self.path.stem}-unreadable"
        return f"{self.file.function_name}-{self.file.suffix}-{self.index}"

    def __repr__(self) -> str:  # shown by pytest in failure reports
        return f"<case {self.id} from {self.path}>"

    def load(self) -> "LoadedCase":
        if self._loaded is None:
            self._loaded = _load_case(self)
        return self._loaded


def read_data_file(path: Path) -> DataFile:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise DataFileError(f"{path}: cannot read: {error}") from None
    except json.JSONDecodeError as error:
        raise DataFileError(f"{path}: not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise DataFileError(f"{path}: expected a JSON object, found {type(document).__name__}")
    found = document.get("format")
    if found != serialise.FORMAT:
        raise DataFileError(f"{path}: format {found!r}, expected {serialise.FORMAT!r}")
    missing = [key for key in ("module", "qualname", "cases") if key not in document]
    if missing:
        raise DataFileError(f"{path}: missing keys {missing}")
    if not isinstance(document["cases"], list):
        raise DataFileError(f"{path}: 'cases' is not a list")
    suffix = path.stem.rpartition("-")[2]
    return DataFile(path, document, document["cases"], suffix)


def collect(directory: Path) -> list[CaseRef]:
    """Every case under ``directory``, in a deterministic order."""
    refs: list[CaseRef] = []
    if not directory.is_dir():
        return refs
    for path in sorted(directory.glob("*/*.json")):
        if path.name.startswith("."):
            continue
        try:
            data_file = read_data_file(path)
        except DataFileError as error:
            refs.append(CaseRef(None, 0, path, str(error)))
            continue
        refs.extend(CaseRef(data_file, index, path) for index in range(len(data_file.cases)))
    return refs


# -- loading one case ---------------------------------------------------------------------
@dataclasses.dataclass
class Expected:
    """The recorded outcome: ``returned``, ``raised`` or ``generator``."""

    kind: str
    value: Any = None
    raised_type: str = ""
    message: str = ""
    items: list = dataclasses.field(default_factory=list)
    end: str = ""
    truncated: bool = False
    # The call was given a set: the order of the items it returns or yields may be the
    # set's, which Python does not fix (a decoded set is built anew; text hashes vary
    # from run to run). A sequence with the same items in another order then passes.
    any_order: bool = False

    def __repr__(self) -> str:
        if self.kind == "raised":
            return f"<raises {self.raised_type}({self.message!r})>"
        if self.kind == "generator":
            return f"<generator yielding {self.items!r}, end={self.end}>"
        return repr(self.value)


@dataclasses.dataclass
class Raised:
    """What replay returns instead of raising when the recorded outcome was an exception."""

    error: BaseException


@dataclasses.dataclass
class GeneratorRun:
    items: list
    end: str
    returned: Any = None
    raised: Optional[BaseException] = None


@dataclasses.dataclass
class LoadedCase:
    function: Any
    args: list
    kwargs: dict
    expected: Expected
    name: str
    random_state: Any = None
    environ: Optional[dict] = None  # variables as they were when the call was recorded
    argv: Optional[list] = None  # sys.argv, when the call was recorded under another one
    module: str = ""  # where the function lives


def _load_case(ref: CaseRef) -> LoadedCase:
    if ref.file is None:
        raise DataFileError(ref.problem)
    where = f"{ref.path}: case {ref.index}"
    header = ref.file.header
    try:
        module = importlib.import_module(header["module"])
    except Exception as error:
        raise DataFileError(f"{where}: cannot import module {header['module']!r}: "
                            f"{type(error).__name__}: {error}") from None
    target = locate.locate(module, header["qualname"], header.get("role", ""))
    if target is None:
        raise DataFileError(f"{where}: {header['module']}.{header['qualname']} no longer exists")
    function = locate.innermost(target)
    case = ref.file.cases[ref.index]
    try:
        call = serialise.decode(case["call"])
        outcome = case["outcome"]
        expected = _expected(outcome)
        expected.any_order = _given_a_set(call)
        random_state = serialise.decode(case["random_state"]) if "random_state" in case else None
        environ = case.get("environ")
        if environ is not None and not (isinstance(environ, dict) and all(
                isinstance(key, str) and (value is None or isinstance(value, str)) for key, value in environ.items())):
            raise DataFileError(f"{where}: 'environ' must map variable names to strings or null")
        argv = case.get("argv")
        if argv is not None and not (isinstance(argv, list) and all(isinstance(item, str) for item in argv)):
            raise DataFileError(f"{where}: 'argv' must be a list of strings")
    except DataFileError:
        raise
    except Exception as error:
        raise DataFileError(f"{where}: cannot decode: {type(error).__name__}: {error}") from None
    return LoadedCase(function, list(call["args"]), dict(call["kwargs"]), expected, ref.id, random_state, environ,
                      argv, header["module"])


def _given_a_set(call: Any, limit: int = 2000) -> bool:
    """Does the call's data hold a set or frozenset of two items or more (items,
    attributes and values looked at up to ``limit``)?"""
    stack, seen = [call], set()
    while stack and limit > 0:
        item = stack.pop()
        limit -= 1
        kind = type(item)  # (never the object's own __class__)
        if issubclass(kind, (set, frozenset)):
            if len(item) > 1:
                return True
            continue
        if issubclass(kind, (str, bytes, int, float, type, type(None))) or id(item) in seen:
            continue
        seen.add(id(item))
        if kind is list or kind is tuple:
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.values())
        else:
            stack.extend((object_state(item) or {}).values())
    return False


def _in_any_order(actual: Any, expected: list) -> bool:
    """The same items, each matched once, in whatever order."""
    if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
        return False
    unmatched = list(actual)
    for item in expected:
        match = next((index for index, candidate in enumerate(unmatched) if not differences(candidate, item, limit=1)),
                     None)
        if match is None:
            return False
        del unmatched[match]
    return True


def _expected(outcome: dict) -> Expected:
    if "returned" in outcome:
        return Expected("returned", serialise.decode(outcome["returned"]))
    if "raised" in outcome:
        raised = outcome["raised"]
        return Expected("raised", raised_type=raised["type"], message=raised["message"])
    if "generator" in outcome:
        generator = outcome["generator"]
        expected = Expected("generator", items=[serialise.decode(item) for item in generator["items"]],
                            end=generator["end"], truncated=generator.get("truncated", False))
        if generator["end"] == "returned":
            expected.value = serialise.decode(generator.get("returned"))
        elif generator["end"] == "raised":
            expected.raised_type = generator["raised"]["type"]
            expected.message = generator["raised"]["message"]
        return expected
    raise DataFileError(f"unknown outcome keys {sorted(outcome)}")


# -- calling ------------------------------------------------------------------------------
_AS_THEY_ARE = frozenset({int, float, str, bytes, bool, type(None)})


def _as_yielded(item: Any) -> Any:
    """An item as it was when the generator yielded it: the recording stored each item
    then, and the generator may change it afterwards (anytree's iterators make a node's
    children list while walking on, so an item read at the end holds one its stored copy
    has not). Stored and read back the same way, else the item itself."""
    if type(item) in _AS_THEY_ARE:
        return item
    try:
        return serialise.decode(serialise.encode(item))
    except Exception:  # (what the recording could store, replay mostly can: else as it is now)
        return item


def _take(generator: Any, expected: Expected) -> GeneratorRun:
    limit = len(expected.items) if expected.end == "open" or expected.truncated else len(expected.items) + 1
    items: list = []
    try:
        while len(items) < limit:
            items.append(_as_yielded(next(generator)))
    except StopIteration as stop:
        return GeneratorRun(items, "returned", stop.value)
    except Exception as error:
        return GeneratorRun(items, "raised", raised=error)
    generator.close()
    return GeneratorRun(items, "open")


async def _take_async(generator: Any, expected: Expected) -> GeneratorRun:
    limit = len(expected.items) if expected.end == "open" or expected.truncated else len(expected.items) + 1
    items: list = []
    try:
        while len(items) < limit:
            items.append(_as_yielded(await generator.__anext__()))
    except StopAsyncIteration:
        return GeneratorRun(items, "returned", None)
    except Exception as error:
        return GeneratorRun(items, "raised", raised=error)
    await generator.aclose()
    return GeneratorRun(items, "open")


class ReplayCall:
    """The ``fn`` of a replay test: calls the recorded layer and shapes its outcome."""

    def __init__(self, case: LoadedCase) -> None:
        self.case = case
        self.__wrapped__ = case.function
        self.__name__ = getattr(case.function, "__name__", "fn")

    def __repr__(self) -> str:
        return f"<replay of {self.case.name}>"

    # Positional-only ``self``: a recorded call may pass a keyword named ``self``.
    def __call__(self, /, *args: Any, **kwargs: Any) -> Any:
        function, expected = self.case.function, self.case.expected
        if self.case.random_state is not None:
            # The call drew from the global random generator: start where it started.
            random.setstate(self.case.random_state)
        if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
            return self._call_async(*args, **kwargs)
        with _recorded_context(self.case):
            try:
                result = function(*args, **kwargs)
            except Exception as error:
                if expected.kind == "raised":
                    return Raised(error)
                raise
            if expected.kind == "generator" and inspect.isgenerator(result):
                return _take(result, expected)
            return result

    async def _call_async(self, /, *args: Any, **kwargs: Any) -> Any:
        function, expected = self.case.function, self.case.expected
        with _recorded_context(self.case):
            if inspect.isasyncgenfunction(function):
                return await _take_async(function(*args, **kwargs), expected)
            try:
                return await function(*args, **kwargs)
            except Exception as error:
                if expected.kind == "raised":
                    return Raised(error)
                raise


@contextlib.contextmanager
def _recorded_context(case: LoadedCase) -> Iterator[None]:
    """The environment variables, command line and warnings policy a call was recorded
    with, for the call only."""
    with _environment(case.environ), _command_line(case.argv), _warnings_as_recorded(case.expected), \
            _settings_kept(case.module), _outside_world_refused():
        yield


class ReplayDiverged(Exception):
    """A replayed call tried what its recording never did (start a process, remove a file)."""


class _Refused(BaseException):
    # Raised inside the replayed call: a BaseException, so that the user's ``except
    # Exception`` does not take it for one of its own.
    pass


_refusing: list = []  # what the replayed call running now was refused (at most one call runs)
_refusal_hook_installed = False


def _refuse_side_effects(event: str, arguments: tuple) -> None:
    if _refusing and event in REFUSED_AT_REPLAY and not bytecode_cache(arguments) and not during_an_import(__file__):
        what = f"{event}{_short(arguments)}"
        _refusing[-1].append(what)
        raise _Refused(what)


def _short(arguments: tuple) -> str:
    text = repr(tuple(arguments))
    return text if len(text) <= 200 else text[:197] + "..."


@contextlib.contextmanager
def _outside_world_refused() -> Iterator[None]:
    """During the replayed call, refuse the side effects its recording never had (the
    recorder keeps no call that has them): replaying a call recorded under a test's fake
    ``subprocess.Popen`` must not start the real program."""
    global _refusal_hook_installed
    if not _refusal_hook_installed and hasattr(sys, "addaudithook"):
        sys.addaudithook(_refuse_side_effects)  # (cannot be removed: inert outside replayed calls)
        _refusal_hook_installed = True
    refused: list = []
    _refusing.append(refused)
    try:
        yield
    except _Refused:
        pass  # reported below, as if the call had not caught it either
    finally:
        _refusing.pop()
    if refused:
        raise ReplayDiverged(f"the replayed call tried {refused[0]}, which its recording never did "
                             "(a test had replaced it, or the call depends on state it was not given): refused")


def _settings_of(package: str) -> list[tuple[Any, str, Any]]:
    """``(holder, name, value)`` of the simple globals of the package's loaded modules
    and the simple class attributes of their classes."""
    found = []
    prefix = package + "."
    for name, module in list(sys.modules.items()):
        if (name != package and not name.startswith(prefix)) or not isinstance(module, type(sys)):
            continue
        for attribute, value in list(vars(module).items()):
            if type(value) in SETTING_TYPES:
                if not attribute.startswith("__"):  # (``__name__``, ``__file__``...)
                    found.append((module, attribute, value))
            elif isinstance(value, type) and getattr(value, "__module__", None) == name:
                found.extend((value, key, item) for key, item in list(vars(value).items())
                             if type(item) in SETTING_TYPES and not key.startswith("__"))
    return found


@contextlib.contextmanager
def _settings_kept(module: str) -> Iterator[None]:
    """The settings of the function's package put back after the call: a replayed
    setter (``enable_diag``, ``set_default_whitespace_chars``) would otherwise change
    them for every case after it, which were recorded without the change."""
    package = module.partition(".")[0]
    before = _settings_of(package) if package else []
    try:
        yield
    finally:
        for holder, name, value in before:
            try:
                if vars(holder).get(name, _MISSING) is not value:
                    setattr(holder, name, value)
            except Exception:  # a read-only attribute: left as the call made it
                pass


_MISSING = object()


@contextlib.contextmanager
def _warnings_as_recorded(expected: Expected) -> Iterator[None]:
    """A call that raised a warning category ran where warnings were errors; any other
    call went through the warnings it issued (a test's ``pytest.warns``, ``catch_warnings``).
    Replay does the same, whatever the project's ``filterwarnings`` says."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        category = _raised_warning(expected)
        if category is not None:  # that category only: others were not errors, or it would be theirs
            warnings.simplefilter("error", category)
        yield


def _raised_warning(expected: Expected) -> Optional[type]:
    """The warning category the recorded call raised, if it raised one."""
    if not (expected.kind == "raised" or (expected.kind == "generator" and expected.end == "raised")):
        return None
    klass = locate.resolve_dotted(expected.raised_type)
    return klass if isinstance(klass, type) and issubclass(klass, Warning) else None


@contextlib.contextmanager
def _command_line(argv: Optional[list]) -> Iterator[None]:
    if argv is None:
        yield
        return
    saved = sys.argv
    sys.argv = list(argv)
    try:
        yield
    finally:
        sys.argv = saved


@contextlib.contextmanager
def _environment(changes: Optional[dict]) -> Iterator[None]:
    """The environment variables a call was recorded with, for the call only."""
    if not changes:
        yield
        return
    saved = {name: os.environ.get(name) for name in changes}
    try:
        for name, value in changes.items():
            _set_variable(name, value)
        _apply_time_zone(changes)
        yield
    finally:
        for name, value in saved.items():
            _set_variable(name, value)
        _apply_time_zone(changes)


def _apply_time_zone(changes: dict) -> None:
    # The C library reads TZ only when told to: a program that set TZ called tzset() (or
    # its local times would not have changed), so the replay does too.
    if "TZ" in changes and hasattr(time, "tzset"):
        time.tzset()


def _set_variable(name: str, value: Optional[str]) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _type_name(error: BaseException) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}"


def _check_raised(error: Optional[BaseException], expected: Expected, what: str) -> None:
    if error is None:
        raise AssertionError(f"{what}: expected {expected.raised_type}({expected.message!r}) to be raised")
    if _type_name(error) != expected.raised_type or not same_text(str(error), localised(expected.message)):
        raise AssertionError(f"{what}: expected {expected.raised_type}({expected.message!r}), "
                             f"got {_type_name(error)}({str(error)!r})") from error


def _fail(problems: list[str]) -> None:
    raise AssertionError("replayed value differs from the recorded one:\n  " + "\n  ".join(problems))


def check_outcome(actual: Any, expected: Any) -> None:
    """Compare a replayed outcome with a recorded one; raise ``AssertionError`` on mismatch."""
    if not isinstance(expected, Expected):
        problems = differences(actual, expected)
        if problems:
            _fail(problems)
        return
    if expected.kind == "raised":
        _check_raised(actual.error if isinstance(actual, Raised) else None, expected, "call")
        return
    if isinstance(actual, Raised):
        raise actual.error
    if expected.kind == "generator":
        if not isinstance(actual, GeneratorRun):
            raise AssertionError(f"expected a generator, got {type(actual).__name__}: {actual!r}")
        problems = differences(actual.items, expected.items)
        if problems and not (expected.any_order and _in_any_order(actual.items, expected.items)):
            _fail([f"yielded items: {problem}" for problem in problems])
        if expected.truncated:
            return  # only the first items were recorded: whatever came after is unknown
        if expected.end == "returned":
            if actual.end == "raised":
                raise actual.raised  # type: ignore[misc]
            if actual.end != "returned":
                raise AssertionError(f"generator yielded more than the {len(expected.items)} recorded items")
            problems = differences(actual.returned, expected.value)
            if problems:
                _fail([f"generator return value: {problem}" for problem in problems])
        elif expected.end == "raised":
            _check_raised(actual.raised, expected, "generator")
        return
    problems = differences(actual, expected.value)
    if problems and not (expected.any_order and type(actual) is type(expected.value)
                         and isinstance(expected.value, (list, tuple)) and _in_any_order(actual, expected.value)):
        _fail(problems)


def run_case(ref: CaseRef) -> None:
    """Replay one case outside pytest (the verify command uses this)."""
    case = ref.load()
    call = ReplayCall(case)
    actual = call(*case.args, **case.kwargs)
    if inspect.iscoroutine(actual):
        import asyncio  # not at the top: every pytest run with the plugin imports this module

        actual = asyncio.run(actual)
    check_outcome(actual, case.expected)


__all__ = ["collect", "CaseRef", "check_outcome", "run_case"]
