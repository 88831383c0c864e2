"""What instrumented modules call at run time: the recording hooks and wrapper.

A plain function records inside its own body (:mod:`cleanup_trace.inline`): its hooks
(builtins set here) call :func:`_inline_enter` and :func:`_inline_leave`. Generators and
coroutines record through a ``wrapt`` wrapper (:class:`RecordingWrapper`); both end in a
:class:`FunctionRecord`.

Knows nothing of files or configuration: the recorder hands it a budget, a depth and a
*sink* (``accept(function, case) -> bool``) through :func:`start`, and takes them away with
:func:`stop`. The rules, each one a trap (DESIGN.md section 5):

* cheap first: a per-function *gate*. A function recording in its body asks
  ``_open_gates.get(key)`` (one builtin call), which is taken out of its code once its
  recording is over; a wrapper's gate is a ``bytearray`` given to wrapt as
  ``enabled=``, tested in C, and once nothing else holds the wrapper the plain function
  is put back where the wrapper was (:meth:`FunctionRecord.close_gate`);
* cheap at import: two dict entries per ``def`` recording in its body (a wrapper and its
  gate for a generator or coroutine); the recording state of a function, its gate
  object included, is created at its first recorded call;
* a thread-local guard, checked first: serialising ``self`` runs the user's instrumented
  ``__getstate__``/``__eq__``/``__repr__``, which must neither record nor recurse;
* arguments are serialised *before* the call (the callee may mutate them);
* exceptions are recorded as outcomes and re-raised untouched (bare ``raise``);
  ``BaseException`` (``KeyboardInterrupt``, ``SystemExit``, ``GeneratorExit``) is not recorded;
* generators stay lazy: a forwarding generator keeps ``send``/``throw``/``close`` and the
  return value, and records at most ``ITEM_LIMIT`` items;
* what a running recorded call does is told to it (the running calls: a thread-local
  stack, a ``ContextVar`` for coroutines): effects outside the process (audit events) and
  reads of the clock (:func:`clock_read`, where the transformer found them) keep it from
  being stored;
* a wrapper's frame between a recorded generator or coroutine and its caller is skipped
  by warnings' and logging's ``stacklevel`` like importlib's (:data:`WRAPPER_FILE`);
* any error of the tool disables recording for that one function, logs once, and the
  user's call proceeds as if the tool were not there.
"""
from __future__ import annotations

import atexit
import builtins
import collections
import contextlib
import contextvars
import datetime
import gc
import itertools
import operator
import os
import pathlib
import random
import re
import sys
import tempfile
import threading
import time
import types
import weakref
from typing import Any, Callable, Iterator, NamedTuple, Optional, Protocol

from cleanup_trace._wrapt import wrapt

from cleanup_trace import _json, bodies, filters, inline, locate, random_state
from cleanup_trace._identity import identity as _identity
from cleanup_trace.effects import (SETTING_TYPES, SIDE_EFFECT_EVENTS, bytecode_cache, during_an_import,
                                    module_importing, writes)
from cleanup_trace.compare import (has_own_eq, instance_dict, namespace_of, object_state, same_text,
                                   slot_descriptors)
from cleanup_trace.rewrite import (CLOCK_HOOK, CURRENT_DIRECTORY_CALLS, HANDLED_EXCEPTION_READS, HELPER_NAME,
                                   RELATIVE_PATH, SHARED_COUNTER, STDIN_READ, SYSTEM_RANDOM_METHOD, THREAD_LOCAL,
                                   THREAD_LOCAL_CHANGE, TRACEBACK_ATTRIBUTE, TRACEBACK_CALLS)
from cleanup_trace._log import log

ITEM_LIMIT = 50  # generator items recorded per case
# A function whose values keep being refused (unserialisable, not round-tripping) stops
# being tried: each refusal costs a full serialisation.
REFUSALS_IN_A_ROW = 3
# Later calls with the arguments of a recorded case whose outcome is compared with the
# recorded one: the same arguments giving another result means the function reads state
# it is not given (a global, a thread-local such as a locale, the clock).
CONSISTENCY_CHECKS = 3
# Outcomes stored in more characters than this are not checked: encoding the outcome again
# is what a check costs, and a large one (a parse action holding a grammar, pickled by
# value) costs as much as the recorded call did, three more times.
CHECKED_OUTCOME_LIMIT = 4000
# Calls without a new case for which a full budget keeps the gate open for those checks.
# Each call in that window pays the fingerprint and the budget's refusal (python-stdnum:
# 29,000 calls, a tenth of its recording's cost at 50). Over eight suites (python-stdnum,
# tomlkit, json5, parsy, markdown, toolz, boltons, num2words), no check made after the
# budget was full found a function inconsistent, and four in five of those checks came
# within the first 20 calls.
CHECK_WINDOW = 20
# Calls that were encoded in full and still gave nothing new (alike once encoded,
# refused by the writer, refused values), in a row: past that, stop paying for them.
TRIES_WITHOUT_NEWS = 10
# A function called this often with no new case since its last one is saturated: its
# gate closes, so hot functions that repeat themselves stop paying for the fingerprint.
CALLS_WITHOUT_NEWS = 300
# A module function whose wrapper is still held by something else when nothing of ours
# runs it is tried this many times before it keeps its wrapper for good.
DETACH_ATTEMPTS = 8
# Storing checks that a value decodes back equal to itself, which costs as much as the
# encode. Values made only of types whose values came back equal this many times, and
# never failed to for the function storing them, skip the check (see
# FunctionRecord._untrust; a function stored by value counts as its code, with what
# its cells hold: serialise._trust_key; one stored by name is no type of the value, it
# decodes as itself; a bound method is judged as its object's type is). Measured on
# tomlkit, glom, jinja2, click, boltons, toolz, pyparsing, marshmallow and voluptuous:
# no check failed on such a value.
TRUSTED_AFTER_ROUND_TRIPS = 5
_NEVER_TRUSTED = frozenset({types.FunctionType, None})
_STRUCTURAL = frozenset({tuple, set, frozenset})  # (their items are judged by their own types)
# Garbage collections between two such tries once nothing of ours runs any more.
DETACH_COLLECTIONS = 16
_OPEN = b"\x01"
_CO_GENERATOR, _CO_COROUTINE, _CO_ASYNC_GENERATOR = 0x20, 0x80, 0x200
_NO_VALUE = object()
_ABSENT = _identity(_NO_VALUE)  # (in the identities a watched global may hold: it may be missing)
# In a tuple: freezegun swaps every *module attribute* holding the real datetime class or
# time function (ours too), never what containers hold.
_REAL_CLOCK = (time.time, datetime.datetime)
_REAL_MONOTONIC = (time.monotonic,)  # (in a tuple: freezegun swaps module attributes holding it)
_REFUSED = object()  # what FunctionRecord.store returns for a value it did not store
_HALF_BUILT = frozenset({"__init__", "__new__", "__setstate__", "__post_init__"})


# The serialiser (with dill and jsonpickle) is imported at the first recorded call: a
# process that records nothing pays nothing for it, and included modules import faster
# while the heap is still small (every garbage collection walks all of it).
serialise: Any = None


def _load_serialiser() -> None:
    global serialise
    from cleanup_trace import serialise as module

    module.module_object_reference = _module_object_reference
    module.found_on_added_path = _found_on_added_path
    serialise = module


# Objects bound at module level that their module's code uses by identity (``x is T``,
# ``{T: "T"}``, found by the transformer) and that compare by identity, or of a class
# made inside a function (no importable name to decode them by value): id -> (module,
# name, state digest when the module finished importing). While unchanged they are
# stored by name: a stored copy would be another object, never ``is`` nor ``==`` to them.
_module_objects: dict[int, tuple] = {}  # ... (module, name, digest[, key])
_DIGEST_LIMIT = 200  # values: a bigger object is stored by value, as any other
# Items of module-level tables (a dict, list or tuple bound at module level) that are
# objects of your classes: ``CONVERTERS["en"]`` (num2words' converter, held as ``self``
# by every case of its methods, 76 kB each stored by value), ``EMOJI_DATA["👨"]``
# (emoji's entries, returned by its tokenizer: a copy misses the languages loaded since).
# Stored as ``module.TABLE[key]`` while unchanged, as the names above. Their digests may
# be bigger (a converter's tables); the items looked at and the values their digests
# hold are bounded per module (time and memory at import: emoji's 5,244 entries take 20 ms).
_TABLE_DIGEST_LIMIT = 2000
_TABLE_ITEMS_NOTED = 20000
_TABLE_VALUES_NOTED = 200000
_TABLE_TYPES = (dict, list, tuple)
_NO_KEY = object()


def _state_digest(value: Any, limit: int = _DIGEST_LIMIT) -> Optional[tuple]:
    """Every type and scalar reachable through instance dicts, slots and builtin
    containers (functions, classes and modules by identity), in walk order: equal
    digests, same state. ``None`` past ``limit`` values. Runs no user code."""
    parts: list = []
    stack, seen = [value], set()
    while stack:
        if len(parts) > limit:
            return None
        item = stack.pop()
        kind = type(item)
        if item is None or kind in (bool, int, float, complex, str, bytes):
            parts.append(item)
            continue
        parts.append(kind)
        identity = _identity(item)
        if identity in seen:
            continue
        seen.add(identity)
        base = kind if kind in _CONTAINERS else _container_base(kind)
        if base is list or base is tuple:
            parts.append(base.__len__(item))
            stack.extend(base.__iter__(item))  # (the builtin's own: a subclass's code never runs)
        elif base is dict:
            parts.extend(dict.keys(item))  # the keys, in order
            stack.extend(dict.values(item))
        elif kind is set or kind is frozenset:
            parts.append(frozenset(member for member in item if type(member) in (int, str, bytes)))
            parts.append(len(item))
        elif issubclass(kind, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
            parts.append(identity)
            continue
        if base is not kind:
            # (an object's attributes; a subclass of dict or list has both: emoji's
            # entries gain an item per language loaded)
            state = object_state(item) or {}
            parts.extend(state)
            stack.extend(state.values())
    return tuple(parts)


_CONTAINERS = (dict, list, tuple, set, frozenset)
_container_bases: dict[type, Optional[type]] = {}


def _container_base(kind: type) -> Optional[type]:
    """The builtin container ``kind`` derives from (a namedtuple: ``tuple``; an
    OrderedDict: ``dict``), or None; told by the class, never by ``isinstance``, which
    reads an object's ``__class__`` (a proxy's own code)."""
    base = _container_bases.get(kind, _NO_VALUE)
    if base is _NO_VALUE:
        if len(_container_bases) >= 4096:
            _container_bases.clear()  # (it holds the classes: a program making classes would grow it)
        base = _container_bases[kind] = next((builtin for builtin in _CONTAINERS if issubclass(kind, builtin)), None)
    return base


def _compared_by_identity(value: Any) -> bool:
    return not has_own_eq(value) and _storable_by_name(value)


def _storable_by_name(value: Any) -> bool:
    """An object of a class of yours (not a class, module or function: those are stored
    by name anyway), which a module-level name may stand for in a data file."""
    kind = type(value)
    # issubclass of the type, not isinstance: that would ask the object for __class__.
    return kind.__module__ != "builtins" and not issubclass(
        kind, (type, types.ModuleType, types.FunctionType, RecordingWrapper))


def _module_object_reference(value: Any) -> Optional[tuple]:
    """``(module, name)`` for such an object, still bound there and unchanged, else None;
    ``(module, name, key)`` for an item of a module-level table, still there."""
    entry = _module_objects.get(_identity(value))
    if entry is None:
        return None
    module, name, digest, key = entry if len(entry) == 4 else entry + (_NO_KEY,)
    owner, _, attribute = name.rpartition(".")
    if owner:  # a class attribute, read from the class's own namespace
        klass = locate.module_attribute(sys.modules.get(module), owner)
        found = namespace_of(klass).get(attribute) if isinstance(klass, type) else None
    else:
        found = locate.module_attribute(sys.modules.get(module), name)
    if key is not _NO_KEY:
        found = _table_item(found, key, _NO_VALUE)
    if found is not value or _state_digest(value, len(digest)) != digest:
        return None  # rebound, or its state changed: stored by value, as it is now
    return (module, name) if key is _NO_KEY else (module, name, key)


def _table_item(table: Any, key: Any, default: Any) -> Any:
    """``table[key]`` for a dict, list or tuple (never a subclass's look-up: user code),
    else ``default``."""
    if type(table) is dict:
        return table.get(key, default)
    if (type(table) is list or type(table) is tuple) and type(key) is int and 0 <= key < len(table):
        return table[key]
    return default


def _note_table_items(module: str, namespace: dict, by_module: dict) -> None:
    """Note the items of the module's tables that are objects of your classes (see
    ``_TABLE_DIGEST_LIMIT``), as its body left them."""
    items_left, values_left = _TABLE_ITEMS_NOTED, _TABLE_VALUES_NOTED
    # Objects whose digest went past its limit: a table holds the same object under many
    # keys (sqlparse's KEYWORDS: 540 entries, 6 token types), each walked to the limit again.
    too_big: set = set()
    for name, table in list(namespace.items()):
        if type(table) not in _TABLE_TYPES or name.startswith("__"):
            continue
        items = list(itertools.islice(table.items() if type(table) is dict else enumerate(table), items_left))
        items_left -= len(items)
        for key, item in items:
            if (type(key) is str or type(key) is int) and type(item).__module__ in by_module \
                    and _identity(item) not in _module_objects and _identity(item) not in too_big \
                    and _storable_by_name(item):
                digest = _state_digest(item, min(_TABLE_DIGEST_LIMIT, values_left))
                if digest is None:
                    too_big.add(_identity(item))
                    continue
                _module_objects[_identity(item)] = (module, name, digest, key)
                values_left -= len(digest)
                if values_left <= 0:
                    return
        if items_left <= 0:
            return


# Interruptions belong to the user; anything else raised while the tool works is the tool's.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)


class Sink(Protocol):
    def accept(self, function: "FunctionRecord", case: dict, text: Optional[str] = None,
               texts: Optional[dict] = None) -> bool: ...

    def retract(self, function: "FunctionRecord") -> int: ...

    def complete(self, function: "FunctionRecord") -> None: ...  # (it takes no more cases)


class _Guard(threading.local):
    busy = False
    # Snapshots of the recorded synchronous calls running in this thread, innermost last.
    calls: Optional[list] = None
    # The last refused store failed only because one of your modules was importing.
    refused_for_now = False


_guard = _Guard()
# Snapshots of the recorded coroutines and async generators running in this task (a
# thread runs many tasks: what one of them does must be told to its own calls only).
_async_calls: contextvars.ContextVar = contextvars.ContextVar("cleanup_trace_async_calls", default=())


class _State:
    def __init__(self) -> None:
        self.sink: Optional[Sink] = None
        self.budget = 5
        self.max_depth = 500
        self.value_limit = 1000
        # Classes blamed for failed encodes (see _blame_for) -> the functions whose calls
        # failed, and the classes refused up front from now on: a class that did not
        # survive storing in two functions' calls, and never did, will not the third time;
        # every try costs a full encode and decode. (Two functions: a constructor's helper
        # sees its half-built ``self`` at every call.)
        self.blamed: collections.defaultdict = collections.defaultdict(set)
        self.refused_classes: set = set()
        # The objects themselves (id -> weak reference) that failed so: a registry, a
        # scope, an environment handed to every function of a library fails each time
        # (glom's scope), whether or not other objects of its class stored.
        self.failed_objects: dict = {}
        # Classes of the first arguments the survey refused on their own, when it refuses
        # every object of the class but a module's own (see _note_refused_argument).
        self.never_rebuilt: set = set()
        # Classes -> how many stored values held them; and how many lasting failures were
        # blamed on each (a class that stored now and then, and keeps failing: below).
        self.stored_classes: collections.Counter = collections.Counter()
        self.failures: collections.Counter = collections.Counter()
        # Types and the values of theirs that came back equal (see TRUSTED_AFTER_ROUND_TRIPS),
        # and those never trusted (those that failed for a function: its _Live.untrusted).
        self.round_trips: collections.Counter = collections.Counter()
        self.never_trusted: frozenset = _NEVER_TRUSTED
        # (constructor's key, class of its half-built self) -> its arguments that came back
        # equal: a constructor's ``self`` on entry has the same few attributes every time.
        self.half_built_round_trips: collections.Counter = collections.Counter()
        self.environ_at_start: dict = {}
        self.environ_touched = False
        self.environ_raw_at_start: Optional[dict] = None  # (os.environ's encoded items)
        self.environ_seen: Optional[tuple] = None  # (encoded items, changes) at the last look
        self.argv_at_start: Any = None
        self.search_path: set = set()  # (see note_search_path)
        self.temporary: Optional[re.Pattern] = None  # see _transient_path_in
        self.temporary_given: list[str] = []
        self.written_files: set[str] = set()  # opened for writing while recording
        self.modules: list[ModuleInstrumenter] = []
        # Module functions whose gate closed while something held their wrapper (their
        # own call, at least): the plain function goes back once nothing does.
        self.pending_detach: list[FunctionRecord] = []
        self.held_elsewhere: list[FunctionRecord] = []  # (see FunctionRecord._wait_for_detach)
        self.put_back_at = 0.0  # (time.monotonic() of the last put_back_waiting round)
        self.collections = 0  # garbage collections seen while some were pending
        self.stats: collections.Counter = collections.Counter()
        self.registry_lock = threading.Lock()


_state = _State()


def _temporary_directories(*directories: str) -> Optional["re.Pattern[str]"]:
    """What the paths of pytest's ``tmp_path`` and of ``tempfile.mkdtemp()`` start with,
    and the ``directories`` (a ``--basetemp``) given whole.

    Only those: a project may well live under the temporary directory itself."""
    def alternatives(path: str) -> str:
        forms = {path.rstrip("/\\"), os.path.realpath(path).rstrip("/\\")}  # macOS: /var -> /private/var
        return "|".join(sorted(map(re.escape, forms)))

    try:
        system = alternatives(tempfile.gettempdir())
    except Exception:  # no usable temporary directory: only the ones given
        system = None
    patterns = [rf"(?:{system})[/\\](?:pytest-of-|tmp[\w-]{{8}}(?:[/\\]|$))"] if system else []
    patterns += [rf"(?:{alternatives(directory)})[/\\]" for directory in directories]
    return re.compile("|".join(patterns)) if patterns else None


def note_search_path() -> None:
    """The directories on sys.path now are ones a replay has too: those at recording start,
    and (the pytest plugin calls this once its collection is over) those pytest put there
    for the conftests and test files it collected, which a replay's run collects too."""
    _state.search_path.update(filters.real_directory(os.path.abspath(entry or os.curdir))
                              for entry in list(sys.path) if isinstance(entry, str))
    _added_seen[0] = None  # (see _added_search_path)


def _found_on_added_path(module_name: str) -> Optional[str]:
    """The directory a module was imported from when it is no directory of
    :func:`note_search_path` (a test put it on sys.path: arpeggio's ``test_examples``
    adds each of its ``examples/`` directories), else None. Not judged (None): a module
    not imported from a file of its own (built in, frozen, a zip archive, a namespace)."""
    top = sys.modules.get(module_name.partition(".")[0])
    spec = getattr(top, "__spec__", None)
    origin = getattr(spec, "origin", None)
    if not isinstance(origin, str) or not getattr(spec, "has_location", False) or not os.path.isfile(origin):
        return None
    directory = os.path.dirname(origin)
    if spec.submodule_search_locations is not None:  # a package: the directory holding it
        directory = os.path.dirname(directory)
    return None if filters.real_directory(directory) in _state.search_path else directory


def note_temporary_directory(directory: str) -> None:
    """Paths under ``directory`` are temporary too (pytest's ``--basetemp``)."""
    _state.temporary_given.append(str(directory))
    _state.temporary = _temporary_directories(*_state.temporary_given)


def _of_your_packages(path: str) -> bool:
    """A path inside a package of yours is the project's, wherever the project is (see
    package_paths), even in a temporary directory."""
    if serialise is None:
        _load_serialiser()
    return serialise.inside_your_packages(path)


_TEMPORARY = "names a temporary file", "(a test's tmp_path, a tempfile directory) will be gone when it replays"
_RELATIVE = "names a path relative to the current directory", "(where the run was): replay runs elsewhere"
_WRITTEN = "names a file written during the run", "(a test's input file) will be gone or changed when it replays"


def _transient_path_in(value: Any, depth: int = 0) -> Optional[tuple[str, str]]:
    """The skip reason and detail for a path the run made, named by a string, a
    ``pathlib`` path or an item of a list, tuple, set or dict value (three levels, twenty
    items each), or an argument's own attribute (parso's ``FileIO`` holds its path; not
    deeper: num2words' converters hold hundreds of texts): an existing file or directory
    in a temporary directory, or a file opened for writing earlier in the run (see
    ``_note_event``). Replay will not have it."""
    if isinstance(value, (str, pathlib.PurePath)):
        text = str(value)
        pattern = _state.temporary
        if pattern is not None and pattern.match(text) and os.path.exists(text) and not _of_your_packages(text):
            return _TEMPORARY[0], f"{text} {_TEMPORARY[1]}"
        written = _state.written_files
        if written and len(text) < 4096 and (os.sep in text or "." in text) and os.path.abspath(text) in written:
            return _WRITTEN[0], f"{text} {_WRITTEN[1]}"
        if os.sep in text and len(text) < 4096 and not os.path.isabs(text) and "\n" not in text \
                and os.path.exists(text):
            # (mako's ``make_path("./setup.cfg")``, a file a test made after ``chdir``)
            return _RELATIVE[0], f"{text} {_RELATIVE[1]}"
        return None
    if depth >= 3:
        return None
    kind = type(value)
    if kind is dict:
        items: Any = value.values()
    elif kind is list or kind is tuple or kind is set or kind is frozenset:
        items = value
    elif depth == 1:  # (an argument: ``full_args`` is depth 0)
        attributes = instance_dict(value)  # (as pickling reads it: no code of the object's runs)
        if not attributes:
            return None
        items = [item for item in attributes.values() if isinstance(item, (str, pathlib.PurePath))]
    else:
        return None
    for index, item in enumerate(items):
        if index == 20:
            break
        found = _transient_path_in(item, depth + 1)
        if found is not None:
            return found
    return None


_MODULE_NAME = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)*")


