"""Values to JSON and back: jsonpickle, plus functions that are not importable pickled by
value (the C pickler, dill for what only dill stores).

``encode`` returns a JSON-compatible structure (embedded as-is in the data files, so they
stay readable); ``decode`` restores it. ``check_round_trip`` is how the recorder refuses
values that would replay wrongly (mocks, open files, locks, objects past the depth limit):
a case is written only if what it stores decodes back to something equal.
"""
from __future__ import annotations

import base64
import builtins
import collections
import datetime
import functools
import os
import re
import sys
import threading
import traceback
import types
import warnings
import weakref
from typing import Any, Callable, Optional

from jsonpickle import errors as _jp_errors
from jsonpickle import handlers as _jp_handlers
from jsonpickle import pickler as _jp_pickler
from jsonpickle import tags as _jp_tags
from jsonpickle import unpickler as _jp_unpickler
from jsonpickle import util as _jp_util

from cleanup_trace import _json, dormant, flatten_fast, forms, package_paths
from cleanup_trace._identity import identity as _identity
from cleanup_trace.compare import (differences, has_own_eq, instance_dict, namespace_of, slot_descriptors,
                                   slot_items)
from cleanup_trace.filters import is_standard_library
from cleanup_trace.locate import module_attribute, of_a_local_class, resolve_dotted

# (functions stored by value may name the recording hooks: see dormant)
dormant.install()

FORMAT = "cleanup_trace/1"
DILL_LOADER = "cleanup_trace.serialise.load_dill"
PICKLE_LOADER = "cleanup_trace.serialise.load_pickled"


class Unserialisable(Exception):
    """A value cannot be stored so that it replays as itself."""

    def __init__(self, message: str, *, lasting: bool = True,
                 holders_to_blame: bool = True, holder_objects: tuple = (), while_importing: bool = False,
                 culprit: Optional[type] = None, incomplete: bool = False,
                 differing_class: Optional[type] = None) -> None:
        # Given here, never set on a local name before ``raise``: a local holding the
        # exception makes a reference cycle with its traceback, which keeps the frames
        # below, and the user's objects in them, alive until the garbage collector runs
        # (boltons' MinIDMap test counts live objects).
        super().__init__(message)
        # Does the failure belong to the value's classes (they would fail again), or to
        # the moment (a module still importing cannot give back its functions by name)?
        self.lasting = lasting
        # The objects whose state held what failed, innermost first (see ``holders``).
        self.holder_objects = holder_objects
        # False when the failure is about what one instance holds (a test's function
        # given to it), which says nothing of the classes holding it.
        self.holders_to_blame = holders_to_blame
        # Refused only because one of your modules is still importing: the same call,
        # made again once the import is over, may store.
        self.while_importing = while_importing
        # The class of the object that failed (whose reduction raised, whose decoding
        # raised, whose state came back different), when known: the one type of the value
        # whose values are checked again (see runtime._untrust).
        self.culprit = culprit
        # The culprit's reduction found one of its attributes missing: an object still
        # being built (a method its constructor calls) or taken apart, not a whole one.
        self.incomplete = incomplete
        # The class that came back as another object (decoded by its name): a name a test
        # replaced for the moment, or a class not found under its own name.
        self.differing_class = differing_class

    # An object of yours whose own attributes hold what never stores (a weak reference, a
    # bound method), found by the survey: refused up front from now on (see
    # runtime._refuse_object), it holds them for its life.
    refused_object: Any = None

    @property
    def holders(self) -> tuple:
        """The classes of ``holder_objects``: an iterator kept in an attribute fails every
        instance of the class keeping it."""
        return tuple(map(type, self.holder_objects))


def _is_cython_function(obj: Any) -> bool:
    """jsonpickle's test, told by the type: jsonpickle calls ``repr()`` of every callable
    attribute value to see whether it starts with ``<cyfunction``. That is the user's
    code run on the user's live objects while they are stored, and a ``__repr__`` may
    change one (pyparsing caches an element's name the first time it is printed: the
    recorded value then held a name the replayed one did not). Cython's function types
    are named ``cython_function_or_method`` and ``fused_cython_function``."""
    return callable(obj) and "cython" in type(obj).__name__


# Installed for every user of jsonpickle in the process: the answer is the same for
# every Cython function, and no object's repr() runs any more to get it.
if hasattr(_jp_util, "is_cython_function"):
    _jp_util.is_cython_function = _is_cython_function

_ATOMS = frozenset({type(None), bool, int, float, complex, str, bytes})
_SEQUENCES = ((list, list.__iter__), (tuple, tuple.__iter__), (set, set.__iter__), (frozenset, frozenset.__iter__))
_TEXT_ONLY = {str}
_INT_ONLY = frozenset({int})
# class -> what the survey does with its instances: (of a module other than builtins,
# a function or class stored by name, how its items are read: ``dict`` for a mapping,
# a sequence's ``__iter__``, or None). Worked out once per class: the survey meets the
# same few classes thousands of times. Bounded: it holds the classes.
_survey_plans: dict = {}


def _zone_of(value: Any) -> tuple:
    zone = value.tzinfo
    return () if zone is None else (zone,)


def _survey_plan(kind: type) -> tuple:
    if issubclass(kind, dict):
        iterate: Any = dict
    elif issubclass(kind, (datetime.datetime, datetime.time)):
        # Its zone is out of sight of the walk (no instance dict), yet stored with it: a
        # zone class of yours whose reduction does not rebuild it (parse's FixedTzOffset)
        # must be among the value's types, or the value skips the decoding check.
        iterate = _zone_of
    else:
        iterate = next((function for base, function in _SEQUENCES if issubclass(kind, base)), None)
    plan = (kind.__module__ != "builtins",
            kind is types.FunctionType or kind is types.MethodType or issubclass(kind, type), iterate,
            slot_descriptors(kind))
    if len(_survey_plans) >= 4096:
        _survey_plans.clear()
    _survey_plans[kind] = plan
    return plan


# class -> why its instances, stored by their class, could never be made again ("" when
# they can). Only answers that cannot change are kept (bounded: it holds the classes).
_NOT_REBUILT: dict = {}
# Py_TPFLAGS_DISALLOW_INSTANTIATION (3.10+; the bit is unused before): a type made in C
# without a constructor (``re.Match``).
_NOT_INSTANTIABLE = 1 << 7 if sys.version_info >= (3, 10) else 0


def _compiled_elsewhere(kind: type) -> bool:
    """A class made in C (or Rust, Cython...) outside the standard library, for which
    jsonpickle has no handler of its own, and whose objects are rebuilt by giving a blank
    one (``cls.__new__``) a state. One with a reduction of its own and no ``__setstate__``
    is rebuilt by a callable of its own, the way its objects are made anyway (bitstring's
    ``tibs.Tibs.decode``, pyrsistent's ``pvector``): stored."""
    module_name = kind.__module__
    if module_name == "builtins" or is_standard_library(module_name) or flatten_fast.of_a_class_statement(kind) \
            or flatten_fast.has_handler(kind):
        return False
    below_object = kind.__mro__[:-1]
    reduces = any("__reduce__" in vars(klass) or "__reduce_ex__" in vars(klass) for klass in below_object)
    return not reduces or any("__setstate__" in vars(klass) for klass in below_object)


def _not_rebuilt(kind: type) -> str:
    """Why values of ``kind``, stored by class name, would never decode, or "".

    A type made in C that names a private module nobody imports (``regex``'s
    ``_regex.Pattern``, which pickles only through ``copyreg``, which jsonpickle does not
    read), a name its module does not bind, a type with no constructor (``re.Match``).
    Told before paying for an encode and a decode that would say so: such values failed
    every time, one costly try each, and the failure blamed no class.
    """
    reason = _NOT_REBUILT.get(kind)
    if reason is None:
        reason = _why_not_rebuilt(kind)
        if reason is None:
            return ""  # not known yet (its module is importing): the decoder tells
        if reason is _ELSEWHERE or reason is _UNIMPORTED or reason.startswith(_ADDED_PATH):
            # (not kept: a test may have patched the name for a while, the module be
            # imported, pytest's collection be still putting directories on sys.path)
            return reason
        if len(_NOT_REBUILT) >= 4096:
            _NOT_REBUILT.clear()
        _NOT_REBUILT[kind] = reason
    return reason


def refused_class_reason(kind: type) -> str:
    """What the survey says of a value holding an object of a refused class."""
    return f"{kind.__module__}.{kind.__qualname__} values did not survive storing before"


def failed_object_reason(kind: type) -> str:
    """What the survey says of a value holding an object that failed to store before."""
    return f"this {kind.__module__}.{kind.__qualname__} object did not survive storing before"


def not_rebuilt_reason(kind: type, reason: str) -> str:
    """What the survey says of a value holding an object of a class never rebuilt."""
    return f"{kind.__module__}.{kind.__qualname__} objects {reason}"


def never_rebuilt(kind: type) -> str:
    """Why ``kind``'s objects are refused for good by :func:`survey` (but a module's own
    objects, stored by name), or "": a class made inside a function, one with no
    constructor; not a name a test patched for a while, nor a module still importing."""
    reason = _not_rebuilt(kind)
    return reason if reason and kind in _NOT_REBUILT else ""


# Told for a class compiled by another library (its objects are not stored).
COMPILED_ELSEWHERE = ("are made by another library's compiled code and rebuilt by handing a blank object a "
                      "state: decoding one would run that code on a state it did not make, inside your process")


