"""What instrumented modules call at run time: the recording wrapper.

Knows nothing of files or configuration: the recorder hands it a budget, a depth and a
*sink* (``accept(function, case) -> bool``) through :func:`start`, and takes them away with
:func:`stop`. The rules, each one a trap (DESIGN.md section 5):

* cheap first: a per-function *gate* list whose C-level ``__len__`` is wrapt's ``enabled=``
  switch, so a function whose budget is full (or a run that is not recording) costs one
  C call, not a Python frame;
* a thread-local guard, checked first: serialising ``self`` runs the user's instrumented
  ``__getstate__``/``__eq__``/``__repr__``, which must neither record nor recurse;
* arguments are serialised *before* the call (the callee may mutate them);
* exceptions are recorded as outcomes and re-raised untouched (bare ``raise``);
  ``BaseException`` (``KeyboardInterrupt``, ``SystemExit``, ``GeneratorExit``) is not recorded;
* generators stay lazy: a forwarding generator keeps ``send``/``throw``/``close`` and the
  return value, and records at most ``ITEM_LIMIT`` items;
* any error of the tool disables recording for that one function, logs once, and the
  user's call proceeds as if the tool were not there.
"""
from __future__ import annotations

import collections
import math
import os
import random
import sys
import threading
import types
from typing import Any, Callable, Optional, Protocol

import wrapt

from cleanup_trace import locate, serialise
from cleanup_trace._log import log

ITEM_LIMIT = 50  # generator items recorded per case
# A function whose values keep being refused (unserialisable, not round-tripping) stops
# being tried: each refusal costs a full serialisation.
REFUSALS_IN_A_ROW = 3
# A function called this often with no new case since its last one is saturated: its
# gate closes, so hot functions that repeat themselves stop paying for the fingerprint.
CALLS_WITHOUT_NEWS = 1000
_CO_GENERATOR, _CO_COROUTINE, _CO_ASYNC_GENERATOR = 0x20, 0x80, 0x200
_NO_VALUE = object()


# Interruptions belong to the user; anything else raised while the tool works is the tool's.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)


class Sink(Protocol):
    def accept(self, function: "FunctionRecord", case: dict) -> bool: ...


class _Guard(threading.local):
    busy = False
    # Snapshots of the recorded synchronous calls running in this thread, innermost last.
    calls: Optional[list] = None


_guard = _Guard()


class _State:
    def __init__(self) -> None:
        self.sink: Optional[Sink] = None
        self.budget = 5
        self.max_depth = 500
        self.functions: list[FunctionRecord] = []
        self.stats: collections.Counter = collections.Counter()
        self.registry_lock = threading.Lock()


_state = _State()


def _qualified_type_name(klass: type) -> str:
    return f"{klass.__module__}.{klass.__qualname__}"


def _fingerprint(value: Any, depth: int = 0) -> Any:
    """Cheap and hashable: equal fingerprints are *probably* equal calls.

    Types, lengths, small scalars and a few items; the exact comparison happens later, on
    the serialised form, only for calls whose fingerprint is new.
    """
    kind = type(value)
    if value is None or kind is bool or kind is int:
        return value if kind is not int or -(10 ** 12) < value < 10 ** 12 else (int, value.bit_length())
    if kind is float:
        return ("nan",) if math.isnan(value) else value
    if kind is str or kind is bytes:
        return value if len(value) <= 64 else (kind, len(value), value[:32], value[-32:])
    if depth >= 2:
        return kind
    if kind is list or kind is tuple:
        return (kind, len(value)) + tuple(_fingerprint(item, depth + 1) for item in value[:4])
    if kind is dict:
        return (kind, len(value)) + tuple(
            (_fingerprint(key, 2), _fingerprint(item, depth + 1)) for key, item in list(value.items())[:4])
    if kind is set or kind is frozenset:
        return (kind, len(value))
    if kind is types.FunctionType:
        # Functions passed as values: different lambdas, or one closure over different
        # cells, are different calls.
        cells = []
        for cell in value.__closure__ or ():
            try:
                cells.append(_fingerprint(cell.cell_contents, depth + 1))
            except ValueError:  # an empty cell
                cells.append(None)
        return (kind, value.__qualname__, id(value.__code__), tuple(cells))
    state = getattr(value, "__dict__", None)
    if type(state) is dict:
        return (kind,) + tuple((key, _fingerprint(item, depth + 1)) for key, item in list(state.items())[:6])
    return kind