_NAMES_LOOKED_AT = 50  # attributes of an argument looked at for module names, at most


def _module_names_in(args: tuple, kwargs: dict) -> tuple:
    """The arguments that could name a module (``PackageLoader("res")``,
    ``import_module(name)``): strings given, and the text attributes of the objects
    given (``self.pkg_name`` of lark's ``FromPackageLoader`` called as a method)."""
    values = [*args, *kwargs.values()] if kwargs else list(args)
    for value in values[:]:
        if type(value) is str or type(value) is types.ModuleType:
            continue
        if type(value) in (tuple, list, set, frozenset):
            # (pyrsistent's field types given as ``("record_test.Something",)``)
            if len(value) <= _NAMES_LOOKED_AT:
                values.extend(value)
            continue
        state = instance_dict(value)  # (as pickling reads it: never the object's own code)
        if state is not None and len(state) <= _NAMES_LOOKED_AT:
            values.extend(state.values())
    return tuple(value for value in values if type(value) is str and len(value) < 200 and _MODULE_NAME.fullmatch(value))


def _a_module_replay_lacks(names: Optional[tuple]) -> Optional[tuple[str, str]]:
    """Why (skip reason, detail) a module named by the call's arguments is one replay does
    not have, or None: the call (or the run before it) imported it from a test directory
    (a test's package put on ``sys.path``), or it is found, imported or not, in a
    directory the run put on ``sys.path`` (pyhocon's ``find_package_dirs("my_module")``,
    a package a test made in a temporary directory and put there: at replay, "No module
    named 'my_module'")."""
    added: Optional[tuple] = None
    for name in names or ():
        # (a dotted name may go on past its module: ``record_test.Something``)
        parts = name.split(".")
        for length in range(len(parts), 0, -1):
            module = ".".join(parts[:length])
            if module in sys.modules:
                if serialise._is_test_module(module):
                    return "names a test module", f"{module} is imported from the tests: replay does not have it"
                directory = _found_on_added_path(module)
                if directory is not None:
                    return _ADDED_MODULE, f"{module} is imported from {directory}, which the run put on sys.path"
                break
        else:  # imported by nobody yet: found through a directory the run added?
            if added is None:
                added = _added_search_path()
            for entry in added:  # (most runs: none)
                if os.path.isdir(os.path.join(entry, parts[0])) or os.path.isfile(os.path.join(entry, parts[0] + ".py")):
                    return _ADDED_MODULE, f"{parts[0]} is found in {entry}, which the run put on sys.path"
    return None


_ADDED_MODULE = "names a module replay does not have"
_added_seen: list = [None, ()]  # (sys.path as last looked at, the entries of it the run added)


def _added_search_path() -> tuple:
    """The entries of sys.path the run put there (see note_search_path): worked out again
    only when sys.path changed (a realpath each: most stored calls are given a text that
    could name a module)."""
    now = tuple(sys.path)
    if now != _added_seen[0]:
        _added_seen[:] = [now, tuple(entry for entry in now if isinstance(entry, str) and entry and
                                     filters.real_directory(os.path.abspath(entry)) not in _state.search_path)]
    return _added_seen[1]


def _qualified_type_name(klass: type) -> str:
    return f"{klass.__module__}.{klass.__qualname__}"


# A kind in a fingerprint is its number here (a method's function too): fingerprints are
# kept as long as their function's record, and a tuple holding a class stays one the
# garbage collector walks at every collection, a tuple of numbers and texts not (tomlkit:
# 7,000 of them, a full collection 10-25% slower). The numbers start past every int a
# fingerprint holds as itself, and are never given twice: equal fingerprints stay as
# equal, unequal ones as unequal, as with the kinds themselves. (Emptied with the records,
# but for the builtin kinds: a class of yours is not kept alive once recording is over.)
_FIRST_TOKEN = 10 ** 12
_BUILTIN_KIND_TOKENS = {kind: _FIRST_TOKEN + number for number, kind in enumerate(
    (str, bytes, int, float, bool, type, list, tuple, dict, set, frozenset, types.FunctionType, types.MethodType))}
_kind_tokens: dict = dict(_BUILTIN_KIND_TOKENS)
_next_token = itertools.count(_FIRST_TOKEN + len(_BUILTIN_KIND_TOKENS)).__next__


def _token(kind: Any) -> int:
    token = _kind_tokens.get(kind)
    if token is None:
        token = _kind_tokens.setdefault(kind, _next_token())  # (one number, whichever thread asks)
    return token


_STR, _BYTES, _INT, _FLOAT, _BOOL, _TYPE, _LIST, _TUPLE, _DICT, _SET, _FROZENSET, _FUNCTION, _METHOD = \
    _BUILTIN_KIND_TOKENS.values()
_TRUE_PRINT, _FALSE_PRINT = (_BOOL, True), (_BOOL, False)
# Strings up to this length are told apart by their hash (cached by the string object, so
# the same text given again costs nothing); longer ones by length and ends.
_HASHED_LENGTH = 1 << 16


def _fingerprint(value: Any, depth: int = 0) -> Any:
    """Cheap and hashable: equal fingerprints are *probably* equal calls.

    Kinds (as numbers, see _token), lengths, small scalars and a few items; the exact
    comparison happens later, on the serialised form, only for calls whose fingerprint is
    new. Runs at every call of a function whose gate is open: no generator, no list of
    all items.
    """
    kind = type(value)
    if kind is str or kind is bytes:
        size = len(value)
        if size <= 64:
            return value
        token = _STR if kind is str else _BYTES
        return (token, size, hash(value)) if size <= _HASHED_LENGTH else (token, size, value[:32], value[-32:])
    if kind is int:
        return value if -(10 ** 12) < value < 10 ** 12 else (_INT, value.bit_length())
    if value is None:
        return None
    if kind is bool:  # (True == 1 == 1.0: tagged, or f(True) would hide f(1))
        return _TRUE_PRINT if value else _FALSE_PRINT
    if kind is float:
        return (_FLOAT, "nan") if value != value else (_FLOAT, value)
    if kind is type or (depth < 2 and issubclass(kind, type)):
        # A class given as a value (stored by its name): which one, at any depth (a list of
        # token classes). Its namespace's first items say little: every class starts alike.
        return (_token(kind), _identity(value))
    if depth >= 2:
        return _token(kind)
    if kind is list or kind is tuple:
        # (a short text, a small int or None is its own fingerprint at any depth: the
        # arguments of most calls, told without a call; a loop, not a comprehension: the
        # arguments of every call of an open gate, half the time for ``f(1, 2)``)
        parts = [_LIST if kind is list else _TUPLE, len(value)]
        for item in value[:4]:
            inner = type(item)
            parts.append(item if inner is str and len(item) <= 64 or inner is int and -(10 ** 12) < item < 10 ** 12
                         or item is None else _fingerprint(item, depth + 1))
        return tuple(parts)
    if kind is dict:
        parts = [_DICT, len(value)]
        for key, item in itertools.islice(value.items(), 4):
            parts.append((_fingerprint(key, 2), _fingerprint(item, depth + 1)))
        return tuple(parts)
    if kind is set or kind is frozenset:
        return (_SET if kind is set else _FROZENSET, len(value))
    if kind is types.FunctionType:
        # Functions passed as values: different lambdas, or one closure over different
        # cells, are different calls.
        cells = []
        for cell in value.__closure__ or ():
            try:
                cells.append(_fingerprint(cell.cell_contents, depth + 1))
            except ValueError:  # an empty cell
                cells.append(None)
        return (_FUNCTION, value.__qualname__, _identity(value.__code__), tuple(cells))
    if kind is types.MethodType:  # (stored as its object's attribute: told apart by both)
        return (_METHOD, _token(value.__func__), _fingerprint(value.__self__, depth))  # (a view of its object)
    # (as pickling reads it, never the object's own code; no failing look-up for a
    # slotted object: pycparser's nodes, at every call)
    state = instance_dict(value)
    parts = [_token(kind)]
    if state is None:
        pass
    elif depth:
        # (what _fingerprint(item, 2) gives, the most frequent attributes told without a
        # call: a short text, a small int, None, an object's kind. An object's attributes
        # are fingerprinted at every call of its methods, 5,000 duplicates a run of a
        # recursive-descent parser's, and a call each was a fifth of the fingerprint.)
        for key, item in itertools.islice(state.items(), 6):
            inner = type(item)
            parts.append((key, item if inner is str and len(item) <= 64 or inner is int and -(10 ** 12) < item < 10 ** 12
                          or item is None else _fingerprint(item, 2) if inner in _LOOKED_AT_LAST else _token(inner)))
    else:
        for key, item in itertools.islice(state.items(), 6):
            parts.append((key, _fingerprint(item, 1)))
    # The items of a subclass of a builtin container (an OrderedDict, a Counter, a
    # library's dict or list), read by the builtin's own methods: else all of them would
    # look like the first one recorded, and every call given another like a duplicate.
    base = _container_base(kind)
    if base is dict:
        parts.append((dict.__len__(value), *[(_fingerprint(key, 2), _fingerprint(item, depth + 1))
                                             for key, item in itertools.islice(dict.items(value), 4)]))
    elif base is list or base is tuple:
        parts.append((base.__len__(value), *[_fingerprint(item, depth + 1)
                                             for item in base.__getitem__(value, slice(0, 4))]))
    elif base is not None:
        parts.append(base.__len__(value))
    # Slots too (lark's symbols keep their name in one): else every instance of a slotted
    # class would look like the first one recorded, and its other calls like duplicates.
    for name, descriptor in slot_descriptors(kind)[:6]:
        try:
            parts.append((name, _fingerprint(descriptor.__get__(value, kind), depth + 1)))
        except AttributeError:  # not set
            pass
    return tuple(parts)


# Kinds whose fingerprint at the last depth is more than the kind (see _fingerprint).
_LOOKED_AT_LAST = frozenset({str, bytes, int, bool, float, type})


_NO_TOKEN = object()  # (no running call's token: see _outer_token)
_NO_KINDS: frozenset = frozenset()


def _outer_token(outer: dict) -> object:
    """The token of the outermost running call ``outer`` (its snapshot), for
    ``_Live.clean_under``: told apart by identity as the snapshot itself was, without
    keeping the snapshot (its arguments' forms) alive once its call ended, for every
    function it called. Made at first need."""
    token = outer.get("token")
    if token is None:
        token = outer["token"] = object()  # (not tracked by the collector: nothing inside)
    return token


class _Live:
    """The part of a function's recording state needed only once it is called."""

    __slots__ = ("attempts", "fingerprints", "cases", "reported", "lock", "refused_in_a_row", "calls_without_news",
                 "tries_without_news", "checkable", "clean_under", "untrusted",
                 "arguments_checked")

    def __init__(self) -> None:
        self.attempts = 0
        self.refused_in_a_row = 0
        self.calls_without_news = 0
        self.tries_without_news = 0
        # fingerprint -> [call text, outcome text, checks made] of recorded plain cases
        self.checkable: dict = {}
        self.fingerprints: set = set()
        # (tuples of texts, which the garbage collector stops tracking: a few each)
        self.cases: tuple[str, ...] = ()
        self.reported: tuple[str, ...] = ()
        self.lock = threading.Lock()
        # The outermost recorded call running in this thread when this function's
        # globals were last found as its module made them (its token: see _outer_token).
        self.clean_under: object = _NO_TOKEN
        # Types whose values stored for this function failed the decoding check: checked
        # again at its every store (see FunctionRecord._untrust).
        self.untrusted: frozenset = _NO_KINDS
        # Were arguments it stored checked once? (see _writes_its_own_state)
        self.arguments_checked = False