def _why_not_rebuilt(kind: type) -> Optional[str]:
    qualname, module_name = kind.__qualname__, kind.__module__
    if _compiled_elsewhere(kind):
        # cachebox 5.2's LRUCache, given back its own pickled state (plain pickle does the
        # same), corrupts memory: the garbage collector later crashed deepdiff's suite.
        return COMPILED_ELSEWHERE
    if issubclass(kind, (set, frozenset)):
        own = [namespace_of(klass) for klass in kind.__mro__ if klass not in _SET_BASES]
        if any("__iter__" in namespace for namespace in own) and not any(
                "__reduce__" in namespace or "__reduce_ex__" in namespace for namespace in own):
            return _OWN_SET_ITEMS
    if _defined_below_object(kind, "__reduce_ex__", "__reduce__"):
        return ""  # (a reduction of its own may name a callable that is found)
    if "<locals>" in qualname:
        # Stored under a name no import finds (html5lib's TreeBuilder, made by
        # ``getETreeBuilder``: bleach's values paid jsonpickle's slow encode, then failed
        # to decode). Its module-level objects are stored by name all the same.
        return "" if _jp_handlers.get(kind) is not None else _LOCAL
    if kind.__flags__ & _NOT_INSTANTIABLE and kind is not re.Pattern:  # (stored as its re.compile call)
        return "cannot be made by their class"
    module = sys.modules.get(module_name)
    if module is None:
        if "." in module_name:
            # (Finding it would import its package, and so would decoding the value: mako's
            # ``load_module`` runs a file as a module it never registers.)
            return _UNIMPORTED
        try:
            import importlib.util

            # Found, it was run from its file without being registered
            # (``spec_from_file_location``, ``exec_module``): decoding would import it anew
            # into the user's process, its class another object.
            return _UNIMPORTED if importlib.util.find_spec(module_name) is not None else _LOST
        except Exception:  # (ValueError: a module without a spec)
            return None
    added = found_on_added_path(module_name)
    if added is not None:
        return f"{_ADDED_PATH}{added} ({module_name}), which the run added: a replay does not have it"
    found = _named(kind)
    return None if found is None else "" if found is kind else _LOST if found is _NOT_FOUND else _ELSEWHERE


_LOST = "are stored by a name that does not find their class again"
# A set of yours whose own ``__iter__`` gives other items than the set holds (deepmerge's
# ``ExtendedSet``, a set indexing unhashable values beside it): stored, its items are
# what that ``__iter__`` gives, and decoding puts them into the set itself ("unhashable
# type: 'dict'"), where the class never keeps them.
_OWN_SET_ITEMS = "are sets whose own __iter__ gives their items: decoding would put those into the set itself"
_SET_BASES = (set, frozenset, object)
_LOCAL = "are of a class made inside a function: no name finds it again"
# (made at run time under the name of another class: marko's ``type("TocRendererMixin",
# (TocRendererMixin,), options)``)
_ELSEWHERE = "are stored by a name that leads to another class"
_NOT_FOUND = object()
_UNIMPORTED = "are of a module that is not imported: decoding them would import it"
_ADDED_PATH = "are of a module imported through the sys.path entry "


def _named(kind: type) -> Any:
    """What ``kind``'s module and qualified name lead to now, read through the namespaces
    (never a module's ``__getattr__``): ``_NOT_FOUND``, or ``None`` when not judged."""
    module = sys.modules.get(kind.__module__)
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    target: Any = module
    for part in kind.__qualname__.split("."):
        if not isinstance(target, (type, types.ModuleType)):
            return None  # (a class statement's name rebound to something else: not judged)
        namespace = namespace_of(target) if isinstance(target, type) else object.__getattribute__(target, "__dict__")
        if part not in namespace:
            # (A module's ``__getattr__`` may make it when asked.)
            return None if "__getattr__" in namespace and target is module else _NOT_FOUND
        target = namespace[part]
    return target


# Classes given as values (stored by name) found by their name (bounded: it holds them).
_FOUND_BY_NAME: dict = {}


def _class_value_not_found(cls: type) -> Optional[str]:
    """Why ``cls``, given as a value (stored by its name), would not decode as itself:
    its name leads to another object, or to nothing (a class a doctest defines carries
    its module's name: boltons' ``MySet``; one made inside a function: environs'
    ``_make_subcast_field`` returns its ``SubcastField``); ``None`` when found, or not
    judged."""
    if cls in _FOUND_BY_NAME:
        return None
    if "<locals>" in cls.__qualname__:
        return "it is made inside a function, no name finds it again"
    found = _named(cls)
    if found is cls:
        if len(_FOUND_BY_NAME) >= 4096:
            _FOUND_BY_NAME.clear()
        _FOUND_BY_NAME[cls] = True
        return None
    if found is None:
        return None
    return "its name leads to nothing" if found is _NOT_FOUND else "its name leads to another object"


class TooLarge(Unserialisable):
    """A value with more parts than PYTESTCLEANUP_VALUE_LIMIT: not worth storing."""


class HoldsAClock(Exception):
    """A value carries a clock or an entropy source (``TTLCache(timer=time.monotonic)``):
    what a call does with it belongs to the moment of the call, not to replay."""


def _volatile_callables() -> tuple:
    """The clock and entropy functions of the transformer's list that are values one can
    hold (``time.monotonic``, ``uuid.uuid4``, ``datetime.datetime.now``...)."""
    import importlib

    from cleanup_trace.rewrite import CLOCK_ATTRIBUTES, VOLATILE_CALLS

    found = []
    for dotted in sorted(VOLATILE_CALLS):
        module, _, name = dotted.rpartition(".")
        if module in ("time", "os", "uuid"):  # cheap to import, unlike email.utils
            value = getattr(importlib.import_module(module), name, None)
            if value is not None:  # os.getrandom: Linux only
                found.append(value)
    found += [getattr(klass, name) for klass in (datetime.datetime, datetime.date)
              for name in sorted(CLOCK_ATTRIBUTES) if hasattr(klass, name)]
    return tuple(found)


# Compared with ``==``: ``datetime.datetime.now`` is a new bound method at every access.
_VOLATILE_CALLABLES = _volatile_callables()


class Survey:
    """What :func:`survey` saw: the value's classes (builtins aside), and whether it is
    *plain*: only ``None``, ``bool``, ``int``, ``float``, ``str``, lists and dicts with
    string keys, nothing shared. A plain value is its own JSON form: storing it is a copy
    and cannot change it."""

    __slots__ = ("classes", "kinds", "plain", "builtin", "reordered")

    def __init__(self, classes: set, plain: bool, builtin: bool, kinds: frozenset = frozenset(),
                 reordered: bool = False) -> None:
        self.classes = classes
        # A dict holds a text key after a key of another type: stored, its text keys come
        # first (jsonpickle's form, decoded in the same two passes), so it decodes with
        # its keys in another order (munch's repr of ``{1: 2, 'a b': 9}``).
        self.reordered = reordered
        # The type of every value but atoms, lists and dicts (builtin ones too: a method,
        # a mapping proxy): what decides whether storing it needs a check.
        self.kinds = kinds
        self.plain = plain
        # Only atoms, lists, tuples, sets, frozensets and dicts with str/int keys: what
        # jsonpickle stores exactly (tests/test_serialise_roundtrip.py), no decode needed.
        self.builtin = builtin


def _cell_contents(function: Any) -> list:
    contents = []
    for cell in function.__closure__:
        try:
            contents.append(cell.cell_contents)
        except ValueError:  # a cell not filled yet
            pass
    return contents


def _captured_functions(function: Any, depth: int = 3) -> list:
    """``function`` and the functions its closure captures, theirs too, a few levels down.

    The encoder reaches closures the survey does not (through ``__reduce__``, slots):
    what dill will store with a function must be looked at before dill runs.
    """
    found = [function]
    pending = [(function, 0)]
    while pending:
        current, level = pending.pop()
        for inner in _cell_contents(current) if getattr(current, "__closure__", None) else ():
            if isinstance(inner, type):
                _refuse_test_module(inner)
            elif isinstance(inner, types.FunctionType):
                _refuse_test_module(inner)
                found.append(inner)
                if level + 1 < depth:
                    pending.append((inner, level + 1))
    return found


def _in_its_module(function: Any) -> bool:
    """Does the function run in its module's own namespace (dill can name it)? Not the
    script's ``__main__`` (dill stores that whole), not the copy of a module's globals a
    doctest runs in."""
    module = sys.modules.get(getattr(function, "__module__", None) or "")
    return module is not None and function.__module__ != "__main__" and \
        function.__globals__ is getattr(module, "__dict__", None)