class _Live:
    """The part of a function's recording state needed only once it is called."""

    __slots__ = ("attempts", "fingerprints", "cases", "reported", "lock", "refused_in_a_row", "calls_without_news")

    def __init__(self) -> None:
        self.attempts = 0
        self.refused_in_a_row = 0
        self.calls_without_news = 0
        self.fingerprints: set = set()
        self.cases: set[str] = set()
        self.reported: set[str] = set()
        self.lock = threading.Lock()


class FunctionRecord:
    """Recording state of one instrumented function (one per ``def``).

    Created for every ``def`` at import time, so kept small: the sets and the lock of a
    function that is called come later, in :class:`_Live`.
    """

    __slots__ = ("module", "qualname", "role", "is_generator", "is_coroutine", "is_async_generator", "gate",
                 "accepted", "called", "disabled", "wrapper", "raw", "_detached", "_live")

    def __init__(self, wrapped: Callable, module: str, role: str) -> None:
        self.module = module
        self.qualname: str = getattr(wrapped, "__qualname__", None) or getattr(wrapped, "__name__", "?")
        self.role = role
        # One read of co_flags instead of three inspect.is*function calls: this runs for
        # every def of every instrumented module, at import time.
        flags = wrapped.__code__.co_flags if hasattr(wrapped, "__code__") else 0
        self.is_generator = bool(flags & _CO_GENERATOR)
        self.is_coroutine = bool(flags & _CO_COROUTINE)
        self.is_async_generator = bool(flags & _CO_ASYNC_GENERATOR)
        self.gate: list[bool] = [True] if _state.sink is not None else []
        self.accepted = 0
        self.called = False
        self.disabled = False
        self.wrapper: Any = None
        self.raw = wrapped
        self._detached: Optional[tuple] = None
        self._live: Optional[_Live] = None

    @property
    def live(self) -> _Live:
        live = self._live
        if live is None:
            with _state.registry_lock:  # two threads calling first must share one state
                if self._live is None:
                    self._live = _Live()
                live = self._live
        return live  # type: ignore[return-value]

    @property
    def is_async(self) -> bool:
        return self.is_coroutine or self.is_async_generator

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.module, self.qualname, self.role)

    @property
    def name(self) -> str:
        return ".".join(part for part in (self.module, self.qualname, self.role) if part)

    def close_gate(self) -> None:
        self.gate.clear()
        self._detach()

    def open_gate(self) -> None:
        self.gate[:] = [True]
        self._attach()

    def _slot(self) -> Optional[tuple]:
        """(container, attribute name, current value) where the wrapper sits directly."""
        container: Any = locate.find_module(self.module)
        parts = self.qualname.split(".")
        if container is None or "<locals>" in parts:
            return None
        for part in parts[:-1]:
            container = vars(container).get(part) if not isinstance(container, type) else \
                locate.attribute_path(container, part)
            if not isinstance(container, type):
                return None
        name = parts[-1]
        if isinstance(container, type) and name.startswith("__") and not name.endswith("__"):
            name = f"_{container.__name__.lstrip('_')}{name}"
        value = vars(container).get(name)
        return (container, name, value) if value is not None else None

    def _detach(self) -> None:
        """Budget full or recording stopped: put the plain function back where the wrapper
        sits directly as a class attribute, so later calls cost nothing at all.

        References taken earlier (``from m import f``, registries, outer decorators) keep
        the wrapper, whose closed gate makes wrapt call straight through.
        """
        if self._detached is not None or self.wrapper is None:
            return
        try:
            slot = self._slot()
            if slot is None or not isinstance(slot[0], type):
                # Module-level functions keep their wrapper: other modules may hold the
                # same object (``from m import f``) and compare identities. Methods are
                # bound anew at every access anyway, and are where wrapt costs most.
                return
            container, name, value = slot
            if value is self.wrapper:
                replacement: Any = self.raw
            elif type(value) in (staticmethod, classmethod) and value.__func__ is self.wrapper:
                replacement = type(value)(self.raw)
            else:
                return
            setattr(container, name, replacement)
            self._detached = (container, name, value, replacement)
        except Exception:  # a read-only namespace or an odd metaclass: keep the wrapper
            self._detached = None

    def _attach(self) -> None:
        detached, self._detached = self._detached, None
        if detached is None:
            return
        container, name, original, replacement = detached
        try:
            if vars(container).get(name) is replacement:
                setattr(container, name, original)
        except Exception:
            pass

    def skip(self, reason: str, detail: str = "") -> None:
        """Count a skipped case; log the first one of each reason for this function."""
        _state.stats[f"skipped: {reason}"] += 1
        live = self.live
        live.refused_in_a_row += 1
        if live.refused_in_a_row >= REFUSALS_IN_A_ROW and self.gate:
            self.close_gate()
            _state.stats["functions given up (cases kept being refused)"] += 1
        reported = live.reported
        if reason not in reported:
            reported.add(reason)
            log.warning("call.skipped", function=self.name, reason=reason, detail=detail)

    def fail(self, error: BaseException) -> None:
        """The tool itself failed here: stop recording this function, log once."""
        self.disabled = True
        self.close_gate()
        _state.stats["functions disabled by a tool error"] += 1
        log.error("function.disabled", function=self.name, error=f"{type(error).__name__}: {error}")

    # -- the wrapper: (wrapped, instance, args, kwargs), wrapt's one signature ----------
    def __call__(self, wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
        if _guard.busy:
            return wrapped(*args, **kwargs)
        full_args = args if instance is None else (instance,) + args
        snapshot = self._snapshot(full_args, kwargs)
        if snapshot is None:
            return wrapped(*args, **kwargs)
        if self.is_generator:
            return _named_like(_RecordingGenerator(self, snapshot, wrapped(*args, **kwargs)).run(), wrapped)
        if self.is_async_generator:
            return _named_like(_record_async_generator(self, snapshot, wrapped(*args, **kwargs)), wrapped)
        if self.is_coroutine:
            return _named_like(_record_coroutine(self, snapshot, wrapped(*args, **kwargs)), wrapped)
        running = _guard.calls
        if running is None:
            running = _guard.calls = []
        running.append(snapshot)
        try:
            result = wrapped(*args, **kwargs)
        except Exception as error:
            running.pop()
            self.finish(snapshot, raised=error)
            raise
        except BaseException:
            running.pop()
            raise
        running.pop()
        self.finish(snapshot, returned=result)
        return result

    def _snapshot(self, full_args: tuple, kwargs: dict) -> Optional[dict]:
        """Serialise the call before it runs; ``None`` when this call is not recorded."""
        _guard.busy = True
        try:
            self.called = True
            if self.disabled or not self.gate:
                return None
            live = self.live
            live.calls_without_news += 1
            if live.calls_without_news > CALLS_WITHOUT_NEWS:
                self.close_gate()
                _state.stats["functions saturated (no new case in a long while)"] += 1
                return None
            fingerprint = (_fingerprint(full_args), _fingerprint(kwargs) if kwargs else None)
            if fingerprint in live.fingerprints:
                _state.stats["skipped: duplicate call"] += 1
                return None
            live.fingerprints.add(fingerprint)
            live.attempts += 1
            if live.attempts > 20 * _state.budget + 20:
                # Bounded work and memory for a function whose calls keep being refused.
                self.close_gate()
                self.skip("too many refused cases", "recording stopped for this function")
                return None
            call = {"args": list(full_args), "kwargs": dict(kwargs)}
            try:
                data = serialise.encode(call, _state.max_depth)
                serialise.check_round_trip(call, data)
            except serialise.Unserialisable as error:
                self.skip("unserialisable argument", str(error))
                return None
            # Functions that draw from the global random generator replay with the state
            # they started from (stored only when the call changed it).
            return {"call": data, "random": random.getstate()}
        except _PASS_THROUGH:
            raise
        except BaseException as error:  # some libraries derive errors from BaseException
            self.fail(error)
            return None
        finally:
            _guard.busy = False

    def finish(self, snapshot: dict, *, returned: Any = _NO_VALUE, raised: Optional[BaseException] = None,
               outcome: Optional[dict] = None) -> None:
        """Serialise the outcome and hand the case to the sink."""
        _guard.busy = True
        try:
            if snapshot.get("side_effect"):
                self.skip("side effects outside the process",
                          f"{snapshot['side_effect']}: replaying the call would repeat it")
                return
            if outcome is None:
                outcome = self._outcome(returned, raised)
                if outcome is None:
                    return
            case = {"call": snapshot["call"], "outcome": outcome}
            before = snapshot.get("random")
            if before is not None and random.getstate() != before:
                case["random_state"] = serialise.encode(before)
            self._offer(case)
        except _PASS_THROUGH:
            raise
        except BaseException as error:  # some libraries derive errors from BaseException
            self.fail(error)
        finally:
            _guard.busy = False

    def _outcome(self, returned: Any, raised: Optional[BaseException]) -> Optional[dict]:
        if raised is not None:
            return self.exception_outcome(raised)
        try:
            data = serialise.encode(returned, _state.max_depth)
            serialise.check_round_trip(returned, data)
        except serialise.Unserialisable as error:
            self.skip("unserialisable return value", str(error))
            return None
        return {"returned": data}

    def exception_outcome(self, error: BaseException) -> Optional[dict]:
        klass = type(error)
        if locate.locate(locate.find_module(klass.__module__), klass.__qualname__) is not klass \
                and klass.__module__ != "builtins":
            self.skip("exception type not importable", _qualified_type_name(klass))
            return None
        try:
            message = str(error)
        except Exception:
            self.skip("exception message unavailable", _qualified_type_name(klass))
            return None
        return {"raised": {"type": _qualified_type_name(klass), "message": message}}

    def _offer(self, case: dict) -> None:
        text = serialise.dumps(case)
        sink = _state.sink
        live = self.live
        with live.lock:
            if text in live.cases:
                _state.stats["skipped: duplicate"] += 1
                return
            if sink is None or not self.gate:
                _state.stats["skipped: budget"] += 1
                return
            live.cases.add(text)
            if sink.accept(self, case):
                self.accepted += 1
                live.refused_in_a_row = 0
                live.calls_without_news = 0
                if self.accepted >= _state.budget:
                    self.close_gate()


def _named_like(forwarder: Any, wrapped: Any) -> Any:
    """Give the forwarding generator/coroutine the user's name (repr, ``__qualname__``).

    ``gi_code``/``cr_code`` and frames stay the forwarder's: they cannot be reassigned.
    """
    try:
        forwarder.__name__ = wrapped.__name__
        forwarder.__qualname__ = wrapped.__qualname__
    except Exception:
        pass
    return forwarder


class _RecordingGenerator:
    """Forwards a generator faithfully (PEP 380 semantics) and records what it yields."""

    def __init__(self, function: FunctionRecord, snapshot: dict, generator: Any) -> None:
        self.function = function
        self.snapshot = snapshot
        self.generator = generator
        self.items: list = []
        self.sent_values = False
        self.truncated = False

    def _keep(self, item: Any) -> None:
        if len(self.items) >= ITEM_LIMIT:
            self.truncated = True
            return
        _guard.busy = True
        try:
            data = serialise.encode(item, _state.max_depth)
            serialise.check_round_trip(item, data)
            self.items.append(data)
        except serialise.Unserialisable as error:
            self.function.skip("unserialisable yielded value", str(error))
            self.snapshot = None  # type: ignore[assignment]
        except Exception as error:
            self.function.fail(error)
            self.snapshot = None  # type: ignore[assignment]
        finally:
            _guard.busy = False

    def _end(self, end: dict) -> None:
        if self.snapshot is None:
            return
        if self.truncated:
            # Only the first ITEM_LIMIT items are known: replay compares those and
            # leaves the generator open, whatever came after.
            end = {"end": "open"}
        if self.sent_values:
            self.function.skip("generator driven with send()", "replay cannot reproduce sent values")
            return
        end["items"] = self.items
        end["truncated"] = self.truncated
        self.function.finish(self.snapshot, outcome={"generator": end})

    def run(self):
        generator = self.generator
        try:
            try:
                item = next(generator)
            except StopIteration as stop:
                self._end_returned(stop.value)
                return stop.value
            while True:
                if self.snapshot is not None:
                    self._keep(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    self._end({"end": "open"})
                    generator.close()
                    raise
                except BaseException as thrown:
                    self.snapshot = None  # type: ignore[assignment]  # throw() cannot be replayed
                    try:
                        item = generator.throw(thrown)
                    except StopIteration as stop:
                        return stop.value
                else:
                    try:
                        if sent is None:
                            item = next(generator)
                        else:
                            self.sent_values = True
                            item = generator.send(sent)
                    except StopIteration as stop:
                        self._end_returned(stop.value)
                        return stop.value
        except Exception as error:
            if self.snapshot is not None:
                outcome = self.function.exception_outcome(error) if not isinstance(error, GeneratorExit) else None
                if outcome is not None:
                    self._end({"end": "raised", "raised": outcome["raised"]})
                self.snapshot = None  # type: ignore[assignment]
            raise

    def _end_returned(self, value: Any) -> None:
        if self.snapshot is None:
            return
        _guard.busy = True
        try:
            data = serialise.encode(value, _state.max_depth)
            serialise.check_round_trip(value, data)
        except serialise.Unserialisable as error:
            self.function.skip("unserialisable return value", str(error))
            self.snapshot = None  # type: ignore[assignment]
            return
        except Exception as error:
            self.function.fail(error)
            return
        finally:
            _guard.busy = False
        self._end({"end": "returned", "returned": data})
        self.snapshot = None  # type: ignore[assignment]


async def _record_coroutine(function: FunctionRecord, snapshot: dict, coroutine: Any) -> Any:
    try:
        result = await coroutine
    except Exception as error:
        function.finish(snapshot, raised=error)
        raise
    function.finish(snapshot, returned=result)
    return result


async def _record_async_generator(function: FunctionRecord, snapshot: Optional[dict], agen: Any):
    """Async twin of :class:`_RecordingGenerator`: forwards asend/athrow/aclose."""
    items: list = []
    truncated = False
    faithful = True
    try:
        try:
            item = await agen.__anext__()
        except StopAsyncIteration:
            if snapshot is not None:
                function.finish(snapshot, outcome={"generator": {"end": "returned", "returned": None,
                                                                 "items": [], "truncated": False}})
            return
        while True:
            if snapshot is not None and len(items) < ITEM_LIMIT:
                _guard.busy = True
                try:
                    data = serialise.encode(item, _state.max_depth)
                    serialise.check_round_trip(item, data)
                    items.append(data)
                except serialise.Unserialisable as error:
                    function.skip("unserialisable yielded value", str(error))
                    snapshot = None
                finally:
                    _guard.busy = False
            elif snapshot is not None:
                truncated = True
            try:
                sent = yield item
            except GeneratorExit:
                if snapshot is not None and faithful:
                    function.finish(snapshot, outcome={"generator": {"end": "open", "items": items,
                                                                     "truncated": truncated}})
                snapshot = None
                await agen.aclose()
                raise
            except BaseException as thrown:
                faithful = False
                item = await agen.athrow(thrown)
            else:
                if sent is not None:
                    faithful = False
                item = await (agen.__anext__() if sent is None else agen.asend(sent))
    except StopAsyncIteration:
        if snapshot is not None and faithful:
            function.finish(snapshot, outcome={"generator": {"end": "returned", "returned": None,
                                                             "items": items, "truncated": truncated}})
    except Exception as error:
        if snapshot is not None and faithful:
            outcome = function.exception_outcome(error)
            if outcome is not None:
                function.finish(snapshot, outcome={"generator": {"end": "raised", "raised": outcome["raised"],
                                                                 "items": items, "truncated": truncated}})
        raise


def _resolve_for_pickle(module: str, qualname: str, role: str) -> Any:
    """Unpickling target: whatever ``module.qualname`` is now (wrapped or not)."""
    import importlib

    target = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


class _PicklingMixin:
    """wrapt proxies refuse to pickle; a function pickles by qualified name, so do we.

    ``copy``/``deepcopy`` of a function return the function itself: so do we.
    """

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_resolve_for_pickle, (self.__module__, self.__qualname__, ""))

    def __reduce__(self) -> Any:
        return self.__reduce_ex__(2)

    def __copy__(self) -> Any:
        return self

    # A Python subclass of a wrapt proxy gets an instance __dict__ of its own, hiding the
    # proxied function's (functools.wraps would then copy the wrong attributes).
    @property
    def __dict__(self) -> Any:  # type: ignore[override]
        return self.__wrapped__.__dict__

    def __deepcopy__(self, memo: dict) -> Any:
        return self


class BoundRecordingWrapper(_PicklingMixin, wrapt.BoundFunctionWrapper):
    def __reduce_ex__(self, protocol: int) -> Any:
        instance = self._self_instance
        if instance is None:
            return super().__reduce_ex__(protocol)
        # As Python pickles a bound method: the instance (or class) and the name.
        return (getattr, (instance, self.__name__))


class RecordingWrapper(_PicklingMixin, wrapt.FunctionWrapper):
    __bound_function_wrapper__ = BoundRecordingWrapper


def instrument(module: str, role: str = "") -> Callable[[Callable], Callable]:
    """The decorator the transformer adds, innermost, to every function it instruments."""

    def decorate(function: Callable) -> Callable:
        try:
            record = FunctionRecord(function, module, role)
            wrapper = RecordingWrapper(function, record, record.gate.__len__)
            record.wrapper = wrapper
            _state.functions.append(record)  # list.append is atomic: no lock at import time
            return wrapper
        except Exception as error:  # never break the user's import
            log.error("function.not_instrumented", function=f"{module}.{getattr(function, '__qualname__', '?')}",
                      error=f"{type(error).__name__}: {error}")
            return function

    return decorate


# -- side effects: a call that writes files, starts processes or talks to the network is
# not recorded (its replay would do it again). Python's audit events tell us, for free
# when no recorded call is running.
_SIDE_EFFECT_EVENTS = frozenset({
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.link", "os.symlink",
    "os.chmod", "os.chown", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.fork", "os.kill",
    "socket.connect", "socket.sendto", "socket.bind",
})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_audit_installed = False


def _writes(arguments: tuple) -> bool:
    path, mode, flags = (tuple(arguments) + (None, None, None))[:3]
    if isinstance(path, (str, bytes)) and (str(path).endswith(".pyc") or "__pycache__" in str(path)):
        return False  # the interpreter's own bytecode cache, not the user's doing
    if isinstance(mode, str):
        return any(letter in mode for letter in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def _audit(event: str, arguments: tuple) -> None:
    calls = _guard.calls
    if not calls or _guard.busy:
        return
    if event == "open":
        if not _writes(arguments):
            return
    elif event not in _SIDE_EFFECT_EVENTS:
        return
    for snapshot in calls:
        snapshot.setdefault("side_effect", event)


# -- control, used by the recorder only ---------------------------------------------------
def start(sink: Sink, budget: int, max_depth: int) -> None:
    global _audit_installed
    if not _audit_installed and hasattr(sys, "addaudithook"):
        # Audit hooks cannot be removed: installed once, a no-op outside recorded calls.
        _audit_installed = True
        sys.addaudithook(_audit)
    _state.sink = sink
    _state.budget = budget
    _state.max_depth = max_depth
    with _state.registry_lock:
        for record in _state.functions:
            if not record.disabled and record.accepted < budget:
                record.open_gate()


def stop() -> None:
    _state.sink = None
    with _state.registry_lock:
        for record in _state.functions:
            record.close_gate()


def functions() -> list[FunctionRecord]:
    with _state.registry_lock:
        return list(_state.functions)


def stats() -> collections.Counter:
    return _state.stats


def _after_fork_in_child() -> None:
    # A fork child must not inherit held locks or the parent's half-state.
    _state.registry_lock = threading.Lock()
    _guard.calls = None  # the child is not inside the parent's calls
    for record in _state.functions:
        if record._live is not None:
            record._live.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