class FunctionRecord:
    """Recording state of one instrumented function, created at its first recorded call.

    The sets and the lock of a function that records come later still, in :class:`_Live`.
    """

    __slots__ = ("module", "qualname", "role", "is_generator", "is_coroutine", "is_async_generator", "gate",
                 "accepted", "disabled", "raw", "owner", "_detached", "_live", "_detach_attempts", "_globals_read",
                 "_recording_code")

    def __init__(self, wrapped: Callable, owner: "ModuleInstrumenter", role: str, gate: bytearray) -> None:
        self.module = owner.module
        self.qualname: str = getattr(wrapped, "__qualname__", None) or getattr(wrapped, "__name__", "?")
        self.role = role
        # One read of co_flags instead of three inspect.is*function calls.
        flags = wrapped.__code__.co_flags if hasattr(wrapped, "__code__") else 0
        self.is_generator = bool(flags & _CO_GENERATOR)
        self.is_coroutine = bool(flags & _CO_COROUTINE)
        self.is_async_generator = bool(flags & _CO_ASYNC_GENERATOR)
        self.gate = gate
        self.accepted = 0
        self.disabled = False
        self.raw = wrapped
        self.owner = owner
        self._detached: Optional[tuple] = None
        self._live: Optional[_Live] = None
        self._detach_attempts = 0
        self._globals_read: Optional[_Watched] = None  # module globals its code names, made at first need
        self._recording_code: Optional[types.CodeType] = None  # its body recording inside, while it runs plain

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
    def half_built(self) -> bool:
        """A constructor's (``__init__``...): its ``self`` is half-built on entry."""
        return self.qualname.rpartition(".")[2] in _HALF_BUILT

    @property
    def is_async(self) -> bool:
        return self.is_coroutine or self.is_async_generator

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.module, self.qualname, self.role)

    @property
    def name(self) -> str:
        return ".".join(part for part in (self.module, self.qualname, self.role) if part)

    def close_gate(self, for_now: bool = False) -> None:
        """Stop recording this function (``for_now``: recording stops, the run may end)."""
        if self.gate:
            self.gate.clear()
        if type(self.gate) is _InlineGate:
            if not for_now:
                self._run_plain()
            return
        self._detach()

    def open_gate(self) -> None:
        self.gate[:] = _OPEN
        if type(self.gate) is _InlineGate:
            self._run_recording()
            return
        self._attach()

    def _run_plain(self) -> None:
        """A function recording in its body takes the same body without the call asking
        for its gate (:func:`cleanup_trace.bodies.without_gate_call`): its later calls
        skip the recording for the cost of a few tests of a local. (Its running calls
        keep the code they started with; the object stays the same, so does every
        reference.)"""
        if self._recording_code is not None:
            return
        try:
            function = self.raw
            recording = function.__code__
            plain = bodies.without_gate_call(recording)
            if plain is not None:
                self._recording_code = recording
                function.__code__ = plain
        except Exception as error:  # the recording body stays: slower, never wrong
            log.debug("function.plain_body_not_used", function=self.name, error=f"{type(error).__name__}: {error}")

    def _run_recording(self) -> None:
        recording, self._recording_code = self._recording_code, None
        if recording is not None:
            try:
                self.raw.__code__ = recording
            except Exception as error:  # (it stays plain: not recorded again)
                log.debug("function.recording_body_not_used", function=self.name,
                          error=f"{type(error).__name__}: {error}")

    def _slot(self) -> Optional[tuple]:
        """(container, attribute name) where this function's wrapper may sit directly."""
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
        if isinstance(container, type):
            name = locate.private_name(container, name)
        return container, name

    def _is_my_wrapper(self, value: Any) -> bool:
        return type(value) is RecordingWrapper and value.__wrapped__ is self.raw

    def _wait_for_detach(self) -> None:
        with _state.registry_lock:
            if self._detach_attempts < DETACH_ATTEMPTS:
                if self not in _state.pending_detach:
                    _state.pending_detach.append(self)
            elif self._detach_attempts < 2 * DETACH_ATTEMPTS and self not in _state.held_elsewhere:
                # Then only the rounds that look in the modules holding it by name (between
                # tests, at stop) try again: a look costs a scan of those modules.
                _state.held_elsewhere.append(self)

    def _detach(self, holders: Optional["_ModuleHolders"] = None) -> None:
        """Budget full or recording stopped: put the plain function back where the wrapper
        sits directly, so later calls cost nothing at all.

        A method is put back at once: it is bound anew at every access, nobody can hold
        the class's wrapper by identity in a way that matters. A module function is put
        back only when nothing but its module holds the wrapper (``from m import f``
        elsewhere, a registry, a ``partial``, a running call all do): then no reference
        anywhere can tell the two apart. Otherwise it waits in ``pending_detach``.
        """
        if self._detached is not None or type(self.gate) is _InlineGate:
            return  # (a function recording in its body has no wrapper to take away)
        try:
            slot = self._slot()
            if slot is None:
                return
            container, name = slot
            namespace = vars(container)
            value = namespace.get(name)
            if isinstance(container, type):
                if self._is_my_wrapper(value):
                    replacement: Any = self.raw
                elif type(value) in (staticmethod, classmethod) and self._is_my_wrapper(value.__func__):
                    replacement = type(value)(self.raw)
                else:
                    return
                setattr(container, name, replacement)
                self._detached = (container, name, value, replacement, None)
                return
            if not self._is_my_wrapper(value):
                return
            del value
            others = _other_holders(namespace, name)
            # (looked for only when something else holds it, and only in a round of retries)
            elsewhere = [] if not others or holders is None else [
                (other_namespace, other_name) for other_namespace, other_name in holders.of(namespace[name])
                if other_namespace is not namespace or other_name != name]
            if others and others != len(elsewhere):
                self._wait_for_detach()
                return
            wrapper = namespace[name]
            # Held by other modules only (``from m import f`` in a test module): the plain
            # function takes the wrapper's place in all of them at once, so no two
            # holders ever see two objects (never put back: see _attach).
            for other_namespace, other_name in elsewhere:
                other_namespace[other_name] = self.raw
            namespace[name] = self.raw
            self._detached = (container, name, wrapper, self.raw)
        except Exception:  # a read-only namespace or an odd metaclass: keep the wrapper
            self._detached = None

    def _tool_references(self) -> int:
        """References the tool itself keeps to the plain function of a detached record:
        ``self.raw``, the wrapper's ``__wrapped__``, ``_detached``, the module registry's
        ``gates`` and ``records`` keys (and ``roles``, for a setter or deleter)."""
        return 5 + (1 if self.role else 0)

    def _attach(self) -> None:
        detached, self._detached = self._detached, None
        if detached is None:
            return
        try:
            container, name = detached[0], detached[1]
            namespace = vars(container)
            if namespace.get(name) is not detached[3]:
                return
            if not isinstance(container, type) and _other_holders(namespace, name) != self._tool_references():
                # Someone took the plain function since (``from m import f`` after the
                # detach): putting the wrapper back would make their copy a different
                # object. The function is not recorded again in this process.
                self._detached = detached
                return
            setattr(container, name, detached[2])
        except Exception:
            pass

    def skip(self, reason: str, detail: str = "", for_good: bool = True) -> None:
        """Count a skipped case; log the first one of each reason for this function.
        (``for_good=False``: refused for the moment only, not a step towards giving up.)"""
        live = self.live
        live.refused_in_a_row += for_good
        if live.refused_in_a_row >= REFUSALS_IN_A_ROW and self.gate:
            self.close_gate()
            _state.stats["functions given up (cases kept being refused)"] += 1
        self._no_news()
        self._pass_over(reason, detail)

    def _no_news(self) -> None:
        live = self.live
        live.tries_without_news += 1
        if live.tries_without_news >= TRIES_WITHOUT_NEWS and self.gate:
            self.close_gate()
            _state.stats["functions saturated (no new case in a long while)"] += 1

    def fail(self, error: BaseException) -> None:
        """The tool itself failed here: stop recording this function, log once."""
        self.disabled = True
        self.close_gate()
        _state.stats["functions disabled by a tool error"] += 1
        log.error("function.disabled", function=self.name, error=f"{type(error).__name__}: {error}")

    def _snapshot(self, full_args: tuple, kwargs: dict) -> Optional[dict]:
        """Serialise the call before it runs; ``None`` when this call is not recorded."""
        _guard.busy = True
        try:
            if self.disabled or not self.gate:
                return None
            live = self.live
            live.calls_without_news += 1
            if live.calls_without_news > CALLS_WITHOUT_NEWS:
                self.close_gate()
                _state.stats["functions saturated (no new case in a long while)"] += 1
                return None
            if self.accepted >= _state.budget and live.calls_without_news > CHECK_WINDOW:
                self.close_gate()  # budget full and checked long enough: run unwatched
                return None
            if time.time is not _REAL_CLOCK[0] or datetime.datetime is not _REAL_CLOCK[1]:
                # A frozen or mocked clock (freezegun, mock.patch): the outcome belongs to
                # the patched time, which replay does not have. Not a refusal of the
                # function: its calls after the patch are recorded as usual.
                self._pass_over("clock patched", "time.time or datetime.datetime is replaced (freezegun, a mock)")
                return None
            refusal = _refused_up_front(full_args[0]) if full_args else None
            if refusal is not None:
                # (before the fingerprint: the methods of objects of a class made inside a
                # function, bleach's html5lib tree builders, are called many times over)
                self._refuse_up_front(live, refusal)
                return None
            if full_args and _state.failed_objects and _failed_before(full_args[0]):
                # (the object, not its class: a step towards giving the function up only as
                # much as a repeated call was, which its fingerprint would have told)
                self._refuse_up_front(live, serialise.failed_object_reason(type(full_args[0])), towards=False)
                return None
            # Called from an except block or not: one reads its caller's exception (see
            # clock_read), the other may not; as many cases as the same arguments.
            handling = sys.exc_info()[1] is not None
            fingerprint = (_fingerprint(full_args), _fingerprint(kwargs) if kwargs else None, handling)
            repeated = fingerprint in live.fingerprints
            if repeated and not (_guard.calls or _async_calls.get()) and (
                    not live.checkable or _check_due(live, fingerprint) is None):
                # Nothing is stored and no recorded call is running to be told of a patch:
                # the most frequent call of all needs no look at the globals (a tenth of
                # tomlkit's and markdown's recording time).
                _state.stats["skipped: duplicate call"] += 1
                return None
            # A repeated call inside the same outermost recorded call as a look that
            # found its globals unpatched: a test patches between the calls it makes, not
            # inside one (tomlkit: 13,000 looks, most of them in the same few calls).
            outer = _guard.calls[0] if repeated and _guard.calls and not _async_calls.get() else None
            if outer is not None and live.clean_under is outer.get("token") and (
                    not live.checkable or _check_due(live, fingerprint) is None):
                _state.stats["skipped: duplicate call"] += 1
                return None
            if not repeated and self.accepted >= _state.budget and (
                    not (_guard.calls or _async_calls.get()) or self._watched_by_running()):
                # Budget full, new arguments, no recorded call running to be told of a
                # patch (or none that does not watch this function's globals itself):
                # refused before looking at the globals (python-stdnum's 29,000, most of
                # them ``compact()`` inside a recorded ``validate()``).
                _state.stats["skipped: budget"] += 1
                return None
            if self._module_state_changed():
                return None
            watched = self._globals_read  # (made by _patched_global, unless its module is importing)
            if outer is not None:
                live.clean_under = _outer_token(outer)
            if repeated:
                check = self._consistency_probe(live, fingerprint, full_args, kwargs, handling)
                if check is None:
                    _state.stats["skipped: duplicate call"] += 1
                return check
            if self.accepted >= _state.budget:
                # Budget full, the gate still open while recorded cases are checked.
                _state.stats["skipped: budget"] += 1
                return None
            if self.accepted + self._running_here() >= _state.budget:
                # Its own calls still running in this thread may fill the budget: a
                # recursive parser 95 levels deep stored its whole state at every level,
                # for cases the budget then refused. (The arguments stay new.)
                _state.stats["skipped: budget"] += 1
                return None
            live.fingerprints.add(fingerprint)
            live.attempts += 1
            if live.attempts > 20 * _state.budget + 20:
                # Bounded work and memory for a function whose calls keep being refused.
                self.close_gate()
                self.skip("too many refused cases", "recording stopped for this function")
                return None
            transient = _transient_path_in(full_args) or _transient_path_in(kwargs)
            if transient is not None:
                self._pass_over(*transient)
                return None
            call = {"args": list(full_args), "kwargs": dict(kwargs)}
            if serialise is None:
                _load_serialiser()
            data = self.store(call, "argument")
            if data is _REFUSED:
                if _guard.refused_for_now:
                    live.fingerprints.discard(fingerprint)  # the same call later may store
                elif full_args and not self.half_built:
                    _note_refused_argument(full_args[0])  # (its class may be one that never stores)
                return None
            # Functions that draw from the global random generator replay with the state
            # they started from (stored only when the call changed it); calls made while
            # environment variables or the command line (a test patching sys.argv for a
            # main()) differ from the start of recording replay with them.
            snapshot = {"call": data, "random": random_state.taken(), "fingerprint": fingerprint, "record": self}
            if watched is not None and watched.sized:
                snapshot["sizes"] = tuple(map(_size, (namespace for _, namespace in watched.sized)))
            if watched is not None and watched.instances:
                snapshot["digests"] = _instance_digests(watched)
            if watched is not None and watched.rebinds:
                # (the objects, not their ids: one the call unbinds may be freed, its id reused)
                snapshot["bound"] = tuple(namespace.get(name, _NO_VALUE) for namespace, name in watched.rebinds)
            names = _module_names_in(full_args, kwargs)
            if names:
                snapshot["module_names"] = names  # looked up once the call has imported them
            if handling:
                snapshot["handling"] = True  # called from an except block (see clock_read)
            if _state.environ_touched:
                changed = _environ_changes()
                if changed:
                    transient = _transient_path_in(changed)
                    if transient is not None:
                        self._pass_over(*transient)
                        return None
                    snapshot["environ"] = changed
            argv = getattr(sys, "argv", None)
            if argv != _state.argv_at_start and isinstance(argv, list) and all(isinstance(a, str) for a in argv):
                snapshot["argv"] = list(argv)
            return snapshot
        except _PASS_THROUGH:
            raise
        except RecursionError:
            _too_deep()
            return None
        except BaseException as error:  # some libraries derive errors from BaseException
            self.fail(error)
            return None
        finally:
            _guard.busy = False

    def _module_state_changed(self) -> bool:
        """Is a global this function reads patched, or its module's state changed since
        the import? Then the recorded calls running are told (their outcome belongs to
        it, see _tell_running), and this call is passed over."""
        patched = self._patched_global()
        if patched is not None:
            # A test replaced a global this function uses (monkeypatch.setattr,
            # mock.patch): its outcome, and its callers', belong to the patch. Not a
            # refusal of the function either.
            _tell_running("patched", patched)
            self._skip_patched(patched)
            return True
        watched = self._globals_read  # (made by _patched_global, unless its module is importing)
        grown = None
        if watched is not None:
            if watched.containers:
                grown = _grown_container(watched.containers)
            if grown is None and watched.rebound_reads:
                grown = _bound_since_import(watched.rebound_reads, self.owner)
        if grown is not None:
            # A registry of its module filled since the import (configargparse's
            # ``init_argument_parser`` raising for a name a test made before): its
            # outcome, and its callers', belong to what ran before. For the moment:
            # a test may empty it again.
            source = _GROWN_STATE + grown
            _tell_running("volatile", source)
            self._pass_over(*_volatile_reason(source))
            return True
        return False

    def _refuse_up_front(self, live: _Live, refusal: str, towards: bool = True) -> None:
        """Refuse a call whose first argument the survey refuses whatever else it is
        given (see _refused_up_front), without its fingerprint: a refusal as the
        survey's (``towards`` giving the function up; else passed over). A
        recorded call running is still told of a patch this function meets, as by any
        call (once per outermost call, as for a repeated call; not when every running
        call watches this function's globals itself)."""
        running = _guard.calls
        if running or _async_calls.get():
            outer = running[0] if running and not _async_calls.get() else None
            if (outer is None or live.clean_under is not outer.get("token")) and not self._watched_by_running():
                if self._module_state_changed():
                    return
                if outer is not None:
                    live.clean_under = _outer_token(outer)
        if towards:
            self.skip("unserialisable argument", refusal)
        else:
            self._pass_over("unserialisable argument", refusal)

    def _running_here(self) -> int:
        """This function's recorded calls running in this thread (sync ones)."""
        running = _guard.calls
        return sum(1 for snapshot in running if snapshot.get("record") is self) if running else 0

    def _patched_global(self) -> Optional[str]:
        """The first module global this function names that is not what its module
        defined (``None`` when all are, or before the module finished importing)."""
        if self.owner.baseline is None:
            return None
        watched = self._globals_read
        if watched is None:
            watched = _Watched(*_globals_named(self.raw, self.owner))
            watched.containers = _containers_named(self.raw)
            watched.instances = _instances_named(self.raw)
            watched.rebinds = _rebinds(self.raw, self.owner)
            watched.rebound_reads = _rebound_reads(self.raw, self.owner)
            watched.sized = _namespaces_named(self.raw, self.owner) + tuple(
                (f"{label} (items added or removed)", _container_objects[index]) for label, index in watched.containers)
            self._globals_read = watched
        return watched.first_changed()

    def _watched_by_running(self) -> bool:
        """Does every recorded call running here watch this function's globals itself
        (it is among the callees its watch follows)? Their own checks, when they start
        and end, see a patch of them: this call has nothing to tell them."""
        function = _identity(self.raw)
        for snapshot in _running_snapshots():
            record = snapshot.get("record")  # (a consistency probe's has none)
            watched = record._globals_read if record is not None else None
            if watched is None or function not in watched.followed:
                return False
        return True

    def _pass_over(self, reason: str, detail: str) -> None:
        """This call is not recorded, for a reason of the moment, not of the function
        (its other calls are recorded as usual): counted, logged once per function (and
        what :meth:`skip` counts and logs)."""
        _state.stats[f"skipped: {reason}"] += 1
        live = self.live
        if reason not in live.reported:
            live.reported += (reason,)
            log.debug("call.skipped", function=self.name, reason=reason, detail=detail)

    def _skip_patched(self, name: str) -> None:
        self._pass_over("module global patched", f"{name} is not what its module defined (monkeypatch, mock.patch): "
                                                 "replay runs with the original")

    def finish(self, snapshot: dict, *, returned: Any = _NO_VALUE, raised: Optional[BaseException] = None,
               outcome: Optional[dict] = None) -> None:
        """Serialise the outcome and hand the case to the sink."""
        if _guard.busy:
            # Ended inside the tool's own work: a generator the garbage collector closes
            # while the writer holds its lock. Storing now would wait on that lock for ever.
            _state.stats["skipped: ended while the tool was busy (garbage collection)"] += 1
            return
        _guard.busy = True
        try:
            volatile = snapshot.get("volatile")
            if volatile:
                if "check" not in snapshot:  # a consistency probe just has nothing to say
                    self.skip(*_volatile_reason(volatile))
                return
            patched = snapshot.get("patched")
            if patched:
                if "check" not in snapshot:
                    self._skip_patched(patched)
                return
            changed = self._patched_global()  # it was not, when the call started
            if changed is None and "sizes" in snapshot:
                changed = _namespace_resized(self._globals_read, snapshot["sizes"])
            if changed is None and "digests" in snapshot:
                changed = _changed_instance(snapshot["digests"])
            if changed is None and "bound" in snapshot:
                changed = _rebound_by_the_call(self._globals_read, snapshot)
            if changed is not None:
                # A setter (``Parser.set_default_whitespace``), or a call reaching one:
                # replayed, it would change the setting for every case after it.
                _tell_running("side_effect", _CHANGES_STATE + changed)
                if "check" not in snapshot and not self._skipped_as_an_import_s_effect(outcome, raised, returned):
                    self.skip("changes its module's state", f"{changed}: replaying the call would change it too")
                    if snapshot.get("lazily"):
                        # (the same call again finds it made: that one may be stored)
                        self.live.fingerprints.discard(snapshot["fingerprint"])
                return
            if "check" in snapshot:
                self._check_consistency(snapshot["check"], returned, raised)
                return
            lacked = _a_module_replay_lacks(snapshot.get("module_names"))
            if lacked is not None:
                self.skip(*lacked)
                return
            side_effect = snapshot.get("side_effect")
            if side_effect:
                if side_effect.startswith(_CHANGES_STATE):
                    self.skip("changes its module's state", f"through a call that {side_effect}: replaying the "
                                                            "call would change it too")
                else:
                    self.skip("side effects outside the process", f"{side_effect}: replaying the call would repeat it")
                return
            if self._skipped_as_an_import_s_effect(outcome, raised, returned):
                return
            if outcome is None:
                outcome = self._outcome(returned, raised)
                if outcome is None:
                    return
            case = {"call": snapshot["call"], "outcome": outcome}
            for context in ("environ", "argv"):
                if context in snapshot:
                    case[context] = snapshot[context]
            before = snapshot.get("random")
            if before is not None and random_state.changed_since(before):
                case["random_state"] = serialise.encode(random_state.as_getstate(before))
            self._offer(case, snapshot)
        except _PASS_THROUGH:
            raise
        except RecursionError:
            _too_deep()
        except BaseException as error:  # some libraries derive errors from BaseException
            self.fail(error)
        finally:
            _guard.busy = False

    def _skipped_as_an_import_s_effect(self, outcome: Optional[dict], raised: Optional[BaseException],
                                       returned: Any) -> bool:
        """Skip a call returning ``None`` made while a module imports: a registration
        (pathspec's ``register_pattern``) made by a module's body, yours or a library's
        (humanfriendly's ``define_aliases`` for ``capturer``). Replay runs after the
        import, whose call did it."""
        if outcome is not None or raised is not None or returned is not None or self.role \
                or self.qualname.rpartition(".")[2].startswith("__"):
            return False
        importing = _module_importing() or module_importing()
        if importing is None:
            return False
        self.skip("called for its effect during an import", f"while {importing} was importing: replay runs after "
                                                             "the import")
        return True

    def store(self, value: Any, what: str) -> Any:
        """``value`` serialised and checked to decode as itself, or ``_REFUSED`` (one skip)."""
        _guard.refused_for_now = False
        copy = serialise.plain_copy(value, _state.value_limit)
        if copy is not serialise.NOT_PLAIN:
            return copy  # (text, numbers, lists and dicts of them: nothing to check either)
        try:
            seen = serialise.survey(value, _state.value_limit, _state.refused_classes, _state.failed_objects)
        except serialise.TooLarge as error:
            self.skip(f"{what} too large", str(error))
            return _REFUSED
        except serialise.Unserialisable as error:
            if not self._refused_for_a_patch(error):
                self.skip(f"unserialisable {what}", str(error))
                held_by = error.refused_object
                if held_by is not None and not self.half_built and not _from_the_standard_library(type(held_by)):
                    _refuse_object(held_by)
            return _REFUSED
        except serialise.HoldsAClock as error:
            self.skip("reads the clock or entropy", f"{what} holds {error}")
            return _REFUSED
        if seen.reordered and what == "argument":
            # (A returned dict is compared with ==, which order does not change.)
            self.skip(f"unserialisable {what}", "a dict with a text key after a key of another type: "
                                                "its data file keeps text keys first, the replayed call "
                                                "would see another order")
            return _REFUSED
        try:
            data = serialise.encode(value, _state.max_depth, plain=seen.plain)
            # (builtin values, plain ones too, always come back equal)
            if not seen.builtin:
                # (before the decoding check: a value refused here is not decoded for nothing)
                grown = _rebuilt_through_grown_state(serialise.last_reducers()) if _container_objects else None
                if grown is not None:
                    self.skip(f"unserialisable {what}", grown)
                    return _REFUSED
                self._check_round_trip(value, data, seen.kinds, what)
        except RecursionError:  # a structure nested deeper than the interpreter's limit
            self._untrust(seen.kinds, value)
            self.skip(f"unserialisable {what}", "nested too deeply to encode or compare")
            return _REFUSED
        except serialise.Unserialisable as error:
            if self._refused_for_a_patch(error):
                return _REFUSED
            # (A test module's class or function met inside says nothing of the others,
            # nor does an object refused while a module of yours imports: lark's
            # grammar values were all checked again after one stateless visitor.)
            if not error.incomplete and error.holders_to_blame and not error.while_importing:
                self._untrust(seen.kinds, value, error.culprit)
            _guard.refused_for_now = error.while_importing
            # ``self`` entering a constructor is half-built: its failure says nothing of
            # the class, nor does its success (a whole one may not store).
            if error.lasting and not self.half_built:
                _blame_for(error, seen.classes, self.key)
                _remember_failed_object(error)
            self.skip(f"unserialisable {what}", str(error), for_good=not error.while_importing)
            return _REFUSED
        if not self.half_built:
            _state.stored_classes.update(seen.classes)
        return data

    def _check_round_trip(self, value: Any, data: Any, kinds: frozenset, what: str) -> None:
        """Decode ``data`` and compare it with ``value``, unless values like it came back
        equal often enough (see TRUSTED_AFTER_ROUND_TRIPS); raises Unserialisable.

        A constructor's (:attr:`half_built`) ``self`` on entry is half-built: its round
        trip says nothing of whole ones of its class, nor theirs of it (a ``__setstate__``
        reading what the constructor is about to set). Its arguments skip the check once
        this constructor's came back equal as often as a type's must, with that class,
        the other types in them trusted (mistletoe's token constructors: 470 checks).
        Its outcome is always checked.
        """
        if not self.half_built:
            live = self.live
            if not _trusted(kinds, live.untrusted) or (
                    what == "argument" and not live.arguments_checked and any(map(_writes_its_own_state, kinds))):
                if what == "argument":
                    live.arguments_checked = True
                serialise.check_round_trip(value, data)
                _count_round_trip(kinds)
            return
        arguments = value.get("args") if what == "argument" and type(value) is dict else None
        if not arguments:
            serialise.check_round_trip(value, data)
            return
        builder = (self.key, type(arguments[0]))
        if _state.half_built_round_trips[builder] < TRUSTED_AFTER_ROUND_TRIPS \
                or not _trusted(kinds - {builder[1]}, self.live.untrusted):
            serialise.check_round_trip(value, data)
            _state.half_built_round_trips[builder] += 1

    def _refused_for_a_patch(self, error: Any) -> bool:
        """Is ``error`` about a class of yours in the value, stored by its name, which a
        test replaced for the moment (mistletoe's ``patch('mistletoe.span_token.RawText')``
        in a ``setUp``)? It would decode as the patch. Then the call belongs to the patch,
        as with any patched global, and the same call made after it may store; neither the
        class nor the value's types are to blame (``type`` was, and every later value
        holding a class was decoded again: 266 checks in mistletoe's suite)."""
        patched = _class_replaced_by_a_patch(error.differing_class)
        if patched is None:
            return False
        _guard.refused_for_now = True
        self._skip_patched(patched)
        return True

    def _untrust(self, kinds: frozenset, value: Any, culprit: Optional[type] = None) -> None:
        """Check values of these types again when stored for this function (see
        :func:`_trusted`).

        For this function only: what fails is the state in which it sees them, a method
        called half-way through a change of its object (tomlkit's ``Container._insert_at``,
        ``Array._reindex``, a proxy's ``__delitem__``); the same classes in other
        functions' values keep coming back equal. Untrusted everywhere, they were decoded
        and compared at every store of tomlkit's suite (617 checks, 88 of which failed;
        69 failed this way, 243 checks, and 22 more cases were recorded, all replaying).

        Only the ``culprit`` when the failure names it (the class whose reduction raised,
        whose decoding raised, whose state came back different): tomlkit's items met
        such failures in values holding a document's every type, and every later
        document was decoded and compared again. Builtin tuples and sets only hold what
        is judged by its own type. Not the class of a constructor's half-built ``self``,
        nor one whose reduction found an attribute missing (``incomplete``: a method its
        constructor calls): an object missing the attributes it is about to be given says
        nothing of whole ones. Whole instances still earn trust by coming back equal.
        """
        if isinstance(culprit, type) and culprit is not types.FunctionType:
            # (a reduction's callable may be a function: not known then; a function stored
            # by value counts as its code, which the culprit does not say)
            kinds = frozenset({culprit})
        if self.half_built and type(value) is dict and value.get("args"):
            kinds = kinds - {type(value["args"][0])}
        live = self.live
        live.untrusted = live.untrusted | (kinds - _STRUCTURAL)

    def _outcome(self, returned: Any, raised: Optional[BaseException]) -> Optional[dict]:
        if raised is not None:
            return self.exception_outcome(raised)
        data = self.store(returned, "return value")
        return None if data is _REFUSED else {"returned": data}

    def exception_outcome(self, error: BaseException) -> Optional[dict]:
        if isinstance(error, RecursionError):
            # Where the limit is met depends on the stack the call started from: neither
            # this call nor the recorded calls it ran in replay alike.
            _tell_running("volatile", _RECURSION_LIMIT)
            self._pass_over(*_volatile_reason(_RECURSION_LIMIT))
            return None
        if isinstance(error, ImportError):
            # What imports depends on the run: sys.path, what is installed, a test that
            # blocked a module (``sys.modules["tzdata"] = None``: python-dateutil's).
            # The recorded calls it went through saw it too.
            failed = f"{_IMPORT_FAILED}{error.name or '?'}"
            _tell_running("volatile", failed)
            self._pass_over(*_volatile_reason(failed))
            return None
        klass = type(error)
        if locate.locate(locate.find_module(klass.__module__), klass.__qualname__) is not klass \
                and klass.__module__ != "builtins":
            self.skip("exception type not importable", _qualified_type_name(klass))
            return None
        outcome = _raised_outcome(error)
        if outcome is None:
            self.skip("exception message unavailable", _qualified_type_name(klass))
        return outcome

    def _consistency_probe(self, live: _Live, fingerprint: tuple, full_args: tuple, kwargs: dict,
                           handling: bool) -> Optional[dict]:
        """A repeated call of a recorded plain case: run it watched, to compare outcomes."""
        entry = _check_due(live, fingerprint)
        if entry is None:
            return None
        call = {"args": list(full_args), "kwargs": dict(kwargs)}
        try:
            if not serialise.survey(call, _state.value_limit, _state.refused_classes).plain:
                return None
            text = serialise.dumps(call)  # a plain value is its own stored form
        except (serialise.Unserialisable, serialise.HoldsAClock):
            return None
        if text != entry[0]:
            return None  # alike by fingerprint only: other arguments
        entry[2] += 1
        return {"check": entry, "handling": True} if handling else {"check": entry}

    def _check_consistency(self, entry: list, returned: Any, raised: Optional[BaseException]) -> None:
        if isinstance(raised, RecursionError):
            return  # (the stack's depth, not the arguments: see exception_outcome)
        if raised is not None:
            outcome = _raised_outcome(raised)
            if outcome is None:
                return
        else:
            try:
                seen = serialise.survey(returned, _state.value_limit, _state.refused_classes)
                # A plain value is its own stored form; an object is encoded (a few times
                # per recorded case at most: CONSISTENCY_CHECKS).
                stored = returned if seen.plain else serialise.encode(returned, _state.max_depth)
            except serialise.HoldsAClock as error:
                self._inconsistent(entry, f"a value holding {error}")  # recorded: a plain value
                return
            except serialise.Unserialisable:
                return
            outcome = {"returned": stored}
        text = serialise.dumps(outcome)
        if not same_text(text, entry[1]) and not _alike(returned if raised is None else _NO_VALUE, entry[1]):
            self._inconsistent(entry, text)
        elif self.accepted >= _state.budget and not self._checks_pending():
            self.close_gate()

    def _checks_pending(self) -> bool:
        return any(entry[2] < CONSISTENCY_CHECKS for entry in self.live.checkable.values())

    def _inconsistent(self, entry: list, now: str) -> None:
        """Same arguments, another result: no case of this function would replay reliably."""
        self.disabled = True
        self.close_gate()
        _state.stats["functions dropped (same arguments, different results)"] += 1
        sink = _state.sink
        removed = sink.retract(self) if sink is not None else 0
        log.warning("call.inconsistent", function=self.name,
                    reason="the same arguments gave another result: the function depends on state it is not "
                           "given (a global, a thread-local such as a locale, the clock); its cases are removed",
                    arguments=entry[0][:200], recorded=entry[1][:200], now=now[:200], cases_removed=removed)

    def _offer(self, case: dict, snapshot: Optional[dict] = None) -> None:
        text, texts = serialise.dumps_by_key(case)
        sink = _state.sink
        live = self.live
        with live.lock:
            if text in live.cases:
                _state.stats["skipped: duplicate"] += 1
                self._no_news()
                return
            if sink is None or not self.gate or self.accepted >= _state.budget:
                _state.stats["skipped: budget"] += 1
                return
            live.cases += (text,)
            if sink.accept(self, case, text, texts):
                self.accepted += 1
                live.refused_in_a_row = 0
                live.calls_without_news = 0
                live.tries_without_news = 0
                self._make_checkable(live, case, texts, snapshot)
                if self.accepted >= _state.budget:
                    sink.complete(self)  # (its cases are all there: its file may be written)
                    if not self._checks_pending():
                        self.close_gate()
            else:
                self._no_news()

    def _make_checkable(self, live: _Live, case: dict, texts: dict, snapshot: Optional[dict]) -> None:
        """Remember a self-contained case with plain arguments so that repeated calls can
        be compared (``attr.ib()`` returning an object numbered by a class-wide counter)."""
        if snapshot is None or "fingerprint" not in snapshot or self.is_generator or self.is_async \
                or "random_state" in case or "environ" in case or "argv" in case:
            return
        call = texts["call"]
        if '"py/' in call:  # tagged arguments (objects, tuples): told apart by fingerprint only
            return
        outcome = texts["outcome"]
        if len(outcome) > CHECKED_OUTCOME_LIMIT:
            return
        live.checkable[snapshot["fingerprint"]] = [call, outcome, 0]