def _names_read(code: types.CodeType) -> set:
    """Every name the code (its nested functions and classes too) may look up globally,
    attribute names included: a superset, read off the code objects, never disassembled."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            names |= _names_read(constant)
    return names


def _lightened(function: types.FunctionType) -> types.FunctionType:
    """``function`` as dill should store it: a copy whose globals hold only the names its
    code reads when it runs outside its module's namespace (doctest's copy of the
    globals, ``__main__``), and whose closure holds such copies of the functions it
    captures; the functions of that namespace it calls by name are copied the same way.
    Functions that reach no such namespace stay themselves (dill may name them).

    What ``dill.dumps(recurse=True)`` is for, without dill's disassembly of every
    function it can reach, libraries' included: 3.7 s per closure in glom's doctests.
    """
    copies: dict = {}  # original -> its copy
    namespaces: dict = {}  # id of an original namespace -> the reduced one

    def copy_of(original: types.FunctionType) -> types.FunctionType:
        if original in copies:
            return copies[original]
        if not _reaches_another_namespace(original):
            return original
        outside = not _in_its_module(original)
        namespace = original.__globals__
        if outside:
            namespace = namespaces.setdefault(id(namespace), {"__name__": namespace.get("__name__")})
        # Cells first empty, filled once the copy is known: a local function calling
        # itself holds itself in its closure.
        old_cells = original.__closure__ or ()
        cells = tuple(types.CellType() if _holds_a_function(cell) else cell for cell in old_cells)
        copy = copies[original] = types.FunctionType(original.__code__, namespace, original.__name__,
                                                     original.__defaults__, cells or None)
        copy.__kwdefaults__ = original.__kwdefaults__
        copy.__qualname__, copy.__module__ = original.__qualname__, original.__module__
        copy.__doc__, copy.__annotations__ = original.__doc__, original.__annotations__
        copy.__dict__.update(original.__dict__)
        for new, old in zip(cells, old_cells):
            if new is not old:
                new.cell_contents = copy_of(old.cell_contents)
        if outside:
            for name in _names_read(original.__code__):
                if name in original.__globals__ and name not in namespace:
                    value = original.__globals__[name]
                    namespace[name] = None  # taken: a recursive function is copied once
                    if type(value) is types.FunctionType and value.__globals__ is original.__globals__:
                        value = copy_of(value)
                    namespace[name] = value
        return copy

    reaching: dict = {}

    def _reaches_another_namespace(start: types.FunctionType) -> bool:
        if start not in reaching:
            seen, pending = {start}, [start]
            while pending:
                current = pending.pop()
                if not _in_its_module(current):
                    break
                for inner in _cell_contents(current) if current.__closure__ else ():
                    if type(inner) is types.FunctionType and inner not in seen:
                        seen.add(inner)
                        pending.append(inner)
            else:
                reaching[start] = False
                return False
            reaching[start] = True
        return reaching[start]

    return copy_of(function)


def _holds_a_function(cell: Any) -> bool:
    try:
        return type(cell.cell_contents) is types.FunctionType
    except ValueError:  # a cell not filled yet
        return False


_TAG_LIKE = ("py/", _jp_tags.JSON_KEY)
# Where code ran, not what it computed: replayed from another checkout, or after any edit
# of the files named, such a value no longer matches.
_STACK_RECORDS = frozenset({traceback.FrameSummary, traceback.StackSummary})


def _keyed_by_identity(key: Any) -> bool:
    """A dict key that only the same object finds (no ``==`` or hash of its own: markdown's
    ``xml.etree`` elements as keys), unless stored as a reference to itself (a class, a
    function, a module's sentinel)."""
    kind = type(key)
    return kind.__hash__ is object.__hash__ and kind.__eq__ is object.__eq__ and not isinstance(key, type) \
        and kind not in _BY_REFERENCE and _sentinels.reference(key) is None


_BY_REFERENCE = frozenset({types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type(None),
                           type(Ellipsis), type(NotImplemented)})


def _text_key_after_another(keys: Any) -> bool:
    other = False
    for key in keys:
        if type(key) is str:
            if other:
                return True
        else:
            other = True
    return False


NOT_PLAIN = object()  # what plain_copy returns for any other value
_PLAIN_ATOMS = frozenset({str, int, float, bool, type(None)})
_SAFE_INT = 1 << 63  # (the JSON codec refuses ints of more than 4,300 digits on Python 3.11+)


def plain_copy(value: Any, limit: int) -> Any:
    """What :func:`survey` then ``encode(plain=True)`` would make of a value of text-keyed
    dicts and lists of plain atoms (most recorded calls: ``is_valid("GB82 WEST ...")``
    returning ``True``), made in one walk: the survey's walk and a trip through the JSON
    codec cost python-stdnum a fifth of each recorded call. ``NOT_PLAIN`` for any other
    value, or one the survey would refuse (too many values, a list held twice, a path
    inside your packages, a key with a ``/``): those take the usual way, which says why."""
    # (held in a list of one, counted from 0: an atom given alone goes through the same
    # loop as the items of a list, and is counted once, as the survey counts it)
    try:
        copy, _ = _plain_container([value], list, _package_paths if _package_paths.refresh() else None, set(), 0,
                                   limit)
    except RecursionError:
        return NOT_PLAIN
    return copy if copy is NOT_PLAIN else copy[0]


def _plain_container(container: Any, kind: type, package_paths: Any, seen: set, count: int,
                     limit: int) -> tuple[Any, int]:
    """(the copy of a list or dict, the values counted so far) for :func:`plain_copy`;
    the copy is ``NOT_PLAIN`` when it is no such value. Atoms are handled in the loop:
    a call of its own for each was a third of the time."""
    if kind is dict:
        if container and (set(map(type, container)) != _TEXT_ONLY or "/" in "".join(container)):
            return NOT_PLAIN, count
        items: Any = container.values()
    else:
        items = container
    identity = _identity(container)
    if identity in seen:  # shared or cyclic: references in the stored form
        return NOT_PLAIN, count
    seen.add(identity)
    count += len(container)
    copies = []
    for item in items:
        inner = type(item)
        if inner is str:
            count += len(item) >> 6
            if package_paths is not None and item.startswith(package_paths.lead) and package_paths.holds(item):
                return NOT_PLAIN, count
        elif inner is list or inner is dict:
            item, count = _plain_container(item, inner, package_paths, seen, count, limit)
            if item is NOT_PLAIN:
                return NOT_PLAIN, count
        elif inner is int:
            if not -_SAFE_INT < item < _SAFE_INT:
                return NOT_PLAIN, count
        elif inner not in _PLAIN_ATOMS:
            return NOT_PLAIN, count
        if count > limit:
            return NOT_PLAIN, count
        copies.append(item)
    return (copies if kind is list else dict(zip(container, copies))), count


def survey(value: Any, limit: int, refused: Any = (), failed: Optional[dict] = None) -> Survey:
    """A cheap walk before the costly encode.

    Raises :class:`TooLarge` or :class:`Unserialisable` when the value is not worth
    encoding, :class:`HoldsAClock` when it carries a clock function. Counts values
    (items, keys, attributes; a text or bytes once more per 64 characters: a 64 kB text is
    no test data to read, and a recorder keeping it keeps the program's memory) up to
    ``limit``, and stops at a class in ``refused`` (classes that did not survive storing
    before) or at an object in ``failed`` (id -> weak reference: objects that did not).
    The classes found tell whom to blame when the encode fails.
    The walk reads storage the way pickling does (``list.__iter__``, ``__dict__``), never
    a user's ``__iter__`` or ``__getattr__``.
    """
    classes: set = set()
    kinds: set = set()
    plain = builtin = True
    reordered = False
    package_paths = _package_paths if _package_paths.refresh() else None
    path_lead = _package_paths.lead
    # Breadth first: what refuses a value is most often held near its top (a parser's
    # output stream, an argument that is a match object), and found before the value's
    # whole graph is walked (arpeggio's parsers: 7 values in, not 2,000). A value that
    # stores is walked whole either way.
    pending = collections.deque((value,))
    take = pending.popleft
    seen: set = set()
    count = 0
    try:
        while pending:
            item = take()
            kind = type(item)
            count += 1
            if kind in _ATOMS:
                if kind is str or kind is bytes:
                    count += len(item) >> 6
                    # (a path inside your packages is stored relative to its package)
                    plain = plain and kind is str and not (
                        package_paths is not None and item.startswith(path_lead) and package_paths.holds(item))
                elif kind is complex:
                    plain = builtin = False
            elif kind is list:
                identity = _identity(item)
                if identity in seen:
                    plain = False  # shared or cyclic: references in the stored form
                    continue
                seen.add(identity)
                pending.extend(item)
            elif kind is dict:
                identity = _identity(item)
                if identity in seen:
                    plain = False
                    continue
                seen.add(identity)
                # (text keys without a "/", most dicts, told by two C-level passes; int
                # keys, a graph's nodes and edges, by one: nothing to look at but that)
                key_types = set(map(type, item)) if item else _TEXT_ONLY
                if key_types == _INT_ONLY:
                    plain = False
                elif key_types != _TEXT_ONLY or "/" in "".join(item):
                    other_key = False
                    for key in item:
                        if type(key) is str:
                            reordered = reordered or other_key
                            if "/" in key and key.startswith(_TAG_LIKE):
                                # A plain copy would be read back as a tag; jsonpickle escapes
                                # "json://" keys but drops "py/..." ones: checked, refused.
                                plain = False
                                builtin = builtin and not key.startswith("py/")
                        else:
                            plain = False
                            other_key = True
                            if type(key) is not int:
                                builtin = False
                                if _keyed_by_identity(key):
                                    raise Unserialisable(
                                        f"a dict keyed by {type(key).__module__}.{type(key).__qualname__} objects, "
                                        "which compare by identity: decoded, its keys are new objects")
                                pending.append(key)  # a class as a key (a registry by type) is stored too
                pending.extend(_held_values(item.values(), kinds, dict))
            elif kind is tuple:
                # (what the branch below does for one, told without its questions: no tuple
                # is refused or failed, it holds no attributes; a graph's edges and nodes
                # are hundreds of them)
                plain = False
                identity = _identity(item)
                if identity not in seen:
                    seen.add(identity)
                    kinds.add(tuple)
                    pending.extend(item)
            else:
                plain = False
                if kind is not set and kind is not frozenset:
                    builtin = False
                if kind in refused:
                    raise Unserialisable(refused_class_reason(kind))
                identity = _identity(item)
                if failed:
                    reference = failed.get(identity)
                    if reference is not None and reference() is item:
                        raise Unserialisable(failed_object_reason(kind))
                if identity in seen:
                    continue
                seen.add(identity)
                stored_by_name = kind is types.FunctionType and _importable(item)
                if not stored_by_name:  # (a function stored by name decodes as itself: nothing to check)
                    kinds.add(_trust_key(item) if kind is types.FunctionType else kind)
                if kind is types.BuiltinFunctionType:
                    if item in _VOLATILE_CALLABLES:
                        raise HoldsAClock(getattr(item, "__qualname__", repr(item)))
                    bound_to = getattr(item, "__self__", None)
                    if bound_to is not None and not isinstance(bound_to, (types.ModuleType, type)):
                        # ``log.append`` (toolz's ``do(log.append, 1)``): stored by name it
                        # is ``list.append``, its list lost.
                        raise Unserialisable(f"method {item.__qualname__} of a {type(bound_to).__qualname__} object "
                                             "is stored by name, without its object", holders_to_blame=False)
                if kind is types.ModuleType:
                    if sys.modules.get(getattr(item, "__name__", None)) is not item:
                        # Stored by name: decoding would import another module, and the
                        # check importing it would change sys.modules (mako's
                        # ``load_module`` runs a file as a module it does not register).
                        raise Unserialisable(f"module {getattr(item, '__name__', '?')} is not the one imported "
                                             "under its name", holders_to_blame=False)
                    if _is_test_module(item.__name__):
                        raise Unserialisable(f"module {item.__name__} is a test module", holders_to_blame=False)
                    continue  # stored by name: nothing of its namespace is stored
                if kind in _STACK_RECORDS:
                    # (pyparsing keeps the caller of ``<<=`` as a FrameSummary)
                    raise Unserialisable(f"holds a record of the call stack ({kind.__module__}.{kind.__qualname__}): "
                                         "file paths and line numbers of where code ran", holders_to_blame=False)
                plan = _survey_plans.get(kind)
                if plan is None:
                    plan = _survey_plan(kind)
                foreign, function_like, iterate, slots = plan
                if foreign and kind not in classes:
                    _refuse_test_module(kind)  # before paying for an encode that would say so
                    not_rebuilt = _not_rebuilt(kind)
                    if not_rebuilt and module_object_reference(item) is None:
                        raise Unserialisable(not_rebuilt_reason(kind, not_rebuilt),
                                             holders_to_blame=False)
                    classes.add(kind)
                if function_like:
                    _refuse_test_module(item)  # a class given as a value too (stored by name)
                    not_found = _class_value_not_found(item) if isinstance(item, type) else None
                    if not_found:
                        # (Refused here, not by the decoding check: a class value that does
                        # not decode says nothing of the other classes given as values.)
                        raise Unserialisable(f"class {item.__module__}.{item.__qualname__} was made at run time: "
                                             f"{not_found}", holders_to_blame=False, differing_class=item)
                    if kind is types.MethodType:
                        if flatten_fast.bound_method_name(item) is None:
                            raise _method_not_found(item)
                        pending.append(item.__self__)
                    elif kind is types.FunctionType and item.__closure__ and not stored_by_name:
                        # Stored by value (dill): what its cells hold is stored with it, a
                        # test module's function captured by a library's closure included.
                        pending.extend(_cell_contents(item))
                if iterate is dict:
                    keys = dict.keys(item)
                    # (text keys only, most dicts: told by one C-level pass)
                    reordered = reordered or (set(map(type, keys)) != _TEXT_ONLY and _text_key_after_another(keys))
                    pending.extend(keys)
                    pending.extend(_held_values(dict.values(item), kinds, kind, item))
                elif iterate is set.__iter__ or iterate is frozenset.__iter__:
                    # (found by hash as a dict's keys are: pyleri's ``get_expecting`` returns
                    # a set of its grammar elements, which a replay compares with ``==``)
                    members = list(iterate(item))
                    for member in members:
                        if _keyed_by_identity(member):
                            raise Unserialisable(
                                f"a set of {type(member).__module__}.{type(member).__qualname__} objects, which "
                                "compare by identity: decoded, its items are new objects")
                    pending.extend(members)
                elif iterate is not None:
                    pending.extend(iterate(item))
                attributes = instance_dict(item)  # (its descriptor found once per class)
                if attributes:
                    if not attributes.keys().isdisjoint(_SPECIAL_NAMES) and _stored_as_they_are(kind):
                        raise Unserialisable(_special_name_reason(kind, attributes), holders_to_blame=False)
                    pending.extend(_held_values(attributes.values(), kinds, kind, item))
                for _, slot in slots:  # (a slotted tree node's children make it large)
                    try:
                        pending.append(slot.__get__(item, kind))
                    except AttributeError:
                        pass  # not set
            if count > limit:
                raise TooLarge(f"more than {limit} values (PYTESTCLEANUP_VALUE_LIMIT)")
    except (Unserialisable, HoldsAClock):
        raise
    except Exception:  # an odd object: let the encoder decide
        plain = builtin = False
        kinds.add(None)  # not known: never trusted
    return Survey(classes, plain, builtin, frozenset(kinds), reordered)


# Special names an object of yours may hold in its instance dict (``self.__doc__ = doc``:
# blinker's signals; ``functools.update_wrapper(self, function)``: a decorator class).
# Decoding sets every attribute whose name starts with two underscores as a private one
# of its class (jsonpickle's decoder, and the tool's, which decodes as it does):
# ``__doc__`` comes back as ``_Signal__doc__``. Told by one test of the dict's keys; another
# name starting so (rare: ``setattr(self, "__x", v)``) is the decoding check's to tell. A
# class saying how to store itself (toolz's ``curry``: ``__reduce__``) is stored so.
_SPECIAL_NAMES = frozenset({"__doc__", "__module__", "__name__", "__qualname__", "__wrapped__", "__annotations__",
                            "__type_params__", "__signature__", "__defaults__", "__kwdefaults__", "__self__",
                            "__func__", "__code__", "__version__", "__all__"})


def _special_name_reason(kind: type, attributes: dict) -> str:
    name = min(_SPECIAL_NAMES.intersection(attributes))
    return (f"a {kind.__module__}.{kind.__qualname__} object holds an attribute named {name}: decoding would "
            f"set it as _{kind.__name__}{name}")


def _trust_key(function: types.FunctionType) -> Any:
    """What a function stored by value counts as among a value's types (see the
    runtime's TRUSTED_AFTER_ROUND_TRIPS): its code, when it comes from a file. The same
    code holds the same kinds of things (a parser combinator's closure: parsy's ``Parser``
    values, checked at each of 214 stores); what its cells hold counts as well. Code made
    at run time (``exec``: a namedtuple's ``__new__``) counts as any function, never
    trusted: its objects are many and new, each would be kept."""
    code = function.__code__
    return types.FunctionType if code.co_filename.startswith("<") else code


def _held_values(values: Any, kinds: set, holder: type, holder_object: Any = None) -> Any:
    """A dict's values as the encoder stores them: jsonpickle leaves out a bound method
    held in a dict or in an object's attributes (its object is not walked for it).
    (``holder_object``: the object of ``holder`` holding them, named in the refusal.)

    Such a value would decode without it: refused, before any encode, when jsonpickle
    stores the dict or the attributes as they are (a plain dict, ``holder``'s objects when
    no method of its class says how to store them: prettytable's ``ObservableDict``, whose
    ``callback`` is its table's method, cost 70 encodes and failed decodes). Else it never
    skips the decoding check (``None``: a type never trusted), which tells.
    """
    held = set(map(type, values))
    # (one C-level test for the weak references of the standard library; a class of
    # yours deriving from ``weakref.ref`` is left to the decoding check)
    weak = None if held.isdisjoint(_WEAK_REFERENCES) else next(kind for kind in held if kind in _WEAK_REFERENCES)
    if weak is not None and _stored_as_they_are(holder):
        # (pypubsub's topics hold their listeners by weak reference: 48 encodes of them,
        # each decoded to fail, "could not find weakref.ReferenceType")
        name = "weakref.ref" if weak is weakref.ReferenceType else "weakref.proxy" if weak in _WEAK_PROXIES \
            else f"{weak.__module__}.{weak.__qualname__}"  # (the builtins' names differ from one Python to another)
        raise _refusing(holder_object, Unserialisable(
            f"holds a weak reference ({name}) in "
            f"{'a dict' if holder is dict else 'an object of ' + holder.__qualname__}: "
            "it does not decode", holders_to_blame=False))
    if types.MethodType not in held:
        return values
    method = next(value for value in values if type(value) is types.MethodType)
    if _stored_as_they_are(holder):
        raise _refusing(holder_object, Unserialisable(
            f"holds the bound method {getattr(method.__func__, '__qualname__', '?')} in "
            f"{'a dict' if holder is dict else 'an object of ' + holder.__qualname__}: "
            "jsonpickle leaves such a method out, the value would decode without it", holders_to_blame=False))
    kinds.add(None)
    return [value for value in values if type(value) is not types.MethodType]


def _refusing(holder_object: Any, error: Unserialisable) -> Unserialisable:
    error.refused_object = holder_object
    return error


_WEAK_PROXIES = (weakref.ProxyType, weakref.CallableProxyType)
_WEAK_REFERENCES = frozenset({weakref.ReferenceType, weakref.KeyedRef, weakref.WeakMethod, *_WEAK_PROXIES})


def _stored_as_they_are(holder: type) -> bool:
    """Are the values of a plain dict, or the attributes of an object of ``holder``,
    stored as they are (no method of its class says how to store it)?"""
    return holder is dict or not _defined_below_object(holder, "__getstate__", "__reduce__", "__reduce_ex__",
                                                       "__setstate__")


def _method_not_found(method: types.MethodType) -> Unserialisable:
    return Unserialisable(f"method {getattr(method.__func__, '__qualname__', '?')} of a "
                          f"{type(method.__self__).__qualname__} object is not found under its name there "
                          "(stored as the object's attribute)", holders_to_blame=False)


def load_dill(payload: str) -> Any:
    """Inverse of the dill encoding, for local functions holding what only dill stores."""
    import dill  # imported when a function stored by value is met: ~30 ms most runs never pay

    return dill.loads(base64.b64decode(payload.encode("ascii")))


def load_pickled(payload: str) -> Any:
    """Inverse of :func:`cleanup_trace.function_pickle.dumps` (local functions, lambdas)."""
    from cleanup_trace import function_pickle  # (see _pickled)

    return function_pickle.loads(base64.b64decode(payload.encode("ascii")))


def forget_codes() -> None:
    """The recording is over: the code objects kept by the pickling of functions go."""
    function_pickle = sys.modules.get("cleanup_trace.function_pickle")  # (imported only if one was pickled)
    if function_pickle is not None:
        function_pickle.forget_codes()


# Where a decorator object keeps the function it decorates: ``functools.wraps`` and
# ``lru_cache`` (``__wrapped__``), a method (``__func__``), ``partial`` and toolz's
# ``curry`` (``func``).
_HOLDING_ATTRIBUTES = ("__wrapped__", "__func__", "func")


def _named_by(function: Any) -> Optional[str]:
    """How ``function`` is found from its module and qualified name: ``""`` when the name
    leads to it, the attribute holding it when the name leads to a decorator's object
    (``flip = curry(flip)``), ``None`` when it cannot be found so."""
    module = sys.modules.get(getattr(function, "__module__", None) or "")
    qualname = getattr(function, "__qualname__", "")
    if module is None or not qualname or "<" in qualname:
        return None
    target: Any = module
    for part in qualname.split("."):
        target = getattr(target, part, None)
        if target is None:
            return None
    if target is function:
        return ""
    # The name may now lead elsewhere (a function replaced after it was stored): then
    # only dill can bring back this very function.
    for attribute in _HOLDING_ATTRIBUTES:
        try:
            if getattr(target, attribute, None) is function:
                return attribute
        except Exception:  # (an object whose attribute look-up raises: not a holder)
            continue
    return None


def _importable(function: Any) -> bool:
    """Is ``function`` what its module and qualified name lead to, itself or held by a
    decorator's object there (so storable by name)?"""
    return _named_by(function) is not None


HELD_LOADER = "cleanup_trace.serialise.load_held"


def load_held(module: str, qualname: str, attribute: str) -> Any:
    """Inverse of storing a function a decorator's object holds: what ``module.qualname``
    leads to, then its ``attribute`` (that object itself where it does not have one: the
    recording wrapper of a generator function, absent at replay)."""
    target = load_global(module, qualname)
    held = getattr(target, attribute, None)
    return target if held is None else held


def _is_user_module(module: Any) -> bool:
    loader = getattr(module_attribute(module, "__spec__"), "loader", None)
    return isinstance(loader, _INSTRUMENTING_LOADER or _instrumenting_loader())


# (imported at first use, not with this module: a replay imports no import hook; asked
# once per module and per function stored, an ``import`` statement each time cost more
# than the answer)
_INSTRUMENTING_LOADER: Any = None


def _instrumenting_loader() -> type:
    global _INSTRUMENTING_LOADER
    from cleanup_trace.importhook import InstrumentingLoader

    _INSTRUMENTING_LOADER = InstrumentingLoader
    return InstrumentingLoader


def _from_user_code(function: Any) -> bool:
    """Defined in a module the tool instruments, or in the script run as ``__main__``."""
    name = getattr(function, "__module__", None) or ""
    return name == "__main__" or _is_user_module(sys.modules.get(name))


GLOBAL_LOADER = "cleanup_trace.serialise.load_global"


def load_global(module: str, name: str, *key: Any) -> Any:
    """Inverse of storing a sentinel by name: the module's object itself (``Class.name``:
    a class attribute); with a key, that item of the module's table."""
    import importlib

    found = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found[key[0]] if key else found  # (a dict, list or tuple the module bound)


# Never a stateless sentinel: a container's items are its state (an OrderedDict or a
# library's dict at module level was stored by name whatever it held since).
_NEVER_STATELESS = (type, types.ModuleType, types.FunctionType, dict, list, set, bytearray, collections.deque)


# class -> what makes its objects stateless (see _stateless_plan); asked of every object
# an encode meets. Bounded: it holds the classes.
_stateless_plans: dict = {}
_BUILTINS = vars(builtins)
_NEVER = (False, False, False)
_NEVER_LOCAL = (False, False, True)
_OBJECT_PLAN = (True, True, False)  # (``object()``: always stateless)


def _stateless_plan(kind: type) -> tuple:
    """``(stateless without an instance dict, stateless with an empty one, of a local
    class)`` for objects of ``kind``: what its classes declare, the same for every object
    of it (:meth:`_Sentinels.reference` asks it of every object an encode meets)."""
    local = "<locals>" in kind.__qualname__ and not issubclass(kind, (type, types.FunctionType))
    if kind.__module__ == "builtins" or issubclass(kind, _NEVER_STATELESS):
        plan = _NEVER_LOCAL if local else _NEVER
    else:
        # No instance dict: stateless only when every class declares empty ``__slots__``.
        # A value type made in C (``timedelta(hours=1)``) keeps its state out of sight: a
        # module-level constant of that kind is stored by value (by name, a test reading
        # it back could never fail). An empty one: when no class declares a slot.
        plan = (all("__slots__" in namespace_of(klass) and not namespace_of(klass)["__slots__"]
                    for klass in kind.__mro__[:-1]),
                not any(getattr(klass, "__slots__", ()) for klass in kind.__mro__),
                local)
    if len(_stateless_plans) >= 4096:
        _stateless_plans.clear()
    _stateless_plans[kind] = plan
    return plan


class _Sentinels:
    """Stateless objects bound at module level in the user's code, by identity.

    ``MISSING = object()`` and friends are compared with ``is``: stored by value they
    would come back as another object and the replayed function would not know them.
    Objects with state are stored by name through :func:`module_object_reference` (the
    runtime's, while unchanged since their module was imported) or, for a library's
    object of a class made inside a function (``make_sentinel()``'s: no importable name
    to decode it by value), from the module defining its factory.
    """

    def __init__(self) -> None:
        self.by_id: dict[int, tuple[str, str]] = {}
        self.indexed: set[str] = set()
        # Modules found not to be the user's, by name and identity: each look is a
        # function call, and a suite importing as it goes makes the index look again
        # at every module of sys.modules many times.
        self.not_users: dict[str, int] = {}
        self.modules_seen = 0
        # Your modules still running their body at the last look: the stateless objects
        # they bind (at module or class level) are not known yet.
        self.importing: list[str] = []
        # The objects ``site`` binds in builtins (``help``, ``exit``, ``copyright``...), by
        # id, and how many names builtins had then.
        self.in_builtins: dict[int, str] = {}
        self.builtins_seen = 0

    @staticmethod
    def stateless(value: Any) -> bool:
        kind = type(value)
        if kind is object:
            return True
        plan = _stateless_plans.get(kind)
        if plan is None:
            plan = _stateless_plan(kind)
        if plan[0] is plan[1] is False:  # (_NEVER, _NEVER_LOCAL)
            return False
        state = instance_dict(value)
        if state is None:
            return plan[0]
        return not state and plan[1]

    def _index(self) -> None:
        if len(sys.modules) == self.modules_seen:
            return
        complete = True
        importing = []
        not_users = self.not_users
        for module_name, module in list(sys.modules.items()):
            if module_name in self.indexed or not_users.get(module_name) == _identity(module):
                continue
            if not _is_user_module(module):
                not_users[module_name] = _identity(module)
                continue
            if getattr(module.__spec__, "_initializing", False):
                complete = False  # names defined later in its body: look again next time
                importing.append(module_name)
                continue
            self.indexed.add(module_name)
            self._note_bound(module_name, module, self.stateless)
        self.importing = importing
        if complete:
            self.modules_seen = len(sys.modules)

    def _note_bound(self, module_name: str, module: Any, keep: Callable[[Any], bool]) -> None:
        for name, value in list(vars(module).items()):
            if not name.startswith("__") and keep(value):
                self.by_id[_identity(value)] = (module_name, name)

    def _builtins_indexed(self) -> dict:
        """The objects ``site`` binds in builtins (``help``, ``exit``, ``copyright``...),
        instances of a library's class (``_sitebuiltins._Helper``) that code compares with
        ``is`` (pure_eval tells a builtin name still holding its builtin apart): id -> name."""
        namespace = _BUILTINS
        if len(namespace) != self.builtins_seen:
            self.builtins_seen = len(namespace)
            self.in_builtins = {_identity(value): name for name, value in list(namespace.items())
                                if not name.startswith("__") and type(value).__module__ != "builtins"
                                and not isinstance(value, (type, types.ModuleType, types.FunctionType))}
        return self.in_builtins

    def reference(self, obj: Any) -> Any:
        """``(module, name)`` when ``obj`` is such a module-level object, else ``None``.

        Asked of every object an encode meets (a fifth of markdown's encoding time when it
        was five calls): one call, what the class decides looked up once per class."""
        identity = _identity(obj)
        builtin = (self.in_builtins if len(_BUILTINS) == self.builtins_seen
                   else self._builtins_indexed()).get(identity)
        if builtin is not None and _BUILTINS.get(builtin) is obj:
            return ("builtins", builtin)
        kind = type(obj)
        plan = _stateless_plans.get(kind) if kind is not object else _OBJECT_PLAN
        if plan is None:
            plan = _stateless_plan(kind)
        if plan[0] is plan[1] is False:
            stateless = False
        else:
            state = instance_dict(obj)
            stateless = plan[0] if state is None else not state and plan[1]
        if not stateless:
            # Of your modules: one its code uses by identity, or of a class made inside a
            # function, while as the module left it (the runtime noted it then).
            found = module_object_reference(obj)
            if found is None and plan[2]:
                found = self._library_sentinel(obj)
            return found
        found = self.by_id.get(identity)
        if found is None:
            self._index()
            found = self.by_id.get(identity)
        if found is None or module_attribute(sys.modules.get(found[0]), found[1]) is not obj:
            # (ids are reused once an object is gone: checked it is still the one.) Not
            # bound at module level: a class-level one, noted by the runtime?
            found = module_object_reference(obj)
            if found is None and self.importing:
                # A call made while your module imports (pyparsing's ``srange`` building
                # ``alphas8bit``): this may be a sentinel of it, noted only once its body
                # has run. Stored by value, it would replay as another object.
                raise Unserialisable(f"a stateless {type(obj).__module__}.{type(obj).__qualname__} object, "
                                     f"while {self.importing[0]} is importing", lasting=False, while_importing=True)
        return found

    def _library_sentinel(self, obj: Any) -> Any:
        """A library's object of a local class, bound in the module defining its factory
        (boltons' ``_MISSING = make_sentinel()``); libraries do not patch their sentinels."""
        module_name = type(obj).__module__
        module = sys.modules.get(module_name)
        if not isinstance(module, types.ModuleType) or _is_user_module(module):
            return None
        found = self.by_id.get(_identity(obj))
        if found is None:
            self._note_bound(module_name, module, of_a_local_class)
            found = self.by_id.get(_identity(obj))
        if found is None or module_attribute(module, found[1]) is not obj:
            return None
        return found


_sentinels = _Sentinels()
_package_paths = package_paths.PackagePaths(_is_user_module)


def with_package_dirs_marked(text: str) -> str:
    """``text`` with the directories of your packages as marks (package_paths.localised)."""
    return _package_paths.masked(text) if _package_paths.refresh() and os.sep in text else text


def inside_your_packages(path: str) -> bool:
    """Is ``path`` inside (or of) a package the tool instruments? (stored relative to it)"""
    return bool(_package_paths.refresh()) and _package_paths.holds(path)


def found_on_added_path(module_name: str) -> Optional[str]:
    """The directory ``module_name`` was imported from when a replay would not have it on
    sys.path (the runtime's replaces this when it loads this module), else None."""
    return None


def module_object_reference(obj: Any) -> Any:
    """``(module, name)`` for a module-level object of your code stored by name (used by
    identity, or of a local class) and unchanged since its module was imported; the
    runtime, which notes them at import, replaces this when it loads this module."""
    return None


_TEST_MODULES: dict[str, bool] = {}


def _is_test_module(name: str) -> bool:
    known = _TEST_MODULES.get(name)
    if known is None:
        from cleanup_trace.filters import is_test_file

        origin = module_attribute(sys.modules.get(name), "__file__")
        known = _TEST_MODULES[name] = bool(origin) and is_test_file(os.path.realpath(str(origin)))
    return known


def _refuse_test_module(obj: Any) -> None:
    """Values whose class or function lives in a test module do not replay: the replay
    run imports the project, not the recorded test suite's modules."""
    name = getattr(obj, "__module__", None) or ""
    if _is_test_module(name):
        raise Unserialisable(f"{name}.{getattr(obj, '__qualname__', None) or getattr(obj, '__name__', '?')} "
                             "is defined in a test module",
                             holders_to_blame=False)


_test_modules_seen: list = [0, []]  # len(sys.modules) when last looked, the test modules then


def _imported_test_modules() -> list[str]:
    """The test modules imported so far (looked for again only when sys.modules grew)."""
    if len(sys.modules) != _test_modules_seen[0]:
        names = list(sys.modules)
        _test_modules_seen[:] = [len(names), [name for name in names if _is_test_module(name)]]
    return _test_modules_seen[1]


_STRING_PUSHES = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING",
                            "BINSTRING", "SHORT_BINSTRING"})