def _check_due(live: _Live, fingerprint: Any) -> Optional[list]:
    """The recorded plain case a call with this fingerprint is still to be compared
    with (CONSISTENCY_CHECKS times), or ``None``."""
    entry = live.checkable.get(fingerprint)
    return entry if entry is not None and entry[2] < CONSISTENCY_CHECKS else None


def _alike(returned: Any, recorded: str) -> bool:
    """Does a value equal a recorded outcome whose text differs (a set's order, say)?"""
    if returned is _NO_VALUE:
        return False
    try:
        serialise.check_round_trip(returned, _json.loads(recorded)["returned"])
        return True
    except Exception:
        return False


# How far the globals a function reads are followed into the module functions it names
# (dpath's ``view`` calls ``fold``, which calls ``walk``, which reads the option a test
# turned on): those run on its behalf, and their own gates may be closed by then.
CALLEE_DEPTH = 2
CALLEES_FOLLOWED = 64


_METHOD_TYPES = frozenset({types.FunctionType, staticmethod, classmethod, property})


def _method_identities(item: Any) -> tuple:
    """``((ids of what a class attribute may be as its module left it), its plain
    function or None)`` for a method (a wrapper is the same method as its function)."""
    if type(item) is RecordingWrapper:
        return (_identity(item), _identity(item.__wrapped__)), item.__wrapped__
    function = item.__func__ if type(item) in (staticmethod, classmethod) else item
    if type(function) is RecordingWrapper:
        function = function.__wrapped__
    return (_identity(item),), function if type(function) is types.FunctionType else None


class _Watched:
    """Globals a function reads, and the objects each may hold (see _globals_named),
    checked at every call that may be stored: per namespace, one C-level look-up of all
    its names and one comparison of their identities (pycparser's parser methods watch
    hundreds, a loop of Python over them took a tenth of its recording time), and one
    C-level test that none of the names that must stay absent is there (an attribute a
    test's ``mock.patch`` would set on a module-level object of yours)."""

    __slots__ = ("grouped", "absent", "others", "followed", "sized", "containers", "instances", "rebinds",
                 "rebound_reads")

    def __init__(self, entries: tuple, followed: frozenset = frozenset()) -> None:
        self.followed = followed  # ids of the function and of the callees whose globals these are
        self.sized: tuple = ()  # (label, namespace) whose size a stored call must leave as it was
        self.containers: tuple = ()  # (module.name, index in _container_objects) of the module containers it reads
        self.instances: tuple = ()  # (module.name, index in _instance_objects) of the objects of your classes it reads
        self.rebinds: tuple = ()  # (namespace, name) of its module's globals it assigns (``global x``)
        self.rebound_reads: tuple = ()  # names its module's functions assign that it reads
        groups: dict = {}
        absent: dict = {}
        others = []  # a name that may be absent or hold an object, or one of several objects
        for entry in entries:
            namespace, name, defined = entry
            if defined == (_ABSENT,):
                absent.setdefault(_identity(namespace), (namespace, []))[1].append(name)
            elif len(defined) != 1 or _ABSENT in defined:
                others.append(entry)
            else:
                names, identities = groups.setdefault(_identity(namespace), (namespace, [], []))[1:]
                names.append(name)
                identities.extend(defined)
        grouped = []
        for namespace, names, identities in groups.values():
            # (a getter of one name returns the object, of two or more a tuple: the first name twice)
            get = operator.itemgetter(names[0], *names)
            expected = tuple(identities[:1] + identities)
            try:
                now = get(namespace)
            except KeyError:
                now = None
            # The objects themselves, while they are the ones defined, compared by identity
            # in C: every id() is an audit event, which the tool's own hook hears (a call of
            # Python each: 55 µs for 100 names, 3 µs this way; tomlkit's watches made
            # 267,000 of them).
            objects = now if now is not None and tuple(map(_identity, now)) == expected else None
            grouped.append((namespace, get, objects, expected, (names[0], *names)))
        # (tuples: those of names alone the garbage collector stops walking, and a function's
        # watch lives as long as its record; 1,100 lists in pypubsub's run)
        self.grouped = tuple(grouped)
        self.absent = tuple((namespace, frozenset(names), tuple(names)) for namespace, names in absent.values())
        self.others = tuple(others)

    def first_changed(self) -> Optional[str]:
        """``module.name`` of a global not holding what its module defined (the first in
        its namespace), or None."""
        for namespace, get, objects, identities, names in self.grouped:
            try:
                now = get(namespace)
                if objects is not None and all(map(operator.is_, now, objects)):
                    continue
                now = tuple(map(_identity, now))
            except KeyError:  # (deleted by a test)
                now = tuple(_identity(namespace.get(name, _NO_VALUE)) for name in names)
            if now != identities:
                changed = next(index for index, identity in enumerate(now) if identity != identities[index])
                return _global_label(namespace, names[changed])
        for namespace, names, in_order in self.absent:
            if not namespace.keys().isdisjoint(names):
                return _global_label(namespace, next(name for name in in_order if name in namespace))
        for namespace, name, defined in self.others:
            if _identity(namespace.get(name, _NO_VALUE)) not in defined:
                return _global_label(namespace, name)
        return None


# The same proxy of a class's namespace at every read: the watch groups names by namespace
# object, and a new proxy at each ``klass.__dict__`` made one group per name (tomlkit's
# functions watched 170 namespaces of one name each). By id: hashing a class may run its
# metaclass's code. (The proxy holds the class's namespace, as the watches do anyway.)
_class_namespaces: dict[int, tuple[type, Any]] = {}


def _class_namespace(klass: type) -> Any:
    found = _class_namespaces.get(_identity(klass))
    if found is None or found[0] is not klass:
        found = _class_namespaces[_identity(klass)] = (klass, namespace_of(klass))
    return found[1]


# Your modules' dicts, lists and sets bound at module level, and their lengths when your
# modules last finished importing: (id(namespace), name) -> their index in the two lists.
# A registry filled afterwards (by a test module's class definitions) is one a replay,
# which imports your modules afresh, does not have. (The objects themselves, measured by
# one ``map(len, ...)`` at each module's end: python-stdnum's 338 modules, or a package
# of 1,500, measure them all each time at C speed.)
_module_containers: dict = {}
_container_namespaces: set = set()  # ids of the namespaces holding one
_container_objects: list = []
_container_lengths: list = []
_CONTAINER_TYPES = (dict, list, set)


# Objects of your classes bound at module level (python-ulid's ``default_generator``,
# whose policy keeps the last timestamp and randomness it gave, to give the next ULID of
# the same millisecond the randomness after): (id(namespace), name) -> their index in the
# list. A stored call of a function reading one that changes its state is not kept, as a
# setter: what it gave depends on the state the calls before left, and replayed it would
# change it for the cases after. (A call that only reads one changed since the import is
# kept: a ULID made from bytes names the generator in a branch it did not take, and all
# of ``ULID()``'s callers would be passed over with it.)
_module_instances: dict = {}
_instance_namespaces: set = set()
_instance_objects: list = []


def _note_module_containers(namespace: dict) -> None:
    """Note the module's containers and objects of your classes, and measure every
    container noted so far: what the import of a module of yours left in another one's
    registry counts as imported."""
    yours = _instrumenters_by_module()
    for name, value in list(namespace.items()):
        if name.startswith("__"):
            continue
        kind = type(value)
        if kind in _CONTAINER_TYPES:
            _note_in(_module_containers, _container_namespaces, _container_objects, namespace, name, value)
        elif _a_class_of_yours(kind, yours):
            _note_in(_module_instances, _instance_namespaces, _instance_objects, namespace, name, value)
    _container_lengths[:] = map(len, _container_objects)


def _a_class_of_yours(kind: type, yours: dict) -> bool:
    """Is ``kind`` a class (not a metaclass) a module of yours defines? Told by its own
    dict: no user code runs."""
    module = namespace_of(kind).get("__module__")
    return type(module) is str and module in yours and not issubclass(kind, type)


def _note_in(table: dict, namespaces: set, objects: list, namespace: dict, name: str, value: Any) -> None:
    index = table.get((_identity(namespace), name))
    if index is None:
        table[(_identity(namespace), name)] = len(objects)
        namespaces.add(_identity(namespace))
        objects.append(value)
    else:
        objects[index] = value


def _rebuilt_through_grown_state(reducers: list) -> Optional[str]:
    """Why a value whose objects are rebuilt by ``reducers`` (a reduction's callables)
    does not decode in a replay: one of them reads a dict, list or set of its module that
    holds more or less than when your modules finished importing (pyrsistent's
    ``_seq_field_types``, which ``pset_field`` fills as a test module's classes are
    defined: ``_restore_seq_field_pickle`` looks the class up there). None if none does."""
    looked_at = set()
    for function in reducers:
        # (a value of many objects names the same reducer for each; one of a library's
        # reads none of your modules' containers: its code is not looked at)
        namespace = getattr(function, "__globals__", None)
        if namespace is None or _identity(namespace) not in _container_namespaces or _identity(function) in looked_at:
            continue
        looked_at.add(_identity(function))
        module = namespace.get("__name__", "?")
        for name, index in _containers_among(namespace, _code_names(function)).items():
            grown = _grown(f"{module}.{name}", index)
            if grown is not None:
                return (f"rebuilt by {module}.{function.__qualname__}, which reads {grown} "
                        "(filled since, by what ran: a replay would not find them)")
    return None


def _containers_among(namespace: dict, names: Any, table: dict = _module_containers,
                      objects: list = _container_objects) -> dict:
    """name -> index (see _module_containers) of those of ``names`` that ``namespace``
    binds to one of its containers (or ``objects``), still the one noted."""
    found = {}
    for name in names:
        index = table.get((_identity(namespace), name))
        if index is not None and namespace.get(name) is objects[index]:
            found[name] = index
    return found


def _grown(label: str, index: int) -> Optional[str]:
    """``label: it holds N items, M when ...`` for a container whose length is not the one
    your modules' imports left, else None."""
    length, imported = len(_container_objects[index]), _container_lengths[index]
    return None if length == imported else \
        f"{label}: it holds {length} items, {imported} when your modules finished importing"


def _namespaces_named(function: Any, owner: "ModuleInstrumenter") -> tuple:
    """``(label, namespace)`` of the classes of its module and the modules of its package
    that ``function``'s code names: a call adding or removing one of their attributes
    changes its module's state, as a setter does (six's ``remove_move``:
    ``delattr(_MovedItems, name)`` of a move a test added; replayed, there is none)."""
    namespace = function.__globals__
    package = owner.module.partition(".")[0]
    found = []
    for name in sorted(_code_names(function)):
        value = namespace.get(name)
        kind = type(value)
        if issubclass(kind, type):
            if type.__getattribute__(value, "__module__") == owner.module:
                found.append((f"{owner.module}.{name} (an attribute added or removed)", _class_namespace(value)))
        elif issubclass(kind, types.ModuleType):
            inner = object.__getattribute__(value, "__dict__")
            module_name = inner.get("__name__")
            if inner is not namespace and isinstance(module_name, str) and module_name.partition(".")[0] == package:
                found.append((f"{module_name} (an attribute added or removed)", inner))
    return tuple(found)


def _size(namespace: Any) -> int:
    """How many attributes (or items) ``namespace`` holds, a class's ``__slotnames__``
    left out: ``copyreg`` caches it on the class when an object of it is first encoded
    (altgraph's priority dictionary, given to the method being recorded), which is the
    tool's doing, not the call's."""
    size = len(namespace)
    return size - 1 if type(namespace) is types.MappingProxyType and "__slotnames__" in namespace else size


def _namespace_resized(watched: Optional[_Watched], sizes: tuple) -> Optional[str]:
    """The first of ``watched.sized`` whose number of attributes is not ``sizes``'."""
    if watched is None:
        return None
    for (label, namespace), size in zip(watched.sized, sizes):
        if _size(namespace) != size:
            return label
    return None


def _containers_named(function: Any) -> tuple:
    """``(label, index)`` of the dicts, lists and sets of its module that ``function``'s
    code reads (see _module_containers, bodies.names_read): a registry (configargparse's
    ``_parsers``, whose ``init_argument_parser`` raises for a name made before), a call
    adding to it changes its module's state, and a call reading it once filled since the
    import reads what a replay, importing afresh, does not have. A log only appended to
    (``SEEN.append(n)``) is none: what the call gives does not depend on it."""
    return _noted_values_read(function, _container_namespaces, _module_containers, _container_objects)


def _instances_named(function: Any) -> tuple:
    """``(label, index)`` of the objects of your classes bound in its module (see
    _module_instances) that ``function``'s code reads."""
    return _noted_values_read(function, _instance_namespaces, _module_instances, _instance_objects)


def _noted_values_read(function: Any, namespaces: set, table: dict, objects: list) -> tuple:
    """``(module.name, index)`` of the values of ``function``'s module noted in ``table``
    (and ``objects``, see _note_in) that its code reads."""
    namespace = function.__globals__
    if _identity(namespace) not in namespaces:
        return ()
    named = _containers_among(namespace, _code_names(function), table, objects)
    if not named:
        return ()
    module = namespace.get("__name__", "?")
    return tuple((f"{module}.{name}", named[name])
                 for name in sorted(bodies.names_read(_code_objects(function), frozenset(named))))


def _rebinds(function: Any, owner: "ModuleInstrumenter") -> tuple:
    """``(namespace, name)`` of the globals of its module that ``function``'s code assigns
    or deletes (``global _stdtrans``: formencode's ``set_stdtranslation``, which a test
    calls to switch the language of every message). Such names are not watched as
    patches (the module changes them itself); a call that binds another object to one
    changes its module's state, as a setter does."""
    if not owner.rebound:
        return ()
    names = bodies.names_rebound(_code_objects(function)) & owner.rebound
    return tuple((function.__globals__, name) for name in sorted(names))


def _rebound_by_the_call(watched: Optional[_Watched], snapshot: dict) -> Optional[str]:
    """``module.name (rebound)`` for the first global of ``watched.rebinds`` that holds
    another object than ``snapshot["bound"]`` (what they held when the call started);
    or None.

    A name that held None and that the call reads too is made lazily (bleach's vendored
    ``splittype``: ``if _typeprog is None: _typeprog = re.compile(...)``): the call still
    changed it (``snapshot["lazily"]``), but what it holds now is what any call would
    make of it, and the calls reading it are not told it changed (see
    _bound_since_import). Until a call binds it again: then it is state."""
    if watched is None:
        return None
    for (namespace, name), before in zip(watched.rebinds, snapshot["bound"]):
        if namespace.get(name, _NO_VALUE) is not before:
            key = (_identity(namespace), name)
            if before is None and name in watched.rebound_reads and key not in _bound_again:
                _made_lazily.add(key)
                snapshot["lazily"] = True
            elif key in _made_lazily:
                _made_lazily.discard(key)
                _bound_again.add(key)
            return f"{namespace.get('__name__', '?')}.{name} (rebound)"
    return None


# Globals a function made lazily from None (see _rebound_by_the_call), and those bound
# again after: (id(namespace), name).
_made_lazily: set = set()
_bound_again: set = set()


def _rebound_reads(function: Any, owner: "ModuleInstrumenter") -> tuple:
    """The names of its module's globals that its functions assign (``global x``) and
    that ``function``'s code reads."""
    if not owner.rebound:
        return ()
    return tuple(sorted(bodies.names_read(_code_objects(function), owner.rebound)))


def _bound_since_import(names: tuple, owner: "ModuleInstrumenter") -> Optional[str]:
    """``module.name: ...`` for the first of ``names`` (globals its module's functions
    assign) holding what its module's import did not leave there: a language set by
    formencode's ``set_stdtranslation(languages=["de"])``, which a test sets back with
    ``set_stdtranslation()`` (another object, the same translation: compared by
    :func:`_binding_digest`). None when all hold what they held, or a global made lazily."""
    namespace = owner.namespace
    at_import = owner.rebound_at_import
    if namespace is None or at_import is None:
        return None
    for name in names:
        if (_identity(namespace), name) in _made_lazily:
            continue
        value = namespace.get(name, _NO_VALUE)
        imported = at_import.get(name, (_NO_VALUE, None))
        if value is imported[0]:
            continue
        digest = _binding_digest(value)
        if digest is None or digest != imported[1]:
            return f"{owner.module}.{name}: bound to another value since your modules finished importing"
    return None


def _binding_digest(value: Any) -> Optional[tuple]:
    """:func:`_state_digest` of what a global holds, a function or bound method told by
    its code and what it holds (``lambda key: table.get(key)`` over another table; the
    ``gettext`` of another translation object). None past the limit."""
    kind = type(value)
    if kind is types.MethodType:
        held = _state_digest(value.__self__)
        return None if held is None else (kind, _identity(value.__func__), held)
    if kind is types.FunctionType:
        contents = []
        for cell in value.__closure__ or ():
            try:
                contents.append(cell.cell_contents)
            except ValueError:  # (an empty cell)
                contents.append(_NO_VALUE)
        held = _state_digest([contents, value.__defaults__, value.__kwdefaults__])
        return None if held is None else (kind, _identity(value.__code__), held)
    return _state_digest(value)


def _instance_digests(watched: _Watched) -> tuple:
    """``(label, index, digest)`` of each of the objects of your classes that ``watched``'s
    function reads (see _instances_named), as they are now. One past the digest's limit is
    not watched any more, by this function: walking it to the limit at every call would
    cost more than what it tells."""
    measured = tuple((label, index, _state_digest(_instance_objects[index])) for label, index in watched.instances)
    if any(digest is None for _, _, digest in measured):
        measured = tuple(entry for entry in measured if entry[2] is not None)
        watched.instances = tuple((label, index) for label, index, _ in measured)
    return measured


def _changed_instance(measured: tuple) -> Optional[str]:
    """``module.name (its state)`` for the first of the objects ``measured`` (see
    _instance_digests) when a call started whose state digest is another now; or None.
    A call changing it (a ULID generated: the policy keeps its randomness) gives what the
    state before it decides, and replayed would change it for the cases after."""
    for label, index, digest in measured:
        if _state_digest(_instance_objects[index]) != digest:
            return f"{label} (its state)"
    return None


def _grown_container(containers: tuple) -> Optional[str]:
    """The first of ``containers`` (see _containers_named) that holds more or fewer items
    than when your modules finished importing, described; or None."""
    for label, index in containers:
        grown = _grown(label, index)
        if grown is not None:
            return grown
    return None


def _class_replaced_by_a_patch(kind: Optional[type]) -> Optional[str]:
    """``module.Name`` when ``kind`` is a class of yours that its module's name held when
    the module finished importing, and that name holds another object now."""
    if kind is None:
        return None
    try:
        module_name, name = type.__getattribute__(kind, "__module__"), type.__getattribute__(kind, "__qualname__")
    except Exception:  # (a metaclass's own attributes: not a class of yours then)
        return None
    if not isinstance(module_name, str) or not isinstance(name, str):
        return None
    instrumenter = _instrumenters_by_module().get(module_name)
    if instrumenter is None or instrumenter.baseline is None or _identity(kind) not in instrumenter.baseline.get(name, ()):
        return None
    module = sys.modules.get(module_name)
    namespace = object.__getattribute__(module, "__dict__") if module is not None else {}
    return None if namespace.get(name) is kind else f"{module_name}.{name}"


def _global_label(namespace: Any, name: str) -> str:
    return f"{namespace.get('__name__') or namespace.get('__module__', '?')}.{name}"


def _globals_named(function: Any, owner: ModuleInstrumenter) -> tuple[tuple, frozenset]:
    """``(namespace, name, identities)`` of the globals ``function`` may read, itself or
    through the module functions of yours it names, to :data:`CALLEE_DEPTH`; each global
    once. And the ids of those functions."""
    by_module = _instrumenters_by_module()
    followed = {function}
    frontier = [(function, owner)]
    watched: dict = {}
    for depth in range(CALLEE_DEPTH + 1):
        callees = []
        for reader, reader_owner in frontier:
            entries, reader_callees = _reader_facts(reader, reader_owner, by_module)
            for entry in entries:
                watched.setdefault((_identity(entry[0]), entry[1]), entry)
            if depth < CALLEE_DEPTH:
                callees.extend(reader_callees)
        frontier = []
        for callee, callee_owner in callees:
            if callee not in followed and len(followed) < CALLEES_FOLLOWED:
                followed.add(callee)
                frontier.append((callee, callee_owner))
    # (by id: holding the functions would keep a plain function from going back, see detach)
    return tuple(watched.values()), frozenset(map(_identity, followed))


# What one function's code reads and calls, for every watch that follows it: the same
# callees are followed from many functions (python-stdnum's watches looked at 3,948
# functions, 1,166 of them distinct). Made again once a module was added. By id, with
# weak references: a function held here would keep its plain self from going back (see
# _other_holders).
_facts_of_readers: dict = {}


def _reader_facts(reader: Any, owner: ModuleInstrumenter, by_module: dict) -> tuple[Any, list]:
    """``(globals it reads, (callee, its module's instrumenter) it may call)`` for ``reader``."""
    # (a module of another's noted since may be one the code imports in its body)
    modules_key = (_by_module[0], len(_foreign_callables))
    found = _facts_of_readers.get(_identity(reader))
    if found is not None and found[0]() is reader and found[1] == modules_key:
        callees = [(callee(), callee_owner) for callee, callee_owner in found[3]]
        if all(callee is not None for callee, _ in callees):
            return found[2], callees
    names = sorted(_code_names(reader))  # (in order: the first change found is named)
    entries = _globals_read_by(reader, owner, names, by_module)
    callees = _module_functions_named(reader, names, by_module)
    # (``self.serialize_body()``: any method of the module's classes so named)
    callees.extend((method, owner) for name in names
                   for _, _, method in owner.class_methods.get(name, ()) if method is not None)
    try:
        _facts_of_readers[_identity(reader)] = (weakref.ref(reader), modules_key, tuple(entries),
                                                tuple((weakref.ref(callee), callee_owner) for callee, callee_owner in callees))
    except TypeError:  # (a callable that takes no weak reference: looked at again next time)
        pass
    return entries, callees


_by_module: list = [None, None]  # (the modules list, as it was) and its dict by module name


def _instrumenters_by_module() -> dict:
    """Your instrumented modules by name, made again only when one was added (not for
    each of python-stdnum's 1,100 functions, over its 338 modules)."""
    modules = _state.modules
    key = (_identity(modules), len(modules), _identity(modules[-1]) if modules else None)
    if _by_module[0] != key:
        _by_module[1] = {instrumenter.module: instrumenter for instrumenter in list(modules)}
        _by_module[0] = key
    return _by_module[1]


def _code_objects(function: Any) -> Iterator[types.CodeType]:
    """``function``'s code and the code nested in it (its lambdas, closures, classes)."""
    pending = [getattr(function, "__code__", None)]
    while pending:
        code = pending.pop()
        if code is None:
            continue
        yield code
        pending.extend(const for const in code.co_consts if isinstance(const, types.CodeType))


def _code_names(function: Any) -> set:
    """The names ``function``'s code (nested code included) loads."""
    names: set = set()
    for code in _code_objects(function):
        names.update(code.co_names)
    return names


def _module_functions_named(function: Any, names: list, by_module: dict) -> list:
    """The plain functions of your finished modules that ``function``'s module binds
    under ``names`` (a wrapper stands for its function)."""
    found = []
    namespace = function.__globals__
    for name in names:
        value = namespace.get(name)
        if type(value) is RecordingWrapper:
            value = value.__wrapped__
        if type(value) is types.FunctionType:
            other = by_module.get(value.__module__)
            if other is not None and other.baseline is not None:
                found.append((value, other))
    return found


def _globals_read_by(function: Any, owner: ModuleInstrumenter, names: list, by_module: dict) -> list:
    """``(namespace, name, identities)`` of the globals ``function``'s code may read: its
    module's, and those of the instrumented modules it reaches as globals (``db.query``
    after ``from app import db``: a test patches ``app.db.query``). Names a module's
    functions rebind themselves (``global x``) are not watched; simple class attributes of
    the module's classes named by the code are (a setting a test changes through the
    library's own setter, restored after it).

    ``co_names`` also lists attribute names: a global sharing its name with an attribute
    is checked for nothing, and a patch of it skips a case it need not. Never a wrong one.
    """
    namespace = function.__globals__
    baseline: dict = owner.baseline  # type: ignore[assignment]
    absent = (_ABSENT,)
    # A builtin's name the module did not define: ``mock.patch("app.open", ...)`` creates
    # the global for the test's duration (mock does so by itself for builtins).
    watched = [(namespace, name, baseline.get(name, absent)) for name in names
               if (name in baseline or name in _BUILTIN_NAMES) and name not in owner.rebound]
    watched.extend((_class_namespace(klass), name, defined) for name in names
                   for klass, defined in owner.class_settings.get(name, ()))
    watched.extend((_class_namespace(klass), name, defined) for name in names
                   for klass, defined, _ in owner.class_methods.get(name, ()))
    for _, name, _ in list(watched):
        module = namespace.get(name)
        if isinstance(module, type) and module.__module__ != owner.module:
            # A class of another instrumented module (``from .core import __diag__``):
            # the settings of it the code names, as that module's body left them.
            other = by_module.get(module.__module__)
            if other is not None:
                watched.extend((_class_namespace(module), attribute, defined) for attribute in names
                               for klass, defined in other.class_settings.get(attribute, ()) if klass is module)
            continue
        if not isinstance(module, types.ModuleType):
            watched.extend(_method_watches(module, names, by_module))
            continue
        # Through the module's __dict__: any other read would load a lazily imported module.
        module_namespace = object.__getattribute__(module, "__dict__")
        other = by_module.get(module_namespace.get("__name__"))
        if other is None:
            # Not one of yours (``subprocess``): the functions and classes it had when
            # your module finished importing (a test's fake ``subprocess.run``).
            watched.extend(_foreign_watches(module_namespace, names))
            continue
        if other is owner or other.baseline is None:
            continue
        watched.extend((module_namespace, attribute, other.baseline[attribute]) for attribute in names
                       if attribute in other.baseline and attribute not in other.rebound)
    # A builtin the module does not define itself, patched in ``builtins`` (a test's
    # ``mock.patch("builtins.input", side_effect=[...])`` feeding a prompt loop, which
    # replay runs with no input at all): the outcome belongs to the patch too.
    watched.extend((_BUILTINS_NAMESPACE, name, _BUILTINS_AT_START[name]) for name in names
                   if name in _BUILTINS_AT_START and name not in baseline and name not in owner.rebound)
    for name in [name for name in names if name not in baseline]:
        # A module imported inside the function (``import subprocess`` in its body): its
        # functions and classes as they were when recording started.
        module = sys.modules.get(name)
        if name in _foreign_callables and module is not None:
            watched.extend(_foreign_watches(object.__getattribute__(module, "__dict__"), names))
    return watched


def _method_watches(instance: Any, names: list, by_module: dict) -> list:
    """For a module-level object of a class of yours (arrow's ``api._factory``): the
    methods of its class the code names, as an attribute of the object (absent: a test's
    ``mock.patch("arrow.api._factory.get")`` sets one, maybe before the function's first
    call, when this is worked out) and on the class (a ``mock.patch.object(ArrowFactory,
    "get")``), as they are now when that is the class's own function."""
    kind = type(instance)
    if kind.__module__ not in by_module:  # (not of an instrumented module of yours)
        return []
    attributes = instance_dict(instance)
    if attributes is None:
        return []
    watches = []
    for name in names:
        owner = next((klass for klass in kind.__mro__[:-1] if name in namespace_of(klass)), None)
        method = namespace_of(owner).get(name) if owner is not None else None
        if type(method) is not RecordingWrapper and type(method) is not types.FunctionType:
            continue
        # (a wrapper's plain function goes back in its place once recording is done with it)
        identities = _method_identities(method)[0]
        watches.append((attributes, name, (_ABSENT,)))
        if getattr(method, "__qualname__", None) == f"{owner.__qualname__}.{name}":
            watches.append((_class_namespace(owner), name, identities))
    return watches