def _modules_imported_by(pickled: bytes) -> set[str]:
    """The modules loading ``pickled`` imports: its GLOBAL and STACK_GLOBAL opcodes."""
    import pickletools

    modules: set[str] = set()
    memo: dict = {}
    pushed: list = []  # what each opcode put on the stack: a string, or None for anything else
    for opcode, argument, _ in pickletools.genops(pickled):
        name = opcode.name
        if name == "GLOBAL":
            modules.add(str(argument).split(" ", 1)[0])
            pushed.append(None)
        elif name == "STACK_GLOBAL":
            if len(pushed) >= 2 and isinstance(pushed[-2], str):
                modules.add(pushed[-2])
            pushed.append(None)
        elif name in _STRING_PUSHES:
            pushed.append(argument)
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[argument] = pushed[-1] if pushed else None
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            pushed.append(memo.get(argument))
        elif opcode.stack_after:
            pushed.append(None)
    return modules


_BUILTIN_VALUES = (dict, list, tuple, set, frozenset, str, bytes, bytearray, int, float, complex)


def _defined_below_object(kind: type, *names: str) -> bool:
    """Does a class of ``kind``'s MRO other than ``object`` define one of ``names``?"""
    return any(name in namespace_of(klass) for klass in kind.__mro__[:-1] for name in names)


@functools.lru_cache(maxsize=4096)  # (it holds the classes: bounded, like flatten_fast._plans)
def _container_reducing_itself(kind: type) -> bool:
    """A dict or list subclass of the user's that says how to pickle itself.

    jsonpickle never asks those: it stores their items and attributes, and decoding
    puts the items back first, through the subclass's own ``__setitem__`` or ``append``,
    before the attributes they rely on exist (tomlkit's ``Table``: "'Table' object has no
    attribute '_value'"). Pickling them as they ask is what ``pickle`` would do.
    """
    return issubclass(kind, (dict, list)) and not is_standard_library(kind.__module__) \
        and (_defined_below_object(kind, "__reduce_ex__", "__reduce__") or flatten_fast.sets_items_its_own_way(kind))


_JSONPICKLE_OWN = frozenset({list, dict, tuple, set})  # what jsonpickle's _get_flattener handles itself


class _Pickler(_jp_pickler.Pickler):
    """jsonpickle, except that local functions and lambdas go through dill (base64), and
    iterators are refused: jsonpickle would drain them, consuming the user's data."""

    def _get_flattener(self, obj: Any) -> Any:
        # jsonpickle sends lambdas nowhere (``is_module_function`` rejects '<lambda>'),
        # storing None; every plain function goes through _flatten_function instead.
        kind = type(obj)
        if kind is types.FunctionType:
            return self._flatten_function
        if isinstance(obj, type):
            _refuse_test_module(obj)  # stored as a reference the replay run cannot follow
        elif kind not in _JSONPICKLE_OWN and not isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)) \
                and "cython" not in kind.__name__:
            # An instance (what jsonpickle decides too, isinstance-wise, so that a proxy of
            # a function stays a function): jsonpickle would first ask whether a callable
            # one is a Cython function by calling its repr(), the user's code (jinja2's
            # loop context reads an async property there, leaving a coroutine never awaited).
            flatten_instance = getattr(self, "_ref_obj_instance", None)
            if flatten_instance is not None:
                return flatten_instance
        return super()._get_flattener(obj)

    def _flatten_impl(self, obj: Any) -> Any:
        if isinstance(obj, type) and not flatten_fast.class_found_by_name(obj) and "<locals>" not in obj.__qualname__:
            raise Unserialisable(flatten_fast.unfound_class_reason(obj), culprit=obj)
        if flatten_fast.is_type_hint(obj):  # (as flatten_fast stores them)
            if not self._mkref(obj):
                return self._getref(obj)
            self._seen.append(obj)
            form = flatten_fast.type_hint_form(obj, self._flatten, GLOBAL_LOADER, _refuse_test_module)
            if form is None:
                raise Unserialisable(f"the type hint {obj!r} cannot be rebuilt from a stored form",
                                     holders_to_blame=False)
            return form
        if type(obj) is flatten_fast.CACHED_FUNCTION:  # (as flatten_fast stores them)
            if not self._mkref(obj):
                return self._getref(obj)
            self._seen.append(obj)
            form = flatten_fast.cached_function_form(obj, GLOBAL_LOADER, _refuse_test_module)
            if form is None:
                raise Unserialisable(f"cached function {getattr(obj, '__qualname__', '?')} is not found by its "
                                     "module and name", holders_to_blame=False)
            return form
        if type(obj) is types.MethodType:  # (as flatten_fast stores them)
            name = flatten_fast.bound_method_name(obj)
            if name is None:
                raise _method_not_found(obj)
            if not self._mkref(obj):
                return self._getref(obj)
            self._seen.append(obj)
            return flatten_fast.bound_method_form(obj, name, self._flatten)
        if type(obj) is str and _package_paths.prefixes and _package_paths.holds(obj):
            # As flatten_fast stores it: an object to the decoder (a ``py/reduce``).
            if not self._mkref(obj):
                return self._getref(obj)
            self._seen.append(obj)
            return flatten_fast.package_path_form(_package_paths, obj)
        return super()._flatten_impl(obj)

    failed: Any = None  # the user's exception last met coming out of an object, that object and its class
    failed_object: Any = None
    failed_in: Optional[type] = None

    def _flatten_obj_instance(self, obj: Any) -> Any:
        try:
            return self._flatten_instance(obj)
        except Unserialisable as error:
            error.holder_objects += (obj,)
            raise
        except Exception as error:  # (a reduction raising: the innermost object is the one)
            if self.failed is not error:
                self.failed, self.failed_object, self.failed_in = error, obj, type(obj)
            raise

    def _flatten_instance(self, obj: Any) -> Any:
        _refuse_test_module(type(obj))
        reference = _sentinels.reference(obj)
        if reference is not None:
            return {"py/reduce": [{"py/function": GLOBAL_LOADER}, {"py/tuple": list(reference)}]}
        if type(obj) is re.Pattern:
            # jsonpickle keeps the pattern and drops the flags (re.IGNORECASE...).
            return {"py/reduce": [{"py/function": "re.compile"}, {"py/tuple": [self._flatten(obj.pattern), obj.flags]}]}
        if type(obj) in flatten_fast.PATH_TYPES and _package_paths.prefixes and _package_paths.holds(str(obj)):
            return flatten_fast.package_path_form(_package_paths, str(obj), type(obj))
        if type(obj) is bytearray:
            return flatten_fast.bytearray_form(obj)  # (jsonpickle's own encoding decodes back empty)
        if hasattr(type(obj), "__next__"):
            raise Unserialisable(f"{type(obj).__module__}.{type(obj).__qualname__} is an iterator: "
                                 "storing it would consume it", culprit=type(obj))
        if flatten_fast.answers_missing_attributes(type(obj).__mro__[:-1]) \
                and not _defined_below_object(type(obj), "__reduce__", "__reduce_ex__"):
            if not isinstance(obj, _BUILTIN_VALUES):
                return self._flatten_without_getattr(obj)
            if issubclass(type(obj), tuple):
                return self._flatten_tuple_without_getattr(obj)
            if flatten_fast.dict_answering_missing_names(type(obj)):
                return self._flatten_dict_without_getattr(obj)
            # (Other subclasses of builtin values, and classes pickling themselves their own
            # way, keep jsonpickle's path.)
        if _container_reducing_itself(type(obj)):
            flat = self._flatten_reduced(obj)
            if flat is not None:
                return flat
        if flatten_fast.slots_beside_dict(type(obj)):
            slots = slot_items(obj)
            if slots:
                attributes = instance_dict(obj) or {}
                return {"py/object": _jp_util.importable_name(type(obj)),
                        "py/state": {"py/tuple": [self._flatten(dict(attributes)), self._flatten(slots)]}}
        flat = super()._flatten_obj_instance(obj)
        if isinstance(obj, BaseException) and obj.__cause__ is not None:
            self._keep_cause(obj, flat)
        return flat

    def _flatten_reduced(self, obj: Any) -> Optional[dict]:
        """``obj`` as its ``__reduce_ex__`` describes it, in jsonpickle's ``py/reduce`` form
        (``None``: a reduction naming a global, left to jsonpickle)."""
        parts = flatten_fast.container_reduction(obj)
        return None if parts is None else {"py/reduce": [self._flatten(part) for part in parts]}

    def _keep_cause(self, error: BaseException, flat: Any) -> None:
        """``raise ... from cause``: pickling keeps ``args`` and the instance dict only;
        the cause goes into the state, which ``BaseException.__setstate__`` sets back
        as attributes (``__cause__`` included)."""
        reduced = flat.get("py/reduce") if isinstance(flat, dict) else None
        if not isinstance(reduced, list) or len(reduced) < 2:
            return  # (an unusual reduction: the comparison after storing tells)
        reduced.extend([None] * (3 - len(reduced)))
        state = reduced[2] if isinstance(reduced[2], dict) else {}
        state["__cause__"] = self._flatten(error.__cause__)
        reduced[2] = state

    def _flatten_without_getattr(self, obj: Any) -> Any:
        """An object whose class answers missing attributes itself, stored as pickling
        would (its ``__getstate__`` or instance dict, both looked up on the class) without
        ever asking the object for an attribute it may not have.

        jsonpickle asks every object for optional attributes (``_jsonpickle_exclude``,
        ``__getnewargs_ex__``...): a lazy object initialises itself when asked (funcy's
        ``LazyObject``), a caching proxy stores the answer, an expression builder
        (``whatever._``) answers with a new object whose iteration never ends.
        """
        kind = type(obj)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if _defined_below_object(kind, "__getstate__"):
            state = kind.__getstate__(obj)
        else:
            state = instance_dict(obj)
            if state is None:
                raise Unserialisable(f"{name} answers missing attributes and has no instance dict", culprit=kind)
            state = dict(state)
        return {"py/object": name, "py/state": self._flatten(state)}

    def _flatten_tuple_without_getattr(self, obj: Any) -> Any:
        """A named tuple answering missing attributes itself, stored as jsonpickle stores a
        named tuple (``__getnewargs__``, attributes, items) without asking it for
        ``_jsonpickle_exclude``: sqlparse's token types make a child type for any name
        asked, and the program would see one more in its tree of types."""
        data = {"py/object": _jp_util.importable_name(type(obj)),
                "py/newargs": self._flatten(type(obj).__getnewargs__(obj))}
        attributes = instance_dict(obj)
        if attributes:
            self._flatten_dict_obj(dict(attributes), data)
        data["py/seq"] = [self._flatten(item) for item in obj]
        return data

    def _flatten_dict_without_getattr(self, obj: dict) -> Any:
        """A dict of yours answering missing attributes itself, stored as jsonpickle stores
        a dict subclass (its items, then its instance dict unless equal to it) without
        asking it for ``_jsonpickle_exclude`` or ``default_factory``: a ``Box`` with
        default boxes would keep an item named so."""
        data = {"py/object": _jp_util.importable_name(type(obj))}
        self._flatten_dict_obj(dict(obj.items()), data)
        attributes = instance_dict(obj)
        if attributes is not None and obj != attributes:
            if self._mkref(attributes):
                data["__dict__"] = self._flatten_dict_obj(attributes, {})
            else:
                data["__dict__"] = self._getref(attributes)
        return data

    def _flatten_newstyle_with_slots(self, obj: Any, data: dict) -> dict:
        # jsonpickle falls back to every dir() attribute (methods included) when no slot
        # is set yet, as for ``self`` on entry to ``__init__``; the set slots are the state.
        self._flatten_obj_attrs(obj, list(slot_items(obj)), data)
        return data

    def _flatten_function(self, obj: Any) -> Any:
        form = _flatten_function(obj)
        if "py/reduce" in form:  # (an object to the decoder: numbered, given again by reference)
            if not self._mkref(obj):
                return self._getref(obj)
            self._seen.append(obj)
        return form