def _foreign_watches(module_namespace: dict, names: list, depth: int = 2) -> list:
    known = _noted_callables(module_namespace.get("__name__"))
    watches = [(module_namespace, attribute, (known[attribute],)) for attribute in names if attribute in known]
    if depth:
        # Its submodules the code names (``urllib.request.urlopen``, ``os.path.exists``):
        # a test patches their functions as often as the module's own.
        for attribute in names:
            value = module_namespace.get(attribute)
            if type(value) is types.ModuleType:
                inner = object.__getattribute__(value, "__dict__")
                if inner.get("__name__") in _foreign_callables and inner is not module_namespace:
                    watches.extend(_foreign_watches(inner, names, depth - 1))
    return watches


_BUILTIN_NAMES = frozenset(vars(builtins))
_BUILTINS_NAMESPACE = vars(builtins)
# The builtins tests replace in ``builtins`` itself (a prompt's input, a fake file's
# open, a silenced print), as the tool found them. Not all of them: every function names
# len or isinstance, and checking those at every call cost tomlkit's suite a tenth.
_BUILTINS_AT_START = {name: (_identity(_BUILTINS_NAMESPACE[name]),) for name in ("input", "open", "print", "exit", "quit")
                      if name in _BUILTINS_NAMESPACE}
# Modules your modules imported that are not instrumented: name -> {attribute: id} of
# their functions and classes when first seen, and, outside the standard library, of
# their simple settings (a module of options without a function: dpath's
# ``options.ALLOW_EMPTY_STRING_KEYS``, which a test class turns on for its tests). The
# standard library's data attributes (``sys.stdout``) change by design: not watched.
# Until a watch first looks at a standard module, it holds a copy of the module's
# namespace as it was (see _AsNoted): recording starts by noting every standard module
# imported (190 in a bare pytest process), and sorting their 20,000 attributes took a
# fifth of the start.
_foreign_callables: dict[str, Any] = {}


class _AsNoted(NamedTuple):
    """A standard module's namespace, copied when it was noted (sorted when first looked at)."""

    namespace: dict


def _callables(namespace: dict, settings: tuple) -> dict:
    """``{attribute: id}`` of a namespace's functions and classes (and settings)."""
    return {attribute: _identity(value) for attribute, value in namespace.items()
            if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type))
            or (type(value) in settings and not attribute.startswith("__"))}


def _note_foreign_module(module: types.ModuleType) -> None:
    name = getattr(module, "__name__", None)
    if not isinstance(name, str) or name in _foreign_callables or name.startswith("cleanup_trace"):
        return
    if filters.is_standard_library(name):
        _foreign_callables[name] = _AsNoted(dict(vars(module)))
    else:
        # (at once: its namespace may hold functions of yours, which a copy would keep,
        # and a function held here looks like a user's to detaching, see _other_holders)
        _foreign_callables[name] = _callables(dict(vars(module)), SETTING_TYPES)


def _noted_callables(name: Optional[str]) -> dict:
    """``{attribute: id}`` of a noted module's functions, classes (and settings) as noted."""
    known = _foreign_callables.get(name)  # type: ignore[arg-type]
    if type(known) is _AsNoted:  # (the standard library's data attributes change by design: not watched)
        known = _foreign_callables[name] = _callables(known.namespace, ())  # type: ignore[index]
    return known or {}


def _too_deep() -> None:
    """The program's stack reached the interpreter's limit inside the tool's frames
    (asteval's test of its recursion limit): that call is not recorded. Not the tool's
    failure: the function stays recorded, and nothing is logged (logging needs frames)."""
    _state.stats["skipped: stack too deep to record"] += 1


def _raised_outcome(error: BaseException) -> Optional[dict]:
    """An exception as data files store it (``None`` when its message cannot be read)."""
    try:
        message = str(error)
    except Exception:
        return None
    if serialise is not None:
        message = serialise.with_package_dirs_marked(message)
    return {"raised": {"type": _qualified_type_name(type(error)), "message": message}}


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


def _running_calls() -> list:
    """This thread's running recorded calls (their snapshots), made at first need."""
    running = _guard.calls
    if running is None:
        running = _guard.calls = []
    return running


def _call_ended(record: FunctionRecord, snapshot: dict, returned: Any = None,
                raised: Optional[BaseException] = None) -> None:
    """A recorded sync call ends (through its wrapper or in its body): off the running
    calls, its case finished (an exception that is not an ``Exception`` is no outcome),
    the detaches waiting for a call to end tried again."""
    running = _guard.calls
    if running and running[-1] is snapshot:
        running.pop()
    elif running:  # (never, with calls ending in order; by identity: a snapshot holds data)
        for index in range(len(running) - 1, -1, -1):
            if running[index] is snapshot:
                del running[index]
                break
    if raised is None:
        record.finish(snapshot, returned=returned)
    elif isinstance(raised, Exception):
        record.finish(snapshot, raised=raised)
    if _state.pending_detach:
        _retry_detaches(record)


class _RecordingGenerator:
    """Forwards a generator faithfully (PEP 380 semantics) and records what it yields."""

    def __init__(self, function: FunctionRecord, snapshot: dict, generator: Any) -> None:
        self.function = function
        self.snapshot = snapshot
        self.generator = generator
        self.items: list = []
        self.sent_values = False
        self.truncated = False
        self.first_argument: Any = None
        self.forwarder = 0  # (its id: a reference would make a cycle, and a weak one is
        # gone when the garbage collector closes it, left open, with its object)

    def kept_by(self, first_argument: Any, forwarder: Any) -> None:
        """Note the call's first argument (``self``), to look at the end whether it keeps
        this generator (see :meth:`_resumed_in_turns`)."""
        self.first_argument = first_argument
        self.forwarder = _identity(forwarder)

    def _resumed_in_turns(self) -> bool:
        """Is the generator an attribute of the object it works on (wsproto's
        ``self._parse_more = self._parse_more_gen()``)? Such a generator is resumed by
        one method call after another, with the object fed in between (bytes received):
        what it yields depends on what happened between its steps, which replay, running
        it from the object as it was at the start, does not have."""
        attributes = instance_dict(self.first_argument) if self.forwarder else None
        return attributes is not None and any(_identity(value) == self.forwarder for value in attributes.values())

    def _keep(self, item: Any) -> None:
        if len(self.items) >= ITEM_LIMIT:
            self.truncated = True
            return
        if _guard.busy:  # resumed inside the tool's own work: this case cannot be stored
            self.snapshot = None  # type: ignore[assignment]
            return
        _guard.busy = True
        try:
            data = self.function.store(item, "yielded value")
            if data is _REFUSED:
                self.snapshot = None  # type: ignore[assignment]
            else:
                self.items.append(data)
        except Exception as error:
            self.function.fail(error)
            self.snapshot = None  # type: ignore[assignment]
        finally:
            _guard.busy = False

    def _end(self, end: dict) -> None:
        if self.snapshot is None:
            return
        if self.sent_values:
            self.function.skip("generator driven with send()", "replay cannot reproduce sent values")
            return
        if self._resumed_in_turns():
            self.function.skip("generator kept by the object it reads",
                               "resumed call after call, with the object changed in between")
            return
        end["items"] = self.items
        end["truncated"] = self.truncated
        self.function.finish(self.snapshot, outcome={"generator": end})

    def _resume(self, action: Callable, *argument: Any) -> Any:
        """``next``/``send``/``throw`` with this case among the running calls, so that what
        the generator's body does (write a file, read the clock) is told to it."""
        snapshot = self.snapshot
        if snapshot is None:
            return action(*argument)
        running = _running_calls()
        running.append(snapshot)
        try:
            return action(*argument)
        finally:
            running.pop()

    def run(self):
        generator = self.generator
        try:
            try:
                item = self._resume(next, generator)
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
                            item = self._resume(next, generator)
                        else:
                            self.sent_values = True
                            item = self._resume(generator.send, sent)
                    except StopIteration as stop:
                        self._end_returned(stop.value)
                        return stop.value
        except Exception as error:
            if self.snapshot is not None:
                outcome = self.function.exception_outcome(error) if not isinstance(error, GeneratorExit) else None
                if outcome is not None:
                    self._end({"end": "raised", "raised": outcome["raised"]})
                self.snapshot = None  # type: ignore[assignment]
            _without_own_frames(error)
            raise

    def _end_returned(self, value: Any) -> None:
        if self.snapshot is None:
            return
        if _guard.busy:  # (see finish)
            self.snapshot = None  # type: ignore[assignment]
            return
        _guard.busy = True
        try:
            data = self.function.store(value, "return value")
            if data is _REFUSED:
                self.snapshot = None  # type: ignore[assignment]
                return
        except Exception as error:
            self.function.fail(error)
            return
        finally:
            _guard.busy = False
        self._end({"end": "returned", "returned": data})
        self.snapshot = None  # type: ignore[assignment]


def _running_snapshots() -> list:
    """The recorded calls running here: this thread's synchronous ones and this task's
    coroutines and async generators."""
    return list(_guard.calls or ()) + list(_async_calls.get())


def _tell_running(mark: str, what: str, handling_only: bool = False) -> None:
    """Mark every recorded call running here (the first reason told is kept), or only
    those that started inside an ``except`` block: ``finish`` will not keep them."""
    for snapshot in _running_snapshots():
        if not handling_only or snapshot.get("handling"):
            snapshot.setdefault(mark, what)


_RECURSION_LIMIT = "the recursion limit"
_IMPORT_FAILED = "import failed: "
_GROWN_STATE = "module state changed since import: "
_CHANGES_STATE = "changes "  # (told by a setter to its callers: see finish)


def _volatile_reason(source: str) -> tuple[str, str]:
    """The skip reason and detail for a call marked by ``clock_read`` or ``input()``."""
    if source == _RECURSION_LIMIT:
        return "met the recursion limit", ("where the interpreter's limit is met depends on the stack the call "
                                           "started from: replay starts from another")
    if source.startswith(_GROWN_STATE):
        return "reads its module's state changed since import", (f"{source[len(_GROWN_STATE):]}: a replay "
                                                                 "imports your modules afresh")
    if source.startswith(_IMPORT_FAILED):
        return "an import failed", (f"of {source[len(_IMPORT_FAILED):]}: what imports depends on the run "
                                    "(sys.path, what is installed, modules a test blocked)")
    if source in CURRENT_DIRECTORY_CALLS:
        return "reads the current directory", f"through {source}: where the run was, replay runs elsewhere"
    if source.startswith(RELATIVE_PATH):
        return "reads the current directory", f"{source}: where the run was, replay runs elsewhere"
    if source == _INPUT_READ or source == STDIN_READ:
        return "reads standard input", f"through {source}: replay has no such input"
    if source.startswith(_RELATIVE_LISTING):
        return "lists the current directory", \
            f"{source[len(_RELATIVE_LISTING):]!r}: a path relative to where the run was, replay runs elsewhere"
    if source.startswith(_RELATIVE_READ):
        return "reads a path relative to the current directory", \
            f"{source[len(_RELATIVE_READ):]!r}: where the run was, replay runs elsewhere"
    if source.startswith(_WRITTEN_FILE_READ):
        return "reads a file written during the run", f"{source[len(_WRITTEN_FILE_READ):]}: a test's file, gone or changed when it replays"
    if source in HANDLED_EXCEPTION_READS:
        return "reads the exception its caller handles", f"through {source}: replay has no exception being handled"
    if source == TRACEBACK_ATTRIBUTE or source in TRACEBACK_CALLS:
        return "reads a traceback", \
            f"through {source}, of an exception it did not catch itself: a stored exception has none"
    if source.startswith(THREAD_LOCAL_CHANGE):
        name = source[len(THREAD_LOCAL_CHANGE):].replace(":", ".")
        return "changes thread-local state", f"{name}: replayed, the call would change what the cases after it see"
    if source.startswith(THREAD_LOCAL):
        name = source[len(THREAD_LOCAL):].replace(":", ".")
        return "reads thread-local state", \
            f"{name} holds what an earlier call set in this thread (a locale, a context): replay has none"
    if source.startswith(SHARED_COUNTER):
        return "advances a shared counter", \
            f"next({source[len(SHARED_COUNTER):]}): the number drawn depends on the calls before, replay starts afresh"
    return "reads the clock or entropy", f"through {source}: replay runs at another moment"


def _relative_path(value: Any) -> bool:
    """Is ``value`` a path (text, bytes, a path object) relative to the current directory?"""
    path = _path_argument((value,))
    return path is not None and not os.path.isabs(path)


def clock_read(function: Any, source: str) -> Any:
    """Where an instrumented function reads the clock or an entropy source (the
    transformer rewrote ``datetime.now()`` into ``clock_read(datetime.now, "...")()``): the
    recorded calls running now are not kept. Returns ``function`` untouched."""
    if _guard.calls or _async_calls.get():  # else nobody to tell: as cheap as can be
        try:
            if source.startswith(THREAD_LOCAL):
                if _thread_local_holds_state(source[len(THREAD_LOCAL):]):
                    _tell_running("volatile", source)
            elif source.startswith(RELATIVE_PATH):
                if _relative_path(function):  # (here the path, not a callable)
                    _tell_running("volatile", source)
            elif source.startswith(SYSTEM_RANDOM_METHOD):
                # (a method's object read as the method keeps it, its class by type():
                # never the object's own code)
                if type(function) in _BOUND_METHODS and issubclass(type(function.__self__), random.SystemRandom):
                    _tell_running("volatile", source[len(SYSTEM_RANDOM_METHOD):])
            else:
                # The exception its caller handles: only the calls that started inside a
                # handler depend on it (a call that raised and handled it itself replays).
                _tell_running("volatile", source, handling_only=source in HANDLED_EXCEPTION_READS)
        except Exception:  # never in the way of the user's call
            pass
    return function


_BOUND_METHODS = frozenset({types.MethodType, types.BuiltinMethodType})
_EMPTY_VALUES = frozenset({type(None), list, dict, tuple, set, str, bytes})


def _thread_local_holds_state(where: str) -> bool:
    """Does the module's thread-local (``module:name``) hold anything in this thread? An
    attribute never set, ``None`` or an empty builtin container is nothing (no context
    pushed, no locale activated); anything else is, without asking the value itself."""
    module, _, name = where.rpartition(":")
    local = vars(sys.modules[module]).get(name) if module in sys.modules else None
    if not isinstance(local, threading.local):
        return False
    return any(not (type(value) in _EMPTY_VALUES and not value) for value in vars(local).values())


# A builtin, not a module global: the instrumented modules' namespaces stay the user's.
setattr(builtins, CLOCK_HOOK, clock_read)


def _enter_async(snapshot: Optional[dict]) -> Any:
    return None if snapshot is None else _async_calls.set(_async_calls.get() + (snapshot,))


def _leave_async(token: Any) -> None:
    if token is not None:
        try:
            _async_calls.reset(token)
        except ValueError:  # resumed in another context than it started in: nothing to undo
            pass


async def _step(snapshot: Optional[dict], awaitable: Any) -> Any:
    """Await one step of a recorded async generator with its case among the running calls."""
    token = _enter_async(snapshot)
    try:
        return await awaitable
    finally:
        _leave_async(token)


async def _record_coroutine(function: FunctionRecord, snapshot: dict, coroutine: Any) -> Any:
    try:
        result = await _step(snapshot, coroutine)
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
            item = await _step(snapshot, agen.__anext__())
        except StopAsyncIteration:
            if snapshot is not None:
                function.finish(snapshot, outcome={"generator": {"end": "returned", "returned": None,
                                                                 "items": [], "truncated": False}})
            return
        while True:
            if snapshot is not None and _guard.busy:  # (see finish)
                snapshot = None
            elif snapshot is not None and len(items) < ITEM_LIMIT:
                _guard.busy = True
                try:
                    data = function.store(item, "yielded value")
                    if data is _REFUSED:
                        snapshot = None
                    else:
                        items.append(data)
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
                item = await _step(snapshot, agen.athrow(thrown))
            else:
                if sent is not None:
                    faithful = False
                item = await _step(snapshot, agen.__anext__() if sent is None else agen.asend(sent))
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


# The functions recording in their own body whose gate is open now, by the key the
# transformer gave each ``def``: their OPEN_HOOK is this dict's ``get``. (A function, not
# an object made for it: nothing is made per ``def`` at import but this entry.)
_open_gates: dict = {}
# Each function recording in its body -> its module's instrumenter (by the function: its
# module may run as ``__main__``, its ``__module__`` may name a package re-exporting it).
_inline_owners: dict = {}


class _InlineGate:
    """The gate of a function that records in its body (see :mod:`cleanup_trace.inline`),
    made with its record: open while its key maps to the function in ``_open_gates``.
    Behaves as the wrappers' bytearray gates do where the runtime tests, opens and closes
    them."""

    __slots__ = ("key", "function", "shape")

    def __init__(self, key: str, function: Callable) -> None:
        self.key = key
        self.function = function
        # (defaults, keyword defaults, parameter names, positional-only count), read at the
        # first recorded call: every read of ``__code__`` or ``__defaults__`` is an audit
        # event, which the tool's audit hook would see at every call. (Defaults replaced
        # afterwards, ``f.__defaults__ = ...``, are not seen: a parameter holding the old
        # default would be left out and replay with the new one. Rare: left so.)
        self.shape: Optional[tuple] = None

    def learn_shape(self) -> tuple:
        function = self.function
        code = function.__code__  # type: ignore[attr-defined]
        shape = self.shape = (function.__defaults__, function.__kwdefaults__,  # type: ignore[attr-defined]
                              code.co_varnames, code.co_posonlyargcount)
        return shape

    def __bool__(self) -> bool:
        return _open_gates.get(self.key) is self.function

    def clear(self) -> None:
        _close_inline(self.key, self.function)

    def __setitem__(self, _where: slice, value: bytes) -> None:  # ``gate[:] = _OPEN``
        if value:
            _open_gates[self.key] = self.function  # (a module imported again: its latest def)
        else:
            self.clear()


def _close_inline(key: str, function: Callable) -> None:
    if _open_gates.get(key) is function:
        _open_gates.pop(key, None)


def _call_form(shape: tuple, positional: tuple, rest: tuple, keywords: Optional[dict],
               options: Optional[dict]) -> tuple[tuple, dict]:
    """The call as its caller could have written it, from the parameters' values and the
    function's ``shape`` (see _InlineGate): a parameter still holding its default object
    is left out (the default is the function's own, even a sentinel nobody can name), the
    named ones after it given by keyword."""
    defaults, own_defaults, names, only_positional = shape
    if rest:
        arguments = positional + rest
    elif defaults:
        first_default = len(positional) - len(defaults)
        kept: list = []
        by_name: dict = {}
        for index, value in enumerate(positional):
            if index >= first_default and value is defaults[index - first_default] and index >= only_positional:
                continue
            if len(kept) == index:
                kept.append(value)
            else:
                by_name[names[index]] = value
        arguments = tuple(kept)
        if by_name:
            keywords = {**by_name, **keywords} if keywords else by_name
    else:
        arguments = positional
    kwargs: dict = {}
    if keywords:
        own_defaults = own_defaults or {}
        kwargs = {name: value for name, value in keywords.items()
                  if name not in own_defaults or own_defaults[name] is not value}
    if options:
        kwargs.update(options)
    return arguments, kwargs