def _flatten_function(obj: Any) -> Any:
    """A function as stored: by name when importable, else pickled by value."""
    _refuse_test_module(obj)
    if not isinstance(obj, types.FunctionType):
        return {"py/function": _jp_util.importable_name(obj)}
    named_by = _named_by(obj)
    if named_by == "":
        return {"py/function": _jp_util.importable_name(obj)}
    if named_by is not None:
        return {"py/reduce": [{"py/function": HELD_LOADER},
                              {"py/tuple": [obj.__module__, obj.__qualname__, named_by]}]}
    if not _from_user_code(obj):
        # A library's inner function (a weakref callback, a closure of the tool...):
        # not the user's to replay, and dill warns about many of them.
        raise Unserialisable(f"function {obj.__module__}.{obj.__qualname__} is internal to a library")
    module = sys.modules.get(obj.__module__)
    if getattr(getattr(module, "__spec__", None), "_initializing", False):
        # dill stores what the half-imported module cannot give by name (its classes)
        # by value: a copy that decodes here, now, and nowhere else.
        raise Unserialisable(f"function {obj.__qualname__} was made while {obj.__module__} was importing",
                             lasting=False, while_importing=True)
    captured = _captured_functions(obj)  # refuses a test module's function or class
    # (Not outside its module: then the values of the globals it reads are stored too.)
    key = _identities_of(obj) if all(_in_its_module(function) for function in captured) else None
    known = _pickled_functions.get(obj) if key is not None else None
    if known is not None and known[0] == key:
        pickled, loader = known[1]  # nothing it holds can have changed: the same bytes
    else:
        pickled, loader = _pickled(obj, captured)
        if key is not None:
            _pickled_functions[obj] = (key, (pickled, loader))
    payload = base64.b64encode(pickled).decode("ascii")
    return {"py/reduce": [{"py/function": loader}, {"py/tuple": [payload]}]}


# A closure given to many calls is pickled once while what it holds cannot change. Made
# when dill pickled every one (2 ms for a voluptuous validator); the C pickler takes
# 0.07 ms, the cache still spares the copies of functions run outside their module and
# the functions only dill stores.
_pickled_functions: "weakref.WeakKeyDictionary[types.FunctionType, tuple[tuple, tuple[bytes, str]]]" = \
    weakref.WeakKeyDictionary()
_LASTING_TYPES = frozenset({bool, int, float, complex, str, bytes, type(None), types.ModuleType,
                            types.BuiltinFunctionType, type(Ellipsis)})


def _identities_of(function: types.FunctionType, depth: int = 0) -> Optional[tuple]:
    """What ``function``'s pickle depends on, as identities, when nothing it holds can
    change (its defaults, closure cells and attributes hold immutable values, classes,
    modules, builtins and such functions only); else ``None``: pickled every time."""
    if depth > 3:
        return None
    parts: list = [id(function.__code__), id(function.__globals__), function.__qualname__]
    held = list(function.__defaults__ or ()) + list((function.__kwdefaults__ or {}).values())
    held += list(function.__dict__.values())
    for cell in function.__closure__ or ():
        try:
            held.append(cell.cell_contents)
        except ValueError:  # a cell not filled yet: filled later, the pickle changes
            return None
    for value in held:
        identity = _lasting_identity(value, depth)
        if identity is None:
            return None
        parts.append(identity)
    return tuple(parts)


def _lasting_identity(value: Any, depth: int) -> Optional[Any]:
    kind = type(value)
    if kind in _LASTING_TYPES or (isinstance(value, type) and "<locals>" not in value.__qualname__):
        return id(value)  # (a local class is stored by value, its attributes with it)
    if kind is tuple or kind is frozenset:
        inner = [_lasting_identity(item, depth + 1) for item in value] if depth < 3 else [None]
        return None if None in inner else (id(value), tuple(inner))
    if kind is types.FunctionType:
        inner_key = _identities_of(value, depth + 1)
        return None if inner_key is None else (id(value), inner_key)
    return None


def _pickled(obj: types.FunctionType, captured: list) -> tuple[bytes, str]:
    """``obj`` pickled by value, and the loader of the payload: the C pickler's, or dill's
    for what only dill stores (a class made inside a function, say)."""
    # Functions running in their module's namespace refer to it by name (cheap, and the
    # replayed function sees the live globals, as the original did). Any other namespace
    # would be stored whole (the script's ``__main__``, the copy of a module's globals a
    # doctest runs in, with pytest's capture files in it): then only what each function
    # uses is.
    target = obj if all(_in_its_module(function) for function in captured) else _lightened(obj)
    # (imported at the first function stored by value: it imports the pickle module, 1.3
    # to 1.8 ms of every recording run's start, which most runs never use)
    from cleanup_trace import function_pickle

    try:
        pickled, modules = function_pickle.dumps(target, _importable, _sentinels.reference)
        loader = PICKLE_LOADER
    except RecursionError:
        raise Unserialisable(f"function {obj.__qualname__} is nested too deeply to pickle") from None
    except Exception as error:
        # dill is tried for what only it stores; an object of a type it failed on before
        # fails it again, after a walk of everything reachable (150 ms a try for
        # pydash's closures reaching an open file and a thread-local).
        blocker = _UNPICKLABLE_TYPE.match(str(error)) if isinstance(error, TypeError) else None
        if blocker is not None and blocker.group(1) in _dill_failed_on:
            raise Unserialisable(f"function {obj.__qualname__} holds a {blocker.group(1)} object, "
                                 "which cannot be pickled") from None
        try:
            pickled, loader = _pickled_by_dill(obj, target), DILL_LOADER
        except Unserialisable:
            if blocker is not None:
                _dill_failed_on.add(blocker.group(1))
            raise
        modules = _modules_imported_by(pickled) if _names_a_test_module(pickled) else ()
    # What the pickle reaches beyond the closure (a class of a test, through an attribute
    # of a captured object) would import a test module when the case is loaded.
    for module in modules:
        if _is_test_module(module):
            raise Unserialisable(f"function {obj.__qualname__} refers to the test module {module}")
    return pickled, loader


_UNPICKLABLE_TYPE = re.compile(r"cannot pickle '([\w.]+)' object")
_dill_failed_on: set = set()  # type names of the C pickler's refusals that dill refused too


def _pickled_by_dill(obj: types.FunctionType, target: types.FunctionType) -> bytes:
    import dill  # see load_dill

    try:
        with warnings.catch_warnings():
            # dill reports what it cannot pickle as a warning too: the exception is
            # the tool's to handle, the warning would reach the user's output.
            warnings.simplefilter("ignore", dill.PicklingWarning)
            return dill.dumps(target, recurse=False)
    except Exception as error:
        raise Unserialisable(f"function {obj.__qualname__} cannot be pickled by dill: {error}") from None


def _names_a_test_module(pickled: bytes) -> bool:
    # Reading the opcodes is slow: only when a test module's name is in the bytes at all.
    return any(name.encode() in pickled for name in _imported_test_modules())