def _inline_enter(function: Callable, positional: tuple, rest: tuple, keywords: Optional[dict],
                  options: Optional[dict]) -> Optional[list]:
    """ENTER_HOOK: a call of a function whose gate is open starts. Returns what the
    function's body keeps in its local for the hooks after (``None``: not recorded)."""
    if _guard.busy:
        return None
    try:
        owner = _inline_owners[function]
        record = owner.records.get(function) or owner.record_for(function)
        if record is None:
            return None
        gate = record.gate
        arguments, kwargs = _call_form(gate.shape or gate.learn_shape(), positional, rest, keywords, options)
    except Exception as error:  # never in the user's way
        log.debug("call.not_recorded", function=getattr(function, "__qualname__", "?"),
                  error=f"{type(error).__name__}: {error}")
        return None
    snapshot = record._snapshot(arguments, kwargs)
    if snapshot is None:
        return None
    _running_calls().append(snapshot)
    return [record, snapshot, None, _NO_RETURN_YET]  # (record, snapshot, returned, raised)


def _inline_return(call: list, value: Any) -> Any:
    """RETURN_HOOK: the value a ``return`` of the recorded call returns (the last one wins)."""
    call[2], call[3] = value, None
    return value


def _inline_raise(call: list) -> None:
    """RAISE_HOOK: an exception leaves the recorded call (it is re-raised as it is).
    Only in a body whose ``finally`` or ``with`` can raise after a return (see inline)."""
    call[3] = sys.exc_info()[1]


# ``raised`` of a call no return has ended yet; also "no outcome" to ``_call_ended``
# (not an ``Exception``), should the way out be neither a return nor an exception.
_NO_RETURN_YET = object()


def _inline_leave(call: list) -> None:
    """LEAVE_HOOK: the recorded call ends, from the ``finally`` of its body. One that
    reached no RETURN_HOOK raised: the exception is the one on its way out."""
    if call[3] is _NO_RETURN_YET:
        call[3] = sys.exc_info()[1] or _NO_RETURN_YET
    _call_ended(*call)


for _name, _hook in zip(inline.HOOK_NAMES, (_open_gates.get, _inline_enter, _inline_return, _inline_raise,
                                            _inline_leave)):
    setattr(builtins, _name, _hook)
del _name, _hook


class RecordingWrapper(_PicklingMixin, wrapt.FunctionWrapper):
    def __get__(self, instance: Any, owner: Any = None, _bind: type = types.MethodType) -> Any:
        # Bound as Python binds the plain function: read from its class it is the wrapper
        # itself (wrapt would make a new bound wrapper at every read, and
        # ``cls.__setattr__ is _frozen_setattrs``, attrs telling a frozen base class, would
        # be false), read from an instance a plain ``method`` of the wrapper, whose
        # ``__func__`` is what the class holds. Called, the wrapper gets the instance as
        # its first argument: recorded as a call through the class, the same case. wrapt's
        # bound wrapper cost 0.6 us per read, paid by every method that is read and never
        # called (markdown's ``self._unescape``, handed to ``re.sub`` 127,000 times).
        # (What it wraps is always a plain function: the transformer decorates ``def``s
        # only, innermost. Reading ``__wrapped__`` here would double the cost.)
        if instance is None:
            return self
        return _bind(self, instance)


_NOT_HELD = object()  # (in rebound_at_import: a wrapper of yours, compared by its digest only)


class ModuleInstrumenter:
    """The decorator the transformer applies, innermost, to every ``def`` of one module.

    Import time is the hot path here (every ``def`` of every included module): a gate and
    a wrapper per function, nothing else. The function's :class:`FunctionRecord` is made
    when a call first reaches :meth:`dispatch`, the one wrapper callable of the module.
    ``.setter``/``.deleter`` give property roles.
    """

    def __init__(self, module: str, rebound: tuple = (), identities: tuple = ()) -> None:
        self.module = module
        self.identities = identities  # module-level names its code uses by identity
        self.gates: dict[Callable, bytearray] = {}  # plain function -> its wrapper's gate
        self.inline_keys: dict[Callable, str] = {}  # function recording in its body -> its key
        self.roles: dict[Callable, str] = {}  # property setters and deleters only
        self.records: dict[Callable, FunctionRecord] = {}
        self.rebound = frozenset(rebound)  # names its functions declare ``global``
        # Its namespace, and what those names held when its body finished: name ->
        # (the object, its _binding_digest).
        self.namespace: Optional[dict] = None
        self.rebound_at_import: Optional[dict] = None
        # Its namespace when its body finished, as identities: a reference held here
        # would look like a user's to the detaching check. (A replaced value stays alive
        # while patched, kept by monkeypatch or mock to restore it: its id is not reused.)
        self.baseline: Optional[dict[str, tuple]] = None
        # Simple class attributes of its classes, as its body left them: name ->
        # [(the class, (id of the value,))]. A setting a test changes
        # (``Parser.DEFAULT_WHITE_CHARS``) is watched like a patched global.
        self.class_settings: dict[str, list] = {}
        # The methods of its classes, as its body left them: name -> [(the class,
        # (ids of what it holds,), the plain function)]. A test's
        # ``monkeypatch.setattr(Frame, "serialize_body", ...)`` changes what every method
        # calling ``self.serialize_body()`` does: watched like a patched global, and
        # followed as a callee.
        self.class_methods: dict[str, list] = {}

    def finished(self, namespace: Optional[dict] = None) -> None:
        """The module's body ran to its end (the transformer's last statement): take the
        helper name out of its namespace, and note what every global was. (``namespace``:
        a module instrumented in place, see :mod:`cleanup_trace.late`.)"""
        if namespace is None:
            namespace = sys._getframe(1).f_globals
        namespace.pop(HELPER_NAME, None)
        try:
            # A wrapper and its plain function are one global: the tool swaps them itself.
            self.baseline = {name: (_identity(value), _identity(value.__wrapped__)) if type(value) is RecordingWrapper
                             else (_identity(value),) for name, value in namespace.items()}
            if self.rebound:
                self.namespace = namespace
                # (a wrapper of yours is not held: the detaching check counts who holds it)
                self.rebound_at_import = {
                    name: (namespace[name] if type(namespace[name]) is not RecordingWrapper else _NOT_HELD,
                           _binding_digest(namespace[name])) for name in self.rebound if name in namespace}
            for class_name, value in namespace.items():
                if type(value) is types.ModuleType:
                    _note_foreign_module(value)
                elif isinstance(value, type) and value.__module__ == self.module:
                    attributes = value.__dict__
                    for name, item in attributes.items():
                        if type(item) in SETTING_TYPES and not name.startswith("__"):
                            self.class_settings.setdefault(name, []).append((value, (_identity(item),)))
                        elif (type(item) in _METHOD_TYPES or type(item) is RecordingWrapper) \
                                and not (name.startswith("__") and name.endswith("__")):
                            self.class_methods.setdefault(name, []).append((value,) + _method_identities(item))
                        elif class_name == value.__name__ and _compared_by_identity(item) \
                                and not name.startswith("__"):
                            # A class-level sentinel (``__optionalNotMatched = _NullToken()``
                            # compared with ``is``): stored by name like a module's.
                            digest = _state_digest(item)
                            if digest is not None:
                                _module_objects[_identity(item)] = (self.module, f"{class_name}.{name}", digest)
            identities = set(self.identities)
            for name, value in namespace.items():
                # (Compared with ``is`` by the module's code, it is that object that
                # counts, whatever its own __eq__ says: ecdsa's ``other is INFINITY``.)
                if (name in identities and _storable_by_name(value)) or (
                        not name.startswith("__") and locate.of_a_local_class(value)):
                    digest = _state_digest(value)
                    if digest is not None:
                        _module_objects[_identity(value)] = (self.module, name, digest)
            _note_table_items(self.module, namespace, _instrumenters_by_module())
            _note_module_containers(namespace)
        except Exception as error:  # never in the way of the user's import: patches go unseen
            log.debug("module.globals_not_noted", module=self.module, error=f"{type(error).__name__}: {error}")

    def decorator(self) -> Callable[[Callable], Callable]:
        """The decorator itself: a plain function with its look-ups bound as defaults,
        the cheapest call Python has (it runs once per ``def``)."""

        def instrument(function: Callable, _wrap: type = RecordingWrapper, _dispatch: Callable = self.dispatch,
                       _gates: dict = self.gates, _state: _State = _state) -> Callable:
            try:
                gate = bytearray(_OPEN) if _state.sink is not None else bytearray()
                wrapper = _wrap(function, _dispatch, gate)
                _gates[function] = gate
                return wrapper
            except Exception as error:  # never break the user's import
                log.error("function.not_instrumented",
                          function=f"{self.module}.{getattr(function, '__qualname__', '?')}",
                          error=f"{type(error).__name__}: {error}")
                return function

        def with_role(role: str) -> Callable[[Callable], Callable]:
            def instrument_role(function: Callable) -> Callable:
                self.roles[function] = role
                return instrument(function)
            return instrument_role

        def inline_recording(key: str, role: str = "") -> Callable[[Callable], Callable]:
            # (Nothing is made for the function but two dict entries: its gate object and
            # record come at its first recorded call. The transformer wrote this decorator
            # for plain functions only: their code is not read here, an audit event.)
            def register(function: Callable) -> Callable:
                try:
                    self.inline_keys[function] = key
                    _inline_owners[function] = self
                    if role:
                        self.roles[function] = role
                    if _state.sink is not None:
                        _open_gates[key] = function
                except Exception as error:  # never break the user's import
                    log.error("function.not_instrumented",
                              function=f"{self.module}.{getattr(function, '__qualname__', '?')}",
                              error=f"{type(error).__name__}: {error}")
                return function
            return register

        instrument.inline = inline_recording  # type: ignore[attr-defined]
        instrument.setter = with_role("setter")  # type: ignore[attr-defined]
        instrument.deleter = with_role("deleter")  # type: ignore[attr-defined]
        instrument.finished = self.finished  # type: ignore[attr-defined]
        return instrument

    def dispatch(self, wrapped: Callable, instance: Any, args: tuple, kwargs: dict) -> Any:
        """wrapt's wrapper, (wrapped, instance, args, kwargs), for every function of the module.

        One frame between the caller and the function: the recursion limit and tracebacks
        see one extra frame, not two.
        """
        snapshot = None
        if not _guard.busy:
            raw = wrapped.__func__ if type(wrapped) is types.MethodType else wrapped
            record = self.records.get(raw) or self.record_for(raw)
            if record is not None:  # (always, with the transformer's output)
                snapshot = record._snapshot(args if instance is None else (instance,) + args, kwargs)
        if snapshot is None:  # not recorded: most calls, once budgets are full
            try:
                return wrapped(*args, **kwargs)
            except BaseException as error:
                _without_own_frames(error)
                raise
        if record.is_generator:
            recording = _RecordingGenerator(record, snapshot, wrapped(*args, **kwargs))
            forwarder = recording.run()
            if instance is not None or args:
                recording.kept_by(instance if instance is not None else args[0], forwarder)
            return _named_like(forwarder, wrapped)
        if record.is_async_generator:
            return _named_like(_record_async_generator(record, snapshot, wrapped(*args, **kwargs)), wrapped)
        if record.is_coroutine:
            return _named_like(_record_coroutine(record, snapshot, wrapped(*args, **kwargs)), wrapped)
        _running_calls().append(snapshot)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            _call_ended(record, snapshot, raised=error)
            _without_own_frames(error)
            raise
        _call_ended(record, snapshot, returned=result)
        return result

    def record_for(self, raw: Callable) -> Optional[FunctionRecord]:
        with _state.registry_lock:  # two threads calling first must share one record
            record = self.records.get(raw)
            if record is None:
                gate: Any = self.gates.get(raw)
                if gate is None and raw in self.inline_keys:
                    gate = _InlineGate(self.inline_keys[raw], raw)
                if gate is not None:
                    record = self.records[raw] = FunctionRecord(raw, self, self.roles.get(raw, ""), gate)
            return record


# The tool's frames between a recorded function and its caller are skipped by warnings
# and logging the way they skip importlib's own frames: both test for "importlib" and
# "_bootstrap" in the frame's file name. So ``warnings.warn(..., stacklevel=2)`` inside a
# recorded function names its caller (and ``filterwarnings(module=...)`` matches it), as
# without the tool. linecache keeps showing this file's lines in tracebacks; pytest
# leaves such ``<...>`` frames out of its failure reports.
WRAPPER_FILE = f"<cleanup_trace recording frame, skipped like importlib._bootstrap: {__file__}>"


def _skipped_by_stacklevel(*functions: Any) -> None:
    try:
        import linecache

        with open(__file__, encoding="utf-8") as handle:
            lines = handle.readlines()
        linecache.cache[WRAPPER_FILE] = (sum(map(len, lines)), None, lines, WRAPPER_FILE)
        for function in functions:
            function.__code__ = function.__code__.replace(co_filename=WRAPPER_FILE)
    except Exception as error:  # an odd installation: the frames keep their file name
        log.debug("wrapper.frames_not_renamed", error=f"{type(error).__name__}: {error}")


_skipped_by_stacklevel(ModuleInstrumenter.dispatch, _RecordingGenerator.run, _RecordingGenerator._resume,
                       _record_coroutine, _record_async_generator, _step)
_OWN_CODE = frozenset({ModuleInstrumenter.dispatch.__code__, _RecordingGenerator.run.__code__,
                       _RecordingGenerator._resume.__code__})


def _without_own_frames(error: BaseException) -> None:
    """Take the recording frames off the front of ``error``'s traceback before a bare
    ``raise`` passes it on: the caller sees the traceback it would see without the tool.

    Code reading it relies on that: pyparsing tells "this parse action takes fewer
    arguments" from "it raised TypeError itself" by the traceback's last frame being its
    own call line. A bare ``raise`` re-raises with ``__traceback__`` from Python 3.11
    on; before, it keeps the traceback it caught (and so the frames).
    """
    if _TRACEBACK_FROM_EXCEPTION:
        tb = error.__traceback__
        while tb is not None and tb.tb_frame.f_code in _OWN_CODE:
            tb = tb.tb_next
        error.__traceback__ = tb


_TRACEBACK_FROM_EXCEPTION = sys.version_info >= (3, 11)


def module_instrumenter(module: str, rebound: tuple = (), identities: tuple = ()) -> Callable[[Callable], Callable]:
    """Called once at the top of every instrumented module (the transformer adds the call):
    the decorator for its functions (``.setter``/``.deleter`` for property roles,
    ``.finished()`` at the end of the module's body)."""
    instrumenter = ModuleInstrumenter(module, rebound, identities)
    _state.modules.append(instrumenter)  # list.append is atomic: no lock at import time
    return instrumenter.decorator()


def _retry_detaches(current: Optional[FunctionRecord], look_in_modules: bool = False) -> None:
    """Put back the plain functions whose wrappers nothing holds any more.

    A function running in this thread (``current``, or with a frame on the stack) is held
    by its caller: it waits for a later try, without using up an attempt. Modules holding
    a wrapper by name (see _ModuleHolders) are looked for only when ``look_in_modules``
    (between tests and at stop), for the functions waiting in ``held_elsewhere`` too.
    """
    with _state.registry_lock:
        pending, _state.pending_detach = _state.pending_detach, []
        if look_in_modules:
            pending, _state.held_elsewhere = pending + _state.held_elsewhere, []
    busy, _guard.busy = _guard.busy, True
    try:
        running = set()
        frame: Any = sys._getframe(1)
        while frame is not None:
            running.add(frame.f_code)
            frame = frame.f_back
        holders = _ModuleHolders() if look_in_modules else None
        for record in pending:
            if record.gate or record._detached is not None:
                continue  # recording again, or done meanwhile
            if record is current or getattr(record.raw, "__code__", None) in running:
                with _state.registry_lock:
                    _state.pending_detach.append(record)
                continue
            record._detach_attempts += 1
            record._detach(holders)  # queues itself again while something still holds the wrapper
    except Exception as error:  # the wrappers stay: slower, never wrong
        log.debug("detach.failed", error=f"{type(error).__name__}: {error}")
    finally:
        _guard.busy = busy


def _module_importing() -> Optional[str]:
    """One of your modules whose body is running now (its import not over), if any."""
    for instrumenter in reversed(_state.modules):  # (the latest started, most likely)
        if instrumenter.baseline is None:
            spec = getattr(sys.modules.get(instrumenter.module), "__spec__", None)
            if getattr(spec, "_initializing", False):  # (not an import that failed half-way)
                return instrumenter.module
    return None


def _trusted(kinds: frozenset, here: frozenset = frozenset()) -> bool:
    """Do values of these types come back equal when stored (see TRUSTED_AFTER_ROUND_TRIPS),
    none of them among those that failed for the function storing them (``here``)?"""
    round_trips, never, families = _state.round_trips, _state.never_trusted, _trust_families
    return all(round_trips[families.get(kind) or _trust_family(kind)] >= TRUSTED_AFTER_ROUND_TRIPS
               and kind not in never and kind not in here for kind in kinds)


def _count_round_trip(kinds: frozenset) -> None:
    _state.round_trips.update({_trust_families.get(kind) or _trust_family(kind) for kind in kinds})


# The standard library's classes that only add data to a base of theirs (ast's node
# classes: ``_fields``, made alike in C, reduced and rebuilt by ``ast.AST``'s code) earn
# trust with that base, counted once a value: restrictedpython's values hold dozens of
# them, each decoded and compared in five values before it was trusted (186 of its 196
# argument checks). Distrust stays with the class that failed (``_untrust``).
_trust_families: dict[type, type] = {}
_OWN_DATA_ONLY = (type(None), bool, int, float, str, bytes, tuple, frozenset, dict)  # (3.13: `_field_types`)


def _trust_family(kind: Any) -> Any:
    family = kind
    if isinstance(kind, type) and _from_the_standard_library(kind):
        for klass in kind.__mro__[:-1]:
            family = klass
            if any(type(value) not in _OWN_DATA_ONLY for name, value in namespace_of(klass).items()
                   if name not in ("__dict__", "__weakref__")):
                break  # (the first class with behaviour of its own: a method, a slot, a property)
    if len(_trust_families) >= 4096:
        _trust_families.clear()  # (it holds classes: a program making classes would grow it)
    _trust_families[kind] = family
    return family


def _blame_for(error: "serialise.Unserialisable", classes: set, function: tuple) -> None:
    """Count a lasting failure against the class it belongs to; refused up front (by the
    survey, before any encode) once it failed in two functions' calls and never stored.

    That class is the innermost one whose instances held what failed (a code generator
    keeping its output stream; the state a cache's ``__reduce__`` drops), or else the
    value's only class.
    """
    # The innermost holder not from the standard library: when it stored before, this
    # failure belongs to what one of its objects holds, and nobody is blamed.
    holder = next((klass for klass in error.holders if not _from_the_standard_library(klass)), None) \
        if error.holders_to_blame else None
    if holder is None and len(classes) == 1:
        holder = next(iter(classes))
    if holder is not None:
        _state.failures[holder] += 1
    if holder is not None and _blamable(holder):
        _state.blamed[holder].add(function)
        if len(_state.blamed[holder]) >= 2:
            _state.refused_classes.add(holder)


# A class that stored some times may still fail nearly always (prettytable's
# ``ObservableDict``: stored empty, it decodes; with items its ``__setitem__`` needs an
# attribute not set back yet): every such value paid jsonpickle's encode and decode.
# Refused up front once its failures, in two functions' calls or more, outnumber its
# stores this many times (and are at least FAILURES_BEFORE_REFUSING).
FAILURES_PER_STORE = 4
FAILURES_BEFORE_REFUSING = 8


FAILED_OBJECTS_KEPT = 1000


def _refused_up_front(first: Any) -> Optional[str]:
    """Why the survey would refuse ``first`` whatever else the call is given, or None:
    its class was refused (see _blame_for), or is one whose objects the survey refuses
    but a module's own (see _note_refused_argument)."""
    kind = type(first)
    if kind in _state.refused_classes:
        return serialise.refused_class_reason(kind)
    if kind in _state.never_rebuilt and _module_object_reference(first) is None:
        return serialise.not_rebuilt_reason(kind, serialise.never_rebuilt(kind))
    return None


def _failed_before(first: Any) -> bool:
    """Is ``first`` an object that failed to store before (see _refuse_object)?"""
    reference = _state.failed_objects.get(_identity(first))
    return reference is not None and reference() is first


def _note_refused_argument(first: Any) -> None:
    """Refuse from now on, before any fingerprint, the calls whose first argument is an
    object of the class of ``first``, if the survey refuses ``first`` on its own for its
    class (made inside a function: no name finds it again; a module's own objects, stored
    by name, excepted). Each such call paid the fingerprint of its arguments (bleach's
    html5lib tree builders, classes ``getETreeBuilder`` makes: 101,000 fingerprints
    instead of 131,000). Not for the object alone (one holding a lock or a bound method):
    a weak reference to it would be seen by the program (its ``__weakref__``, which
    boltons' ``wrap_trace`` wraps as a method)."""
    kind = type(first)
    # (what the survey says of such an object at once, the first item it meets: no need
    # to walk it again to know)
    if kind.__module__ == "builtins" or not serialise.never_rebuilt(kind) \
            or _module_object_reference(first) is not None:
        return
    if len(_state.never_rebuilt) >= 4096:
        _state.never_rebuilt.clear()  # (it holds the classes: a program making classes would grow it)
    _state.never_rebuilt.add(kind)


def _remember_failed_object(error: "serialise.Unserialisable") -> None:
    """Refuse up front, from now on, the innermost object not from the standard library
    whose state held what failed (when it takes a weak reference)."""
    if not error.holders_to_blame:
        return
    holder = next((item for item in error.holder_objects if not _from_the_standard_library(type(item))), None)
    if holder is not None:
        _refuse_object(holder)


def _refuse_object(holder: Any) -> None:
    """Refuse ``holder`` up front from now on: the survey stops at it, and a call given it
    first is refused before its fingerprint (pypubsub's topics hold their parent by a
    weak reference: 162 calls of their methods walked and refused one by one)."""
    try:
        reference = weakref.ref(holder)
    except TypeError:  # no weak reference: never kept alive by the tool
        return
    failed = _state.failed_objects
    if len(failed) >= FAILED_OBJECTS_KEPT:
        for key in [key for key, kept in failed.items() if kept() is None]:
            del failed[key]
        if len(failed) >= FAILED_OBJECTS_KEPT:
            return
    failed[_identity(holder)] = reference


# Classes of yours (or a library's) that write and read their own state: a function's
# first store of arguments holding one is checked, trusted or not. Such a class may write
# a state it cannot read back when its object is caught half-way through a change, which
# only some functions see: pygtrie's ``_OneChild.delete`` is given the parent of a node
# being removed, whose ``__getstate__`` writes a state its ``__setstate__`` cannot read
# (five cases stored, none decoding). An object pickled by its dict decodes in any state;
# a check of every function's first store of anything cost tomlkit 100 ms, markdown 190;
# its first of arguments holding such objects, tomlkit 161 more checks (436, not 275;
# of its return values too, 250 more).
# A list or dict of yours whose items decoding puts back through its own ``append`` or
# ``__setitem__`` counts too (boltons' ``BarrelList`` keeps its items in ``self.lists``,
# restored first, and its ``append`` added them again: a trusted class, one case stored
# that did not replay).
_OWN_STATE_METHODS = ("__getstate__", "__setstate__", "__reduce__", "__reduce_ex__")
_own_state_classes: dict = {}


def _writes_its_own_state(kind: Any) -> bool:
    found = _own_state_classes.get(kind)
    if found is None:
        names = _OWN_STATE_METHODS
        if isinstance(kind, type):
            names += ("append",) if issubclass(kind, list) else ("__setitem__",) if issubclass(kind, dict) else ()
        found = isinstance(kind, type) and not _from_the_standard_library(kind) and any(
            name in namespace_of(klass) for klass in kind.__mro__[:-1] if not _from_the_standard_library(klass)
            for name in names)
        if len(_own_state_classes) >= 4096:
            _own_state_classes.clear()
        _own_state_classes[kind] = found
    return found


def _from_the_standard_library(klass: type) -> bool:
    return klass.__module__ == "builtins" or filters.is_standard_library(klass.__module__)


def _blamable(klass: type) -> bool:
    # Functions store (or not) one by one. The standard library's classes store; when one
    # does not, something patched it for a while (freezegun's datetime): never refuse them
    # for good. A class stored before can be again: only one failing nearly always is.
    if issubclass(klass, RecordingWrapper) or _from_the_standard_library(klass):
        return False
    stored, failures = _state.stored_classes[klass], _state.failures[klass]  # (0 when absent)
    return not stored or (failures >= FAILURES_BEFORE_REFUSING and failures >= FAILURES_PER_STORE * stored)


class _ModuleHolders:
    """Where modules hold a wrapper by name (``from m import f``), looked up once per
    round of detaches, in the modules that do so in practice: your instrumented modules,
    your test modules and conftests, ``__main__``."""

    _modules: list = [0, []]  # len(sys.modules) when last listed, the modules then

    def __init__(self) -> None:
        self._index: Optional[dict] = None

    def of(self, wrapper: Any) -> list:
        if self._index is None:
            self._index = {}
            for module in self._scanned_modules():
                namespace = object.__getattribute__(module, "__dict__")
                for name, value in list(namespace.items()):
                    if type(value) is RecordingWrapper:
                        self._index.setdefault(_identity(value), []).append((namespace, name))
        return self._index.get(_identity(wrapper), [])

    @classmethod
    def _scanned_modules(cls) -> list:
        if len(sys.modules) != cls._modules[0]:
            if serialise is None:
                _load_serialiser()
            instrumented = {instrumenter.module for instrumenter in list(_state.modules)}
            cls._modules[:] = [len(sys.modules), [
                module for name, module in list(sys.modules.items())
                if type(module) is types.ModuleType and (name in instrumented or name == "__main__" or (
                    not filters.is_standard_library(name) and serialise._is_test_module(name)))]]
        return cls._modules[1]


def _other_holders(namespace: dict, name: str) -> int:
    """References to ``namespace[name]`` besides the namespace's own (call sites hold none)."""
    value = namespace.get(name)
    # sys.getrefcount sees the namespace's entry, ``value`` here and its own argument.
    return sys.getrefcount(value) - 3


# -- side effects: a call that writes files, starts processes or talks to the network is
# not recorded (its replay would do it again). Python's audit events tell us, for free
# when no recorded call is running.
_audit_installed = False


# Set by test runners and by this tool around every test or run, never read by the code
# under test: not part of what a call depends on.
_RUNNER_VARIABLES = ("PYTEST_CURRENT_TEST",)
_RUNNER_PREFIXES = ("PYTESTCLEANUP_",)


def _environ_changes() -> dict:
    """Variables set, changed (value) or removed (``None``) since recording started."""
    # (compared in os.environ's encoded form, and not again while it is as at the last look:
    # decoding every variable at every stored call was a sixth of formencode's recording,
    # whose tests leave a variable set)
    environ = os.environ
    raw, start = getattr(environ, "_data", None), _state.environ_raw_at_start
    decode_key, decode_value = getattr(environ, "decodekey", None), getattr(environ, "decodevalue", None)
    if type(raw) is not dict or decode_key is None or decode_value is None:
        raw = None  # (os.environ replaced by a test: compared as it reads)
    seen = _state.environ_seen
    if seen is not None and raw is not None and raw == seen[0]:
        changed = seen[1]
    else:
        if raw is not None and start is not None:
            changed = {decode_key(key): decode_value(value) for key, value in raw.items() if start.get(key) != value}
            changed.update((decode_key(key), None) for key in start if key not in raw)
        else:
            before, current = _state.environ_at_start, dict(environ)
            changed = {key: value for key, value in current.items() if before.get(key) != value}
            changed.update((key, None) for key in before if key not in current)
        changed = {key: value for key, value in sorted(changed.items())
                   if key not in _RUNNER_VARIABLES and not key.startswith(_RUNNER_PREFIXES)}
        _state.environ_seen = (dict(raw), changed) if raw is not None else None
    if not changed:
        _state.environ_touched = False  # back as it was: no need to compare again
    return dict(changed)


_LISTINGS = frozenset({"os.listdir", "os.scandir"})
# Every audited operation of the process comes here once recording has started (``id()``
# is one: tens of thousands of calls in a test suite): one set look-up decides.
_EVENTS_OF_INTEREST = SIDE_EFFECT_EVENTS | {"open", "os.putenv", "os.unsetenv", "builtins.input"} | _LISTINGS
# What the recorded calls running when input() reads a line are marked with: the line
# is not part of the case (a test's swapped stdin, a CLI prompt), replay has none.
_INPUT_READ = "input()"
_WRITTEN_FILE_READ = "read of a written file: "
_RELATIVE_READ = "read of a relative path: "
# A directory listed by a relative path (glob("*.toml"), os.listdir(), Path(".").iterdir())
# lists whatever directory the run was in: replay runs elsewhere.
_RELATIVE_LISTING = "listing of a relative path: "


def _audit(event: str, arguments: tuple, _interesting: frozenset = _EVENTS_OF_INTEREST) -> None:
    if event not in _interesting:
        return
    # An exception raised here would cancel the user's open(), os.remove(), Popen...
    try:
        _note_event(event, arguments)
    except Exception:
        pass


def _path_argument(arguments: tuple) -> Optional[str]:
    """The path an audit event names, as text (``None`` for a file descriptor)."""
    path = arguments[0] if arguments else None
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    return path if isinstance(path, str) else None


def _opened_path(arguments: tuple) -> Optional[str]:
    path = _path_argument(arguments)
    return os.path.abspath(path) if path is not None else None


# Events whose second argument is a file made (os.replace raises "os.rename").
_MAKING_A_FILE = frozenset({"os.rename", "shutil.move", "shutil.copyfile", "os.link", "os.symlink"})


def _note_event(event: str, arguments: tuple) -> None:
    if event == "open":
        _note_open(arguments)
        return
    if event == "os.putenv" or event == "os.unsetenv":
        # os.environ changed (a test's monkeypatch.setenv...): calls compare it with the
        # start of recording from now on. Not for pytest's PYTEST_CURRENT_TEST, set
        # around every test: comparing the whole environment after each would cost more
        # than the test's recorded calls.
        name = arguments[0] if arguments else None
        if isinstance(name, bytes):
            name = name.decode("utf-8", "surrogateescape")
        if name not in _RUNNER_VARIABLES and not (isinstance(name, str) and name.startswith(_RUNNER_PREFIXES)):
            _state.environ_touched = True
        return
    if event in _MAKING_A_FILE and not _guard.busy and len(arguments) > 1 and not bytecode_cache(arguments):
        # (mako writes a module to a temporary name, then renames it: the file read
        # later is the one renamed to)
        made = _opened_path(arguments[1:])
        if made is not None:
            _state.written_files.add(made)
    if _guard.busy or not (_guard.calls or _async_calls.get()):
        return
    if event == "builtins.input":
        _tell_running("volatile", _INPUT_READ)
    elif event in _LISTINGS:
        given = arguments[0] if arguments else None  # (None: the current directory)
        path = _path_argument(arguments)
        if given is None or (path is not None and not os.path.isabs(path)):
            _tell_running("volatile", _RELATIVE_LISTING + (path or "."))
    elif not bytecode_cache(arguments) and not during_an_import(WRAPPER_FILE):
        _tell_running("side_effect", event)  # every other event reaching here (see _audit) is one


def _note_open(arguments: tuple) -> None:
    if _guard.busy:
        return
    running = _guard.calls or _async_calls.get()
    if writes(arguments):
        # Whoever writes it (a test making its input file): a recorded call reading it
        # later reads what replay will not have (removed, or written otherwise).
        path = _opened_path(arguments)
        if path is not None:
            _state.written_files.add(path)
        if running and not during_an_import(WRAPPER_FILE):
            _tell_running("side_effect", "open")
    elif running:
        given = _path_argument(arguments)
        if given is not None and not os.path.isabs(given) and not during_an_import(WRAPPER_FILE):
            # (radon's ``FileConfig.toml_config`` reads "pyproject.toml" where the run is)
            _tell_running("volatile", _RELATIVE_READ + given)
        elif _state.written_files:
            path = _opened_path(arguments)
            if path in _state.written_files:
                _tell_running("volatile", _WRITTEN_FILE_READ + path)


# -- control, used by the recorder only ---------------------------------------------------
def put_back_waiting() -> None:
    """Between two steps of the user's (pytest's tests): try again to put back the plain
    functions whose wrappers something else held (at most every PUT_BACK_INTERVAL
    seconds: a suite of short tests would pay a round per test)."""
    if (_state.pending_detach or _state.held_elsewhere) and not _guard.busy:
        now = _REAL_MONOTONIC[0]()
        if now - _state.put_back_at >= PUT_BACK_INTERVAL:
            _state.put_back_at = now
            _retry_detaches(None, look_in_modules=True)


PUT_BACK_INTERVAL = 0.2


def _after_collection(phase: str, info: dict) -> None:
    """A garbage collection ended: put back the plain functions still waiting for it.

    A function's wrapper cannot be swapped out while anything holds it, its own running
    call included; once every budget is full no recorded call ends any more to try again,
    and wrappers with closed gates would stay for good. Collections happen in any program
    that allocates, between the user's own steps (what runs then is checked as usual).
    """
    try:  # an exception here would be printed by the interpreter ("Exception ignored")
        if phase != "stop" or not _state.pending_detach or _guard.busy:
            return
        # Young collections come every few hundred allocations, and a try walks the
        # stack (deep in a recursive parser): one in DETACH_COLLECTIONS is enough, and
        # every full one (gc.collect()).
        _state.collections += 1
        if _state.collections % DETACH_COLLECTIONS and info.get("generation") != 2:
            return
        lock = _state.registry_lock
        if not lock.acquire(blocking=False):  # this thread may hold it: never wait here
            return
        lock.release()
        _retry_detaches(None)
    except Exception:
        pass


@contextlib.contextmanager
def tool_work() -> Iterator[None]:
    """The tool's own work outside a recorded call (writing the data files): a recorded
    call ending meanwhile in this thread (a generator closed by the garbage collector)
    is not stored, and the functions it calls are not recorded."""
    busy, _guard.busy = _guard.busy, True
    try:
        yield
    finally:
        _guard.busy = busy


_release_registered = False  # (see release_records)


def start(sink: Sink, budget: int, max_depth: int, value_limit: int = 1000) -> None:
    global _audit_installed, _release_registered
    if not _audit_installed and hasattr(sys, "addaudithook"):
        # Audit hooks cannot be removed: installed once, a no-op outside recorded calls.
        _audit_installed = True
        sys.addaudithook(_audit)
    if not _release_registered:
        # (before any recorder's own exit handler: runs after it, the last registered first)
        _release_registered = True
        atexit.register(release_records)
    if _after_collection not in gc.callbacks:
        gc.callbacks.append(_after_collection)
    _state.sink = sink
    _state.environ_at_start = dict(os.environ)
    raw = getattr(os.environ, "_data", None)
    _state.environ_raw_at_start = dict(raw) if type(raw) is dict else None
    _state.environ_seen = None
    for name, module in list(sys.modules.items()):  # what a test may fake later
        if type(module) is types.ModuleType and filters.is_standard_library(name):
            _note_foreign_module(module)
    _state.temporary = _temporary_directories(*_state.temporary_given)
    _state.environ_touched = False
    _state.written_files = set()
    _state.argv_at_start = list(getattr(sys, "argv", ()))
    _state.search_path = set()
    note_search_path()
    _state.budget = budget
    _state.max_depth = max_depth
    _state.value_limit = value_limit
    with _state.registry_lock:
        modules = list(_state.modules)
    for instrumenter in modules:
        # Records only, never the plain functions themselves: a reference held here would
        # look like a user's to the re-attaching check.
        for gate in list(instrumenter.gates.values()):
            gate[:] = _OPEN
        for function, key in list(instrumenter.inline_keys.items()):
            _open_gates[key] = function
        for record in list(instrumenter.records.values()):
            if record.disabled or record.accepted >= budget:
                record.gate.clear()
            else:
                record.open_gate()


def stop() -> None:
    _state.sink = None
    with _state.registry_lock:
        modules = list(_state.modules)
    for instrumenter in modules:
        for gate in list(instrumenter.gates.values()):
            gate.clear()
        for function, key in list(instrumenter.inline_keys.items()):
            _close_inline(key, function)
        for record in list(instrumenter.records.values()):
            record.close_gate(for_now=True)
    if _state.pending_detach or _state.held_elsewhere:
        _retry_detaches(None, look_in_modules=True)
    if _after_collection in gc.callbacks:
        gc.callbacks.remove(_after_collection)


def release_records() -> None:
    """Recording is over: the functions' records go, and what was found out about the code
    they read (see _reader_facts). A recording started later makes them again.

    Kept, they went through every later garbage collection: pytest's two full ones at its
    end took 25-30 ms longer over tomlkit's records (107,000 objects against 80,000 without
    them); at the interpreter's exit, python-stdnum's 1,168 records made its teardown 0.1 s
    longer. Dropped, they are freed by their reference counts in a few milliseconds. A
    function called later makes a new record, behind the closed gate."""
    if _state.sink is not None:  # (a recording nobody stopped: its records stay)
        return
    with _state.registry_lock:
        for instrumenter in _state.modules:
            instrumenter.records.clear()
    _facts_of_readers.clear()
    _kind_tokens.clear()  # (the kinds its fingerprints named: new numbers from now on)
    _kind_tokens.update(_BUILTIN_KIND_TOKENS)
    if serialise is not None:
        serialise.forget_codes()  # (the code objects of the functions stored by value)


def instrumented_count() -> int:
    with _state.registry_lock:
        return sum(len(instrumenter.gates) + len(instrumenter.inline_keys) for instrumenter in _state.modules)


def functions() -> list[FunctionRecord]:
    """The functions that were called while recording (the others have no record)."""
    with _state.registry_lock:
        return [record for instrumenter in _state.modules for record in list(instrumenter.records.values())]


def stats() -> collections.Counter:
    return _state.stats


def _after_fork_in_child() -> None:
    # A fork child must not inherit held locks or the parent's half-state.
    _state.registry_lock = threading.Lock()
    _guard.calls = None  # the child is not inside the parent's calls
    for record in functions():
        if record._live is not None:
            record._live.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)