def encode(value: Any, max_depth: int = 500, plain: bool = False) -> Any:
    """``value`` as a JSON-compatible structure; raises :class:`Unserialisable`.

    ``plain=True`` (what :func:`survey` said) copies the value through the C JSON codec,
    many times faster than jsonpickle, which would give the same structure.
    """
    _fast_form.reducers = _fast_form.pickled = None
    if plain:
        try:
            return _json.loads(_plain_text(value))
        except (RecursionError, ValueError, TypeError):
            pass  # let jsonpickle say what is wrong
    _fast_form.last = None
    reducers: list = []
    _package_paths.refresh()
    try:
        # (JSON by construction: str keys, atoms, lists and dicts; no json.dumps to check)
        flat = flatten_fast.flatten(value, max_depth, _refuse_test_module, _sentinels.reference, GLOBAL_LOADER,
                                    _flatten_function, Unserialisable, _package_paths, reducers)
        _fast_form.last = flat  # (check_round_trip decodes it the fast way too)
        _fast_form.reducers = reducers
        return flat
    except Unserialisable:
        raise  # the tool's own refusal, the same either way
    except Exception:
        # Declined, or the value's own failure: jsonpickle says it in its words.
        pass
    pickler = _Pickler(keys=True, warn=False, max_depth=max_depth, make_refs=True)
    try:
        flat = pickler.flatten(value, reset=True)
        _plain_text(flat)  # (JSON text can be made of it)
    except Unserialisable:
        raise
    except RecursionError:
        raise Unserialisable("value is nested too deeply") from None
    except Exception as error:
        culprit = pickler.failed_in if pickler.failed is error else None
        raise Unserialisable(f"{type(error).__name__}: {error}", culprit=culprit,
                             incomplete=culprit is not None and isinstance(error, AttributeError)
                             and getattr(error, "obj", None) is pickler.failed_object) from None
    finally:
        # (the exception's frames hold the pickler: a cycle keeping the user's objects
        # alive until the collector runs; boltons' tests count live objects)
        pickler.failed = pickler.failed_object = None
    _fast_form.pickled = flat  # (its reducers looked for only when asked: see last_reducers)
    return flat


def _reducers_named_in(flat: Any) -> list:
    """The functions a flattened value names as what rebuilds an object (``py/reduce``
    led by a ``py/function``), as the modules already imported hold them."""
    found = []
    stack = [flat]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            reduced = item.get("py/reduce")
            if type(reduced) is list and reduced and type(reduced[0]) is dict \
                    and type(reduced[0].get("py/function")) is str:
                function = resolve_dotted(reduced[0]["py/function"])
                if type(function) is types.FunctionType:
                    found.append(function)
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return found


class _Unpickler(_jp_unpickler.Unpickler):
    failed: Any = None  # the exception last met coming out of an object's decoding, and its class
    failed_in: Any = None

    def _restore_object(self, obj: Any) -> Any:
        try:
            return super()._restore_object(obj)
        except Exception as error:
            self._failed(error, obj.get(_jp_tags.OBJECT) if isinstance(obj, dict) else None)
            raise

    def _restore_object_instance(self, obj: dict, cls: type, class_name: str = "") -> Any:
        if "default_factory" in obj:
            # jsonpickle deletes the key from the form it decodes: that form is the one
            # being stored, checked by decoding it (lark's ``defaultdict(list)`` was
            # written without its factory, and replayed with none).
            obj = dict(obj)
        return super()._restore_object_instance(obj, cls, class_name)

    def _failed(self, error: Exception, name: Any) -> None:
        if self.failed is not error:
            self.failed, self.failed_in = error, _jp_unpickler.loadclass(name) if isinstance(name, str) else None

    def _restore_reduce(self, obj: Any) -> Any:
        try:
            restored = super()._restore_reduce(obj)
        except Exception as error:
            self._failed(error, forms.reduced_class(obj))
            raise
        if type(restored) is list and not restored:  # (never the user's __eq__)
            # jsonpickle's answer when the reduction's callable is not found: an empty
            # list in place of the object (a class of a module replay cannot import).
            name = forms.missing_callable(obj)
            if name is not None:
                raise UnknownClass(f"could not find {name}")
        return restored


def _strict_unpickler() -> Any:
    # A class that cannot be imported must be an error, not a silently wrong value (a
    # raw dict, None): jsonpickle >= 4 can say so.
    try:
        return _Unpickler(keys=True, safe=False, on_missing="error")
    except TypeError:
        return _Unpickler(keys=True, safe=False)


class UnknownClass(Exception):
    """A stored value names a class that cannot be imported."""


def decode(data: Any, failure: Optional[list] = None) -> Any:
    """The value ``data`` stands for. When decoding raises, the class of the innermost
    object whose decoding it came out of, if known, is appended to ``failure``."""
    unpickler = _strict_unpickler()
    try:
        value = unpickler.restore(data, reset=True)
    except Exception as error:
        if failure is not None and unpickler.failed is error and unpickler.failed_in is not None:
            failure.append(unpickler.failed_in)
        raise
    except _jp_errors.ClassNotFoundError as error:
        # jsonpickle derives this from BaseException: it would fly past every
        # ``except Exception`` of the tool and into the user's program.
        raise UnknownClass(str(error)) from None
    finally:
        unpickler.failed = None  # (its frames hold the unpickler: see encode)
    unresolved = _left_undecoded(value)
    if unresolved is not None:
        raise UnknownClass(f"could not find {unresolved}")
    return value


def _left_undecoded(value: Any) -> Any:
    """A ``py/type`` or ``py/function`` reference jsonpickle could not resolve: it leaves
    the raw dict in place (``on_missing`` covers ``py/object`` only)."""
    stack, seen = [value], set()
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for tag in ("py/type", "py/function"):
                if tag in item:
                    return item[tag]
        if isinstance(item, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
            continue  # found by name: nothing raw inside
        if kind in (dict, list, tuple, set, frozenset) or hasattr(item, "__dict__"):
            if id(item) in seen:
                continue
            seen.add(id(item))
            if kind is dict:
                stack.extend(item.values())
            elif kind in (list, tuple, set, frozenset):
                stack.extend(item)
            else:
                stack.extend((instance_dict(item) or {}).values())
    return None


_canonical = _json.encoder(sort_keys=True, item_separator=",", key_separator=":")
_plain_text = _json.encoder(item_separator=",", key_separator=":")  # (keys in their order: a copy)


def dumps(data: Any) -> str:
    """Canonical JSON text (sorted keys): equal texts mean equal recorded values."""
    return _canonical(data)


def dumps_by_key(data: dict) -> tuple[str, dict]:
    """:func:`dumps` of a dict with ``str`` keys, and the texts of its values by key: a
    case's text and its call's text, without encoding the call twice (markdown's calls
    hold a parser graph of hundreds of objects)."""
    texts = {key: _canonical(value) for key, value in data.items()}
    joined = ",".join(f"{_canonical(key)}:{texts[key]}" for key in sorted(texts))
    return "{" + joined + "}", texts


try:
    from cleanup_trace import restore_fast
except ImportError:  # (it uses jsonpickle's decoder helpers: if they moved, jsonpickle decodes)
    restore_fast = None  # type: ignore[assignment]

# The form the fast flattener made last, per thread: what restore_fast may decode.
_fast_form = threading.local()


def last_reducers() -> list:
    """The functions the last :func:`encode` in this thread stored as what rebuilds an
    object (a reduction's callable): collected by the fast encoder as it went, or found
    in the form jsonpickle made."""
    reducers = getattr(_fast_form, "reducers", None)
    if reducers is None:
        pickled = getattr(_fast_form, "pickled", None)
        reducers = _fast_form.reducers = _reducers_named_in(pickled) if pickled is not None else []
    return reducers


def _decode_checked(data: Any, failure: Optional[list] = None) -> Any:
    """:func:`decode`, by restore_fast when ``data`` is what flatten_fast made last."""
    if restore_fast is None or getattr(_fast_form, "last", None) is not data:
        return decode(data, failure)
    try:
        return restore_fast.restore(data, failure)
    except restore_fast.Declined:
        return decode(data, failure)
    except restore_fast.MissingClass as error:
        raise UnknownClass(str(error)) from None
    except _jp_errors.ClassNotFoundError as error:
        raise UnknownClass(str(error)) from None


_REBUILDERS = ("__reduce__", "__reduce_ex__", "__setstate__")


def _rebuilder_among(holder_objects: tuple) -> Optional[type]:
    """The innermost class among the objects holding a difference (innermost first)
    that rebuilds its objects its own way, a class statement's: what it runs while
    decoded may change what it holds (tomlkit's ``Container.__setstate__`` appends its
    items again, which indents their ``Trivia``). The class to check again, not the plain
    holder of the changed attribute (every later value holding a ``Trivia`` was checked)."""
    for holder in holder_objects:
        for klass in type(holder).__mro__[:-1]:
            if flatten_fast.of_a_class_statement(klass) and any(name in namespace_of(klass) for name in _REBUILDERS):
                return type(holder)
    return None


def check_round_trip(original: Any, data: Any) -> Any:
    """Decode ``data`` and require it to equal ``original``; return the decoded value."""
    failure: list = []
    try:
        restored = _decode_checked(data, failure)
    except Exception as error:
        # Lasting when a class of the value failed to build itself (parsedatetime's
        # ``Constants``, whose ``__getattr__`` recursed without its attributes: 1.4 ms a
        # try, at every call given a calendar); a class not found may be found later.
        culprit = failure[0] if failure else None
        raise Unserialisable(f"stored value does not decode: {type(error).__name__}: {error}",
                             lasting=culprit is not None and not isinstance(error, (UnknownClass, ImportError)),
                             culprit=culprit) from None
    problems = differences(restored, original, limit=1, strict=True)
    if problems:
        holder_objects = getattr(problems[0], "holder_objects", ())
        # (Held by no object: the class of the value given as is that came back different.)
        raise Unserialisable(f"value does not round-trip: {problems[0]}", holder_objects=holder_objects,
                             culprit=_rebuilder_among(holder_objects) or (
                                 type(holder_objects[0]) if holder_objects
                                 else getattr(problems[0], "differing_type", None)),
                             differing_class=getattr(problems[0], "differing_class", None))
    if has_own_eq(original) and type(original).__module__ != "builtins":
        # Replay compares with the class's own __eq__, which the strict walk never calls on
        # the user's object: two decoded copies must be equal (toolz' curry compares its
        # function's signature cache by identity).
        problems = differences(_decode_checked(data), restored, limit=1)
        if problems:
            raise Unserialisable(f"value does not equal a copy of itself: {problems[0]}")
    return restored


__all__ = ["FORMAT", "Unserialisable", "TooLarge", "HoldsAClock", "Survey", "survey", "NOT_PLAIN", "plain_copy", "encode", "decode", "dumps", "check_round_trip", "load_dill", "load_pickled", "load_global", "load_held"]
