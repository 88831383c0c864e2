"""jsonpickle's flattening of the common shapes of values, worked out once per class.

Nearly every recorded value is made of builtins, plain instances (attributes in the
instance ``__dict__``) and instances that reduce themselves (``__reduce__``,
``__reduce_ex__``). jsonpickle finds how to store each object by asking it a dozen
questions, the same answers for every object of a class: about 50 µs an object, the
largest part of recording a case. Here the answers are worked out once per class.

The output is exactly jsonpickle's (same tags, same ``py/id`` numbering, same key order;
``tests/test_flatten_fast.py`` compares the two on generated values): jsonpickle decodes
it, data files do not change. Anything else (a class jsonpickle has a handler for, one
with ``__getstate__``, ``__slots__``, a C base, a ``__getattr__``; a method its object
does not give back by name; nesting near the depth limit; global jsonpickle options)
raises :class:`Declined`, and the caller flattens the whole value with jsonpickle. One
form is not jsonpickle's: a bound method, which jsonpickle stores as an empty object no
decoder reads back, is stored as ``getattr(its object, its name)`` by both paths.
"""
from __future__ import annotations

import base64
import collections
import functools
import pathlib
import re
import sys
import types
import typing
from typing import Any, Callable, Optional

import jsonpickle
from jsonpickle import backend as _jp_backend
from jsonpickle import handlers as _jp_handlers
from jsonpickle import tags as _jp_tags
from jsonpickle import util as _jp_util

from cleanup_trace import forms
from cleanup_trace._identity import identity as _identity
from cleanup_trace.compare import instance_dict, namespace_of, slot_items
from cleanup_trace.filters import is_standard_library
from cleanup_trace.package_paths import LOADER as PACKAGE_PATH_LOADER

# Written against jsonpickle 4's flattening (tests/test_flatten_fast.py compares the two
# with the release installed); another major release goes through jsonpickle itself.
ENABLED = jsonpickle.__version__.split(".")[0] == "4"


class Declined(Exception):
    """The value holds something this module leaves to jsonpickle."""


_PRIMITIVES = frozenset({str, bool, int, float, type(None)})
# jsonpickle drops an attribute whose value is one of these (``util.is_picklable``) unless
# it is a module function: left to it.
_FUNCTION_TYPES = frozenset({types.FunctionType, types.MethodType, types.LambdaType,
                             types.BuiltinFunctionType, types.BuiltinMethodType})
_FUNCTION_LIKE = (types.FunctionType, types.BuiltinFunctionType)
_RESERVED = frozenset(_jp_tags.RESERVED)
_JSON_KEY = _jp_tags.JSON_KEY
_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE
_IMMUTABLE_TYPE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE (3.10+)
# Any of these on a class below ``object`` sends jsonpickle down another path.
_OTHER_PATHS = ("__getstate__", "__getnewargs__", "__getnewargs_ex__", "__getinitargs__",
                "__getattr__", "__getattribute__", "__next__", "_jsonpickle_exclude")

_PLAIN, _NEWARGS, _C_NEWARGS, _TUPLE, _REDUCE, _REDUCE_EX, _CONTAINER, _DECLINE, _SEQ, _SLOTTED, _SLOTS_AND_DICT, \
    _C_STATE, _ANSWERING, _EXCEPTION, _CLASS_ALONE, _HANDLED, _OWN_STATE, _DICT = range(18)
# Left to jsonpickle and the tool's own paths in serialise, or refused there.
_NOT_AS_C_TYPES = (BaseException, dict, list, tuple, set, str, bytes, bytearray, int, float, type,
                   types.ModuleType, re.Pattern)
_REDUCING_BASES = (str, int, float, dict, list)
_plans: dict = {}  # class -> (plan, name); emptied past _PLANS_KEPT (classes made at run time)
_PLANS_KEPT = 4096
# Classes whose objects :meth:`Flattener.flatten` found to be none of the kinds it tells
# apart before an instance (a type hint, a class, a method, a function...): their objects
# skip those nine tests (see _ordinary). Bounded as _plans is.
_ordinary_classes: set = set()


# Type hints given as values (``list[int]``, ``typing.Optional[str]``, ``int | None``,
# ``tuple[int, ...]``): jsonpickle stores none of them so that they decode (libraries
# converting or checking values by their types take them as arguments: cattrs,
# typeguard). Each is stored as what rebuilds it, as pickle would.
_UNION_TYPE = getattr(types, "UnionType", None)  # (``int | None``, 3.10+; pickled only since 3.12)
_HINT_TYPES = frozenset(kind for kind in (types.GenericAlias, _UNION_TYPE, type(Ellipsis)) if kind is not None)


def bound_method_name(method: types.MethodType) -> Optional[str]:
    """The attribute of ``method``'s object that gives this method back
    (``getattr(obj, name)``), or ``None`` when none does (``types.MethodType(f, obj)``, a
    name its instance shadows). Read from the class dictionaries, as ``getattr`` would
    find it, never by running the object's own code."""
    owner, function = method.__self__, method.__func__
    name = getattr(function, "__name__", None)
    if type(name) is not str:
        return None
    bound_to_class = isinstance(owner, type)
    classes = owner.__mro__ if bound_to_class else type(owner).__mro__
    candidates = [name]
    if name.startswith("__") and not name.endswith("__"):  # (``def __walk`` is stored mangled)
        candidates = [f"_{klass.__name__.lstrip('_')}{name}" for klass in classes]
    attributes = None if bound_to_class else instance_dict(owner)
    for attribute in dict.fromkeys(candidates):
        if attributes is not None and attribute in attributes:
            continue  # shadowed by the instance
        found = next((vars(klass)[attribute] for klass in classes if attribute in vars(klass)), None)
        if found is None:
            continue
        if bound_to_class:
            if type(found) is classmethod and found.__func__ is function:
                return attribute
        elif found is function:
            return attribute
    return None


def bound_method_form(method: types.MethodType, name: str, flatten: Callable[[Any], Any]) -> dict:
    """A bound method as stored: ``getattr(its object, name)`` (a ``py/reduce`` both
    decoders call; jsonpickle alone would store an empty ``builtins.method`` object)."""
    return {"py/reduce": [{"py/function": "builtins.getattr"}, {"py/tuple": [flatten(method.__self__), name]}]}


def is_type_hint(value: Any) -> bool:
    kind = type(value)
    return kind in _HINT_TYPES or (kind.__module__ == "typing" and not isinstance(value, type))


# What ``functools.lru_cache`` and ``functools.cache`` make of a function: a C object,
# which pickling stores by its module and qualified name (its ``__reduce__`` gives the
# name). jsonpickle stored its attributes under its class's name instead, which no
# decoder can build: every value holding one (a module-level cached helper given as a
# value) was encoded the slow way, decoded in vain, then refused. One made inside a
# function (voluptuous' ``Marker`` caches a lambda of its own) has no such name: refused
# as it is met, before any decoding.
CACHED_FUNCTION: type = type(functools.lru_cache()(len))
if CACHED_FUNCTION is types.FunctionType:  # (functools' pure-Python fallback: a plain function)
    CACHED_FUNCTION = type("NoCachedFunctionType", (), {})


def cached_function_form(value: Any, global_loader: str, refuse: Callable[[Any], None]) -> Optional[dict]:
    """A cached function stored by name, as pickling stores it (``None``: its module and
    qualified name do not lead to it)."""
    module = sys.modules.get(getattr(value, "__module__", None) or "")
    name = getattr(value, "__qualname__", None)
    if module is None or not isinstance(name, str) or "<" in name:
        return None
    found: Any = module
    for part in name.split("."):
        found = getattr(found, part, None)  # (a cached method read from its class is the wrapper itself)
    if found is not value:
        return None
    refuse(value)  # (one of a test module: replay does not import the tests)
    return {"py/reduce": [{"py/function": global_loader}, {"py/tuple": [module.__name__, name]}]}


def bytearray_form(value: bytearray) -> dict:
    """A bytearray as serialise stores it on jsonpickle's path too: ``bytearray(<bytes>)``,
    a ``py/reduce`` (jsonpickle's own form of one decodes back empty)."""
    return {"py/reduce": [{"py/type": "builtins.bytearray"},
                          {"py/tuple": [{"py/b64": base64.b64encode(value).decode("ascii")}]}]}


def type_hint_form(value: Any, flatten: Callable[[Any], Any], global_loader: str,
                   refuse: Callable[[Any], None]) -> Optional[dict]:
    """The stored form of a type hint (a ``py/reduce`` both decoders call), or ``None``
    when it cannot be rebuilt that way. ``refuse`` raises for one named in a test module
    (a ``TypeVar`` of the tests: replay does not import them)."""
    kind = type(value)
    if value is Ellipsis:
        return {"py/reduce": [{"py/function": global_loader}, {"py/tuple": ["builtins", "Ellipsis"]}]}
    if kind is types.GenericAlias:
        return {"py/reduce": [{"py/type": "types.GenericAlias"},
                              {"py/tuple": [flatten(value.__origin__), flatten(value.__args__)]}]}
    if kind is _UNION_TYPE:
        return {"py/reduce": [{"py/function": "functools.reduce"},
                              {"py/tuple": [{"py/function": "_operator.or_"}, flatten(value.__args__)]}]}
    try:
        reduced = value.__reduce__()
    except Exception:
        return None
    if isinstance(reduced, str):  # a name in its module (``typing.Union``, a TypeVar)
        module = sys.modules.get(getattr(value, "__module__", None) or "")
        if module is None or getattr(module, reduced, None) is not value:
            return None
        refuse(value)
        return {"py/reduce": [{"py/function": global_loader}, {"py/tuple": [module.__name__, reduced]}]}
    if isinstance(reduced, tuple) and len(reduced) == 2 and isinstance(reduced[1], tuple) \
            and _jp_util.is_module_function(reduced[0]):  # ``operator.getitem(typing.List, int)``
        return {"py/reduce": [flatten(reduced[0]), flatten(reduced[1])]}
    return None


def has_handler(cls: type) -> bool:
    """jsonpickle has a handler registered for ``cls`` (by class or name)."""
    return _jp_handlers.get(cls, _jp_handlers.get(_importable_name(cls))) is not None


def of_a_class_statement(klass: type) -> bool:
    """Made by a class statement, not in C. Classes made in C are heap types too when
    made from a spec (``functools.partial`` since 3.10): those are immutable, nearly all;
    the others (``ast.AST``) show their own C slots in their namespace, as slot wrappers
    of theirs, which a class statement never makes (it may hold another class's:
    ``__hash__ = int.__hash__`` in tomlkit's items)."""
    known = _class_statements.get(_identity(klass))
    if known is not None and known[0] is klass:
        return known[1]
    answer = klass.__flags__ & (_HEAP_TYPE | _IMMUTABLE_TYPE) == _HEAP_TYPE and not any(
        type(value) is types.WrapperDescriptorType and value.__objclass__ is klass
        for value in namespace_of(klass).values())
    if len(_class_statements) >= _PLANS_KEPT:
        _class_statements.clear()  # (it holds the classes, as _plans does)
    _class_statements[_identity(klass)] = (klass, answer)
    return answer


# of_a_class_statement's answers, by the class's identity (never its own ``__hash__``: a
# metaclass may define one), with the class: a class's flags and the slot wrappers of its
# own never change, and yamale's schemas hold its validator classes, stored by name at
# every recorded call: 3,700 scans of their namespaces a run, 6 ms.
_class_statements: dict = {}



def _importable_name(cls: Any) -> str:
    name = getattr(cls, "__qualname__", cls.__name__)
    module = cls.__module__
    return f"{_PYTHON2_MODULES.get(module, module)}.{name}"


_PYTHON2_MODULES = {"__builtin__": "builtins", "exceptions": "builtins"}  # (jsonpickle's names for them)


def _plan_for(cls: type, obj: Any) -> tuple:
    """How jsonpickle stores instances of ``cls`` (``obj`` is one): ``(plan, importable name)``."""
    name = _importable_name(cls)
    if forms.own_handler(cls, name) is not None:
        # (a date in a value sent all of it through jsonpickle: yamale's validated
        # documents, a third of its encoding time)
        return _HANDLED, name
    if _jp_handlers.get(cls, _jp_handlers.get(name)) is not None or "cython" in cls.__name__:
        return _DECLINE, name
    below_object = cls.__mro__[:-1]
    if cls is collections.OrderedDict:
        return _CONTAINER, name  # (stored by its reduction, by jsonpickle too)
    if gives_its_own_state(cls) and "<locals>" not in name:
        return _OWN_STATE, name
    if not cls.__dictoffset__:
        # (Every class a class statement with __slots__: a C base, heap type or not, has none.)
        if below_object and all("__slots__" in namespace_of(klass) for klass in below_object):
            return _slotted_plan(cls, name), name
        return _without_dict_plan(cls, obj), name
    own = [klass for klass in below_object if of_a_class_statement(klass)]
    builtin = [klass for klass in below_object if not of_a_class_statement(klass)]
    if builtin == [tuple]:  # (a named tuple's subclass with methods: asttokens' Token)
        return _tuple_subclass_plan(cls, obj), name
    if issubclass(cls, BaseException):
        return _exception_plan(own, name), name
    # (A C base keeps state out of __dict__: Exception, set... A subclass of str, int,
    # float, dict or list, or of another class made in C (datetime), that says how to
    # reduce itself is stored that way.)
    if builtin and (len(builtin) > 1 or builtin[0] not in _REDUCING_BASES):
        return _reducing_subclass_plan(cls, obj, own, builtin), name
    if not builtin and answers_missing_attributes(own):
        return _answering_plan(own, name), name
    if builtin == [dict] and "<locals>" not in name and dict_answering_missing_names(cls):
        return _DICT, name
    if any(attribute in namespace_of(klass) for klass in own
           for attribute in _OTHER_PATHS if attribute != "__getnewargs__"):
        return _DECLINE, name
    if any(namespace_of(klass).get("__slots__") for klass in own):  # (empty ones: the abc classes)
        return (_SLOTS_AND_DICT if slots_beside_dict(cls) and "<locals>" not in name else _DECLINE), name
    if "<locals>" in name:  # not importable by name: jsonpickle's decoder says so
        return _DECLINE, name
    reduces_itself = any("__reduce__" in namespace_of(klass) or "__reduce_ex__" in namespace_of(klass)
                         for klass in own)
    list_like = hasattr(cls, "__getitem__") and hasattr(cls, "append") and not builtin
    if hasattr(cls, "_") or (list_like and reduces_itself):
        return _DECLINE, name  # jsonpickle reads ``obj._`` (zope); ignores a list-like's reduce
    # Your own ``__getnewargs__`` (pyparsing's Literal): its answer goes to ``cls.__new__``.
    own_newargs = next((namespace_of(klass)["__getnewargs__"] for klass in own
                        if "__getnewargs__" in namespace_of(klass)), None)
    if own_newargs is not None and (builtin or not isinstance(own_newargs, types.FunctionType)):
        return _DECLINE, name
    if not reduces_itself and own_newargs is not None:
        return _NEWARGS, name
    if builtin and not reduces_itself:
        if builtin == [list] and not any("__iter__" in namespace_of(klass) for klass in own):
            return _SEQ, name  # a list of yours (markdown's parser ``State``): attributes, then items
        if builtin == [dict] and not is_standard_library(cls.__module__):
            if sets_items_its_own_way(cls):
                return _CONTAINER, name  # (by its reduction: serialise._container_reducing_itself)
            if not any("default_factory" in namespace_of(klass) for klass in below_object):
                return _DICT, name  # a dict of yours: its items, then its attributes
        # A str, int or float with attributes: its value as ``__getnewargs__`` gives it.
        return (_NEWARGS if builtin[0] in (str, int, float) else _DECLINE), name
    if builtin and builtin[0] in (dict, list):
        # The tool's own path for these (serialise._container_reducing_itself).
        return (_DECLINE if is_standard_library(cls.__module__) else _CONTAINER), name
    # util.has_reduce, for a class such as these.
    has_reduce = any("__reduce__" in namespace_of(klass) for klass in below_object) \
        or cls.__reduce__ is not object.__reduce__
    has_reduce_ex = any("__reduce_ex__" in namespace_of(klass) for klass in below_object) \
        or cls.__reduce_ex__ is not object.__reduce_ex__
    if has_reduce_ex:
        return _REDUCE_EX, name
    return (_REDUCE if has_reduce else _PLAIN), name


_OWN_PICKLING = ("__reduce__", "__reduce_ex__", "__getstate__", "__setstate__", "__getnewargs__",
                 "__getnewargs_ex__", "__getinitargs__")


# Names in an object's own instance dict that send jsonpickle another way (it asks the
# object for a reduction first, or leaves attributes out). (Asked of the dict's keys, which
# look the three up: not a walk of all its attributes.)
_OTHER_WAYS_IN_ITS_DICT = frozenset({"_jsonpickle_exclude", "__reduce__", "__reduce_ex__"})
# What else sends jsonpickle another way than an own ``__getstate__`` alone.
_BESIDE_OWN_STATE = tuple(name for name in _OWN_PICKLING if name not in ("__getstate__", "__setstate__")) + (
    "__getattr__", "__getattribute__", "__next__", "_jsonpickle_exclude", "__class__")


def gives_its_own_state(kind: type) -> bool:
    """A class of plain Python classes (``typing.Generic`` among them) with a
    ``__getstate__`` of its own and nothing else of pickling's: jsonpickle stores its
    objects as ``{"py/object": name, "py/state": <their __getstate__()>}``, when that state
    is not empty (pygtrie's tries and nodes; a third of its recording was jsonpickle's)."""
    below_object = kind.__mro__[:-1]
    if not below_object or issubclass(kind, BaseException):
        return False
    namespaces = [namespace_of(klass) for klass in below_object]
    return all(klass is typing.Generic or of_a_class_statement(klass) for klass in below_object) \
        and any(isinstance(namespace.get("__getstate__"), types.FunctionType) for namespace in namespaces) \
        and not any(name in namespace for namespace in namespaces for name in _BESIDE_OWN_STATE)


@functools.lru_cache(maxsize=4096)  # (it holds the classes: bounded, like _plans)
def slots_beside_dict(kind: type) -> bool:
    """A class of plain Python classes whose instances keep state both in slots (a base
    class's ``__slots__``) and in an instance dict, and that does not say how to pickle.

    jsonpickle stores only such an object's ``__dict__``: lark's ``Terminal`` lost the
    ``name`` that its base ``Symbol`` keeps in a slot. Pickling keeps both, as the state
    ``(dict, slots)``, which jsonpickle's decoder sets back; so does the tool.
    """
    below_object = kind.__mro__[:-1]
    return bool(kind.__dictoffset__) and all(of_a_class_statement(klass) for klass in below_object) \
        and any(namespace_of(klass).get("__slots__") for klass in below_object) \
        and not any(name in namespace_of(klass) for klass in below_object for name in _OWN_PICKLING) \
        and _jp_handlers.get(kind) is None


def _slotted_plan(cls: type, name: str) -> int:
    """Classes of yours whose instances keep their state in ``__slots__`` only (parsimonious'
    nodes and expressions): their set slots, as the tool's pickler stores them (see
    serialise._Pickler._flatten_newstyle_with_slots), when nothing else says how."""
    own = cls.__mro__[:-1]
    if any(attribute in namespace_of(klass) for klass in own for attribute in _OTHER_PATHS + _OWN_REDUCTIONS) \
            or "<locals>" in name or hasattr(cls, "_"):
        return _DECLINE
    return _SLOTTED


_OWN_REDUCTIONS = ("__reduce__", "__reduce_ex__", "__new__", "__setstate__")


def _reducing_subclass_plan(cls: type, obj: Any, own: list, builtin: list) -> int:
    """A class of yours over a class made in C other than the ones above (tomlkit's
    ``DateTime`` over ``datetime``): only if it reduces itself, as jsonpickle decides
    (or its C base does, made from a spec: see below)."""
    if any(issubclass(base, _NOT_AS_C_TYPES) for base in builtin) or hasattr(cls, "__next__") \
            or getattr(cls, "__getstate__", None) is not getattr(object, "__getstate__", None) \
            or "<locals>" in _importable_name(cls):
        return _DECLINE
    # A class made in C itself (``functools.partial``, which lark's values hold): its own
    # reduction. (Its ``__getattribute__`` slot is the generic one: not another path.) A
    # class of yours over a C class made from a spec, as ``ast.AST`` is, that does not
    # reduce itself: the base's reduction (a node of a syntax tree: asttokens', pyflakes',
    # radon's values).
    if own and _reduces(own):
        reducers, other_paths = own, _OTHER_PATHS
    elif not own or all(_made_from_a_spec(klass) for klass in builtin):
        reducers, other_paths = builtin, _C_OTHER_PATHS
    else:
        return _DECLINE
    if any(attribute in namespace_of(klass) for klass in own for attribute in _OTHER_PATHS) \
            or any(attribute in namespace_of(klass) for klass in reducers for attribute in other_paths) \
            or not _reduces(reducers):
        return _DECLINE
    return _reduction_plan(obj)


def _exception_plan(own: list, name: str) -> int:
    """An exception given as a value (voluptuous' ``Invalid`` errors, handed from one of
    its functions to the next): jsonpickle stores ``BaseException``'s reduction, the class,
    its ``args`` and its instance dict, unless a class of yours reduces it or has another
    path of its own (then left to jsonpickle)."""
    if "<locals>" in name or any(attribute in namespace_of(klass) for klass in own
                                 for attribute in _OTHER_PATHS + ("__reduce__", "__reduce_ex__", "__setstate__")):
        return _DECLINE
    if any(namespace_of(klass).get("__slots__") for klass in own):
        return _DECLINE
    return _EXCEPTION


def _reduces(classes: list) -> bool:
    return any("__reduce__" in namespace_of(klass) or "__reduce_ex__" in namespace_of(klass) for klass in classes)


def _made_from_a_spec(klass: type) -> bool:
    """A heap type made in C (``ast.AST``), not a static one (``datetime``)."""
    return bool(klass.__flags__ & _HEAP_TYPE) and not of_a_class_statement(klass)


def answers_missing_attributes(classes: Any) -> bool:
    """A ``__getattr__``, or a ``__getattribute__`` written in Python, in one of ``classes``
    (serialise's pickler asks too, for the classes below ``object``)."""
    return any("__getattr__" in namespace_of(klass)
               or isinstance(namespace_of(klass).get("__getattribute__"), types.FunctionType) for klass in classes)


def _answering_plan(own: list, name: str) -> int:
    """A class of yours answering missing attributes itself (prettytable's tables, glom's
    ``T``, tinydb's ``Query``): stored as the tool's pickler stores it, its instance dict
    as its state, never asking the object for anything (serialise's
    ``_flatten_without_getattr``). Its own ``__getstate__`` or reduction: left to that."""
    if "<locals>" in name or any(attribute in namespace_of(klass) for klass in own
                                 for attribute in ("__getstate__", "__reduce__", "__reduce_ex__", "__next__")):
        return _DECLINE
    return _ANSWERING


def _reduction_plan(obj: Any) -> int:
    """Which reduction jsonpickle asks an object for (``util.has_reduce``)."""
    has_reduce, has_reduce_ex = _jp_util.has_reduce(obj)
    if has_reduce_ex:
        return _REDUCE_EX
    return _REDUCE if has_reduce else _DECLINE


_C_OTHER_PATHS = tuple(attribute for attribute in _OTHER_PATHS if attribute != "__getattribute__")


def _without_dict_plan(cls: type, obj: Any) -> int:
    """Instances without ``__dict__`` (``complex``, ``range``, ``frozenset``, ``Decimal``,
    ``operator.itemgetter``, classes with slots...): what jsonpickle decides depends on the
    class only, so its own tests are asked once, on the first instance."""
    if issubclass(cls, tuple) and cls is not tuple:
        return _tuple_subclass_plan(cls, obj)
    if of_a_class_statement(cls) and issubclass(cls, _VALUE_BASES):
        return _slotted_value_plan(cls, obj)
    own_state = getattr(cls, "__getstate__", None) is not getattr(object, "__getstate__", None)
    if issubclass(cls, _NOT_AS_C_TYPES) or hasattr(cls, "__next__") \
            or (own_state and not hasattr(cls, "__setstate__")):
        return _DECLINE  # (an iterator is refused by serialise, not stored)
    if answers_missing_attributes(cls.__mro__[:-1]):  # (serialise stores these its own way)
        return _DECLINE
    has_reduce, has_reduce_ex = _jp_util.has_reduce(obj)
    if own_state:
        # A class made in C with a state of its own, set back by __setstate__ (xml.etree's
        # Element, which markdown's values are full of): jsonpickle stores that state.
        if has_reduce or has_reduce_ex or any(_jp_util.has_method(obj, method) for method in
                                              ("__getnewargs__", "__getnewargs_ex__", "__getinitargs__")):
            return _DECLINE
        return _C_STATE
    if has_reduce_ex:
        return _REDUCE_EX
    if has_reduce:
        return _REDUCE
    if _jp_util.has_method(obj, "__getnewargs__") and not _jp_util.has_method(obj, "__getnewargs_ex__") \
            and not _jp_util.has_method(obj, "__getinitargs__") and not hasattr(obj, "__slots__"):
        return _C_NEWARGS
    return _CLASS_ALONE if stored_as_its_class_alone(obj) else _DECLINE


_VALUE_BASES = (str, int, float)


def stored_as_its_class_alone(obj: Any) -> bool:
    """Does jsonpickle store ``obj``, whose reduction raised ``TypeError`` ("cannot pickle":
    a C object such as xml.etree's ``TreeBuilder``, a hash, a compressor), as its class
    alone, having nothing else to go on (no instance dict, slots, arguments for ``__new__``
    or state of its own, not a container nor an iterator)? Decoded, it is a new object of
    that class. (Declined, the whole value went through jsonpickle again: markdown's
    ``HTMLExtractor`` holds a tree builder, and every call of its 40 methods paid twice.)"""
    kind = type(obj)
    return not hasattr(obj, "__dict__") and not hasattr(obj, "__slots__") \
        and not any(_jp_util.has_method(obj, method) for method in ("__getnewargs__", "__getnewargs_ex__",
                                                                     "__getinitargs__")) \
        and getattr(kind, "__getstate__", None) is getattr(object, "__getstate__", None) \
        and not isinstance(obj, types.ModuleType) and not _jp_util.is_dictionary_subclass(obj) \
        and not _jp_util.is_sequence_subclass(obj) and not _jp_util.is_iterator(obj)


def _slotted_value_plan(cls: type, obj: Any) -> int:
    """A str, int or float of yours keeping its attributes in ``__slots__`` and saying how
    to reduce itself (lark's ``Token``, in every parse tree): jsonpickle stores its
    reduction, as for such classes with an instance dict."""
    below_object = cls.__mro__[:-1]
    builtin = [klass for klass in below_object if not of_a_class_statement(klass)]
    own = [klass for klass in below_object if of_a_class_statement(klass)]
    if len(builtin) != 1 or builtin[0] not in _VALUE_BASES or "<locals>" in _importable_name(cls) \
            or getattr(cls, "__getstate__", None) is not getattr(object, "__getstate__", None) \
            or any(attribute in namespace_of(klass) for klass in own for attribute in _OTHER_PATHS) \
            or not any("__reduce__" in namespace_of(klass) or "__reduce_ex__" in namespace_of(klass)
                       for klass in own):
        return _DECLINE
    return _reduction_plan(obj)


def _tuple_subclass_plan(cls: type, obj: Any) -> int:
    """A named tuple (a tuple subclass, its instances with a ``__dict__`` or not):
    jsonpickle stores its ``__getnewargs__``, its attributes and its items, and never asks
    for a reduction."""
    own = [klass for klass in cls.__mro__[:-1] if of_a_class_statement(klass)]
    # A ``__getattr__`` of its own is never asked here, as jsonpickle would ask it for
    # ``_jsonpickle_exclude`` (sqlparse's token types make a child type for any name asked).
    answering = any("__getattr__" in namespace_of(klass) for klass in own)
    if any(attribute in namespace_of(klass) for klass in own
           for attribute in _OTHER_PATHS + ("__reduce__", "__reduce_ex__") if attribute not in _TUPLE_PATHS) \
            or "<locals>" in _importable_name(cls) or (not answering and any(_jp_util.has_reduce(obj))):
        return _DECLINE
    return _TUPLE


_TUPLE_PATHS = ("__getnewargs__", "__getattr__")  # (a named tuple's own, and one not asked)


def dict_answering_missing_names(cls: type) -> bool:
    """A dict of yours answering missing attributes with a ``__getattr__`` (a ``Munch``, a
    ``Box``) and pickled as a plain dict subclass: stored as any dict of yours is, items
    then instance dict, by both encoders, never asked for ``_jsonpickle_exclude`` or
    ``default_factory`` as jsonpickle asks (a ``Box`` with default boxes keeps an item for
    each name asked)."""
    below_object = cls.__mro__[:-1]
    own = [klass for klass in below_object if of_a_class_statement(klass)]
    return [klass for klass in below_object if not of_a_class_statement(klass)] == [dict] \
        and any("__getattr__" in namespace_of(klass) for klass in own) \
        and not any(attribute in namespace_of(klass) for klass in own
                    for attribute in _OTHER_PATHS + ("__reduce__", "__reduce_ex__", "default_factory")
                    if attribute != "__getattr__") \
        and not is_standard_library(cls.__module__) and not sets_items_its_own_way(cls)


def class_found_by_name(cls: type) -> bool:
    """Does a class of a class statement of yours (outside the standard library) have its
    module and qualified name find it, or at least no other class? Stored by that name, a
    class made at run time (attrs' ``_AndValidatorAttributes``) is found by no decoder, and
    one a class decorator replaces (attrs' ``slots=True`` makes another class), given to a
    function while it is being decorated, would replay as the class that replaced it. (A
    name a test patched for the moment, finding a mock, is the decoding check's to tell:
    a patched global, not a refusal.) Read from the namespaces, no module ``__getattr__``
    asked."""
    if not of_a_class_statement(cls) or is_standard_library(cls.__module__):
        return True
    found: Any = sys.modules.get(cls.__module__)
    for part in cls.__qualname__.split("."):
        if type(found) is types.ModuleType:
            found = found.__dict__.get(part)
        elif isinstance(found, type):
            found = namespace_of(found).get(part)
        elif found is not None:
            return True  # (a mock of the module or of an outer class: see above)
    return found is cls or (found is not None and not isinstance(found, type))


def unfound_class_reason(cls: type) -> str:
    """Why a class :func:`class_found_by_name` says no of is refused."""
    return (f"class {_importable_name(cls)} is not what its name finds (made at run time, "
            "or replaced since: a class decorator making another)")


def sets_items_its_own_way(kind: type) -> bool:
    """A dict subclass of the user's with its own ``__setitem__`` (prettytable's
    ``ObservableDict`` calls ``self.callback``; tomlkit's ``OutOfOrderTableProxy`` writes
    through to its tables): jsonpickle's decoder would call it for each item before the
    attributes it reads are back. Its default reduction (what ``pickle`` stores) sets the
    attributes first: the tool stores that."""
    return issubclass(kind, dict) and any(
        "__setitem__" in namespace_of(klass) for klass in kind.__mro__
        if klass is not dict and klass is not object and not is_standard_library(klass.__module__))


def container_reduction(obj: Any) -> Optional[list]:
    """The parts of a dict or list subclass's own reduction, as the tool stores them in
    jsonpickle's ``py/reduce`` form (serialise._container_reducing_itself), or ``None``."""
    reduced = obj.__reduce_ex__(2)
    if not isinstance(reduced, tuple) or not 2 <= len(reduced) <= 6:
        return None
    parts = list(reduced[:5])
    if getattr(parts[0], "__name__", "") == "__newobj__":
        parts[0] = "py/newobj"  # what jsonpickle's decoder looks for
    for index in (3, 4):  # items and key-value pairs come as iterators
        if index < len(parts) and parts[index] is not None:
            parts[index] = tuple(parts[index])
    while len(parts) > 2 and parts[-1] is None:
        parts.pop()
    return parts


def _sorting_keys() -> bool:
    # jsonpickle then sorts every instance dict in place first (Pickler._sort_attrs).
    options = getattr(_jp_backend.json, "_encoder_options", {})
    return any(kwargs.get("sort_keys", False) for _, kwargs in options.values())


def _ordinary(kind: type) -> bool:
    """Are all objects of ``kind`` none of the kinds ``flatten`` tells apart before an
    instance, as one of them was? What those tests ask of an object, its class answers,
    unless a class of it defines ``__class__`` (a proxy, which ``isinstance`` believes) or
    it is a typing construct (told by the object)."""
    return kind not in _HINT_TYPES and kind.__module__ != "typing" and not issubclass(kind, type) \
        and all("__class__" not in namespace_of(klass) for klass in kind.__mro__[:-1])


class Flattener:
    """One value's flattening: jsonpickle's ``Pickler(keys=True, make_refs=True)`` state."""

    def __init__(self, max_depth: int, refuse_class: Callable[[Any], None],
                 module_reference: Callable[[Any], Any], global_loader: str,
                 flatten_function: Callable[[Any], Any], refusal: type,
                 package_paths: Any = None, reducers: Optional[list] = None) -> None:
        self.max_depth = min(max_depth, 400) - 1  # (jsonpickle stores repr() at max_depth)
        # The functions the decoder will call to rebuild objects (a reduction's first
        # part), for the caller to look at (see runtime._rebuilt_through_grown_state).
        self.reducers = reducers
        # (package_paths.PackagePaths, refreshed, when your packages have paths to find)
        self.package_paths = package_paths if package_paths is not None and package_paths.prefixes else None
        self.path_lead = package_paths.lead if self.package_paths is not None else ""
        # Kinds stored as they are, told without a call of flatten (most items of a value):
        # a text too, unless it may name a path inside your packages.
        self.leaves = _PRIMITIVES if self.package_paths is None else _PRIMITIVES - {str}
        self.refuse_class = refuse_class
        self.module_reference = module_reference
        self.global_loader = global_loader
        self.flatten_function = flatten_function
        self.refusal = refusal  # serialise.Unserialisable
        self.ids: dict = {}
        self.depth = -1
        self.kept: list = []  # every object flattened stays alive: ids are never reused

    def flatten(self, value: Any) -> Any:
        kind = type(value)
        if kind in _PRIMITIVES:
            if kind is str and self.package_paths is not None and value.startswith(self.path_lead) \
                    and self.package_paths.holds(value):
                return self._package_path(value)
            return value
        if kind is bytes:
            return {"py/b64": base64.b64encode(value).decode("ascii")}
        self.depth += 1
        try:
            if self.depth >= self.max_depth:
                raise Declined("nested deeply")
            self.kept.append(value)
            if kind is list or kind is dict:
                identity = _identity(value)  # (once: every id() is an audit event, a hook's call)
                index = self.ids.get(identity)
                if index is not None:
                    return {"py/id": index}
                self.ids[identity] = len(self.ids)
                if kind is list:
                    return self._flat_items(value)
                return self._items(value, {})
            if kind in _ordinary_classes:  # (most objects of a value: none of the kinds below)
                return self._instance(value, kind)
            if kind is tuple:
                return {"py/tuple": self._flat_items(value)}
            if kind is set:
                return {"py/set": self._flat_items(value)}
            if kind is bytearray:  # (h11's receive buffer: as jsonpickle stores it, a ``py/reduce``)
                index = self.ids.get(_identity(value))
                if index is not None:
                    return {"py/id": index}
                self.ids[_identity(value)] = len(self.ids)
                return bytearray_form(value)
            # (before ``type``: ``list[int]`` passes for one on 3.9 and 3.10; tested inline
            # first, as it is asked of every object)
            if (kind in _HINT_TYPES or kind.__module__ == "typing") and is_type_hint(value):
                index = self.ids.get(_identity(value))  # (a ``py/reduce``: an object to the decoder)
                if index is not None:
                    return {"py/id": index}
                self.ids[_identity(value)] = len(self.ids)
                form = type_hint_form(value, self.flatten, self.global_loader, self.refuse_class)
                if form is None:
                    raise Declined(repr(value))
                return form
            if isinstance(value, type):
                self.refuse_class(value)
                name = _importable_name(value)
                if "<locals>" in name:
                    raise Declined(name)
                if not class_found_by_name(value):
                    raise self.refusal(unfound_class_reason(value))
                return {"py/type": name}
            if kind is types.MethodType:
                index = self.ids.get(_identity(value))  # (a ``py/reduce``: an object to the decoder)
                if index is not None:
                    return {"py/id": index}
                name = bound_method_name(value)
                if name is None:
                    raise Declined("method")
                self.ids[_identity(value)] = len(self.ids)
                return bound_method_form(value, name, self.flatten)
            if isinstance(value, _FUNCTION_LIKE):
                if kind is types.FunctionType or _jp_util.is_module_function(value):
                    index = self.ids.get(_identity(value))
                    if index is not None:
                        return {"py/id": index}
                    form = self.flatten_function(value)
                    if "py/reduce" in form:
                        # (stored by value, or held by a decorator's object: an object to the
                        # decoder, numbered as one; a ``py/function`` is not)
                        self.ids[_identity(value)] = len(self.ids)
                    return form
                raise Declined("function")  # (jsonpickle stores None)
            if kind is CACHED_FUNCTION:
                index = self.ids.get(_identity(value))  # (a ``py/reduce``: an object to the decoder)
                if index is not None:
                    return {"py/id": index}
                form = cached_function_form(value, self.global_loader, self.refuse_class)
                if form is None:
                    raise Declined("cached function")
                self.ids[_identity(value)] = len(self.ids)
                return form
            if _ordinary(kind):
                if len(_ordinary_classes) >= _PLANS_KEPT:
                    _ordinary_classes.clear()  # (it holds the classes: a program making classes would grow it)
                _ordinary_classes.add(kind)
            return self._instance(value, kind)
        finally:
            self.depth -= 1

    def _package_path(self, text: str) -> dict:
        """A text naming a path inside one of your packages: relative to it (see
        package_paths); an object to the decoder (a ``py/reduce``), so numbered as one."""
        index = self.ids.get(_identity(text))
        if index is not None:
            return {"py/id": index}
        self.ids[_identity(text)] = len(self.ids)
        self.kept.append(text)
        return package_path_form(self.package_paths, text)

    def _instance(self, obj: Any, kind: type) -> Any:
        identity = _identity(obj)
        index = self.ids.get(identity)
        if index is not None:
            return {"py/id": index}
        self.ids[identity] = len(self.ids)
        try:
            return self._new_instance(obj, kind)
        except self.refusal as error:  # (who held what was refused, innermost first)
            error.holder_objects += (obj,)
            raise

    def _new_instance(self, obj: Any, kind: type) -> Any:
        plan = _plans.get(kind)
        if plan is None:  # (a class refused is never planned: asked again at its next object)
            self.refuse_class(kind)
        reference = self.module_reference(obj)
        if reference is not None:
            return {"py/reduce": [{"py/function": self.global_loader}, {"py/tuple": list(reference)}]}
        if kind is re.Pattern:  # (serialise keeps the flags, which jsonpickle drops)
            return {"py/reduce": [{"py/function": "re.compile"}, {"py/tuple": [self.flatten(obj.pattern), obj.flags]}]}
        if self.package_paths is not None and kind in PATH_TYPES:
            text = str(obj)
            if self.package_paths.holds(text):
                return package_path_form(self.package_paths, text, kind)
        if plan is None:
            if len(_plans) >= _PLANS_KEPT:
                _plans.clear()  # (it holds the classes: a program making classes would grow it)
            plan = _plans[kind] = _plan_for(kind, obj)
        how, name = plan
        if how == _PLAIN or how == _NEWARGS or how == _SEQ:  # (most objects: asked first)
            return self._with_attributes(obj, how, name)
        if how == _DECLINE:
            raise Declined(name)
        if how == _HANDLED:
            return self._handled(obj, kind, name)
        if how == _CLASS_ALONE:
            return {"py/object": name}
        if how == _DICT:
            return self._dict_object(obj, name)
        if how == _ANSWERING:
            attributes = instance_dict(obj)
            if attributes is None:  # (slots only: serialise says why it is refused)
                raise Declined(name)
            return {"py/object": name, "py/state": self.flatten(dict(attributes))}
        if how == _C_NEWARGS:
            return {"py/object": name, "py/newargs": self.flatten(obj.__getnewargs__())}
        if how == _OWN_STATE and not getattr(obj, "__dict__", {}).keys().isdisjoint(_OTHER_WAYS_IN_ITS_DICT):
            raise Declined(name)
        if how == _C_STATE or how == _OWN_STATE:
            state = obj.__getstate__()
            if not state:  # (jsonpickle goes on another way)
                raise Declined(name)
            return {"py/object": name, "py/state": self.flatten(state)}
        if how == _TUPLE:  # (the items twice: the second time mostly as references)
            data = {"py/object": name, "py/newargs": self.flatten(obj.__getnewargs__())}
            attributes = instance_dict(obj)
            if attributes:
                # jsonpickle's decoder drops them: what ``__new__`` sets from the items
                # comes back (rfc3986's ``encoding``), the rest is found missing by the
                # decoding check.
                if "default_factory" in attributes or not all(type(key) is str for key in attributes) \
                        or not attributes.keys().isdisjoint(_OTHER_WAYS_IN_ITS_DICT):
                    raise Declined(name)
                data = self._items(attributes, data)
            data["py/seq"] = self._flat_items(obj)
            return data
        if how == _EXCEPTION:
            if obj.__cause__ is not None:  # (serialise's pickler keeps it in the state)
                raise Declined(name)
            how = _reduction_plan(obj)
        attributes = getattr(obj, "__dict__", {})  # (none in a C type's instances)
        if not attributes.keys().isdisjoint(_OTHER_WAYS_IN_ITS_DICT):
            raise Declined(name)
        if how == _SLOTS_AND_DICT:
            slots = slot_items(obj)
            if slots:  # (as serialise's pickler stores them; else as any instance: its dict)
                return {"py/object": name,
                        "py/state": {"py/tuple": [self.flatten(dict(attributes)), self.flatten(slots)]}}
            return self._with_attributes(obj, _PLAIN, name)
        if how == _SLOTTED:  # (set slots, as attributes: a lambda or method held in one left out)
            return self._items(slot_items(obj), {"py/object": name})
        if how == _CONTAINER:
            return self._container(obj, name)
        try:
            reduced = obj.__reduce_ex__(2) if how == _REDUCE_EX else obj.__reduce__()
        except TypeError:
            if stored_as_its_class_alone(obj):
                return {"py/object": name}
            raise Declined(name) from None  # jsonpickle goes on another way
        if not reduced or isinstance(reduced, str) or len(reduced) > 5:
            raise Declined(name)
        parts = list(reduced) + [None] * (5 - len(reduced))
        if getattr(parts[0], "__name__", "") == "__newobj__":
            parts[0] = "py/newobj"
        elif self.reducers is not None and type(parts[0]) is types.FunctionType:
            self.reducers.append(parts[0])
        if parts[3]:
            parts[3] = tuple(parts[3])
        if parts[4]:
            parts[4] = tuple(parts[4])
        flat = self._flat_items(parts)
        while len(flat) > 2 and flat[-1] is None:
            flat.pop()
        return {"py/reduce": flat}

    def _with_attributes(self, obj: Any, how: int, name: str) -> dict:
        """An object stored by its instance dict, attribute by attribute (after its
        ``__getnewargs__``, before a list's items: ``how``)."""
        attributes = getattr(obj, "__dict__", {})  # (none in a C type's instances)
        # (jsonpickle's decoder reads ``default_factory`` as a defaultdict's, and sets
        # attributes named by strings only)
        if not attributes.keys().isdisjoint(_OTHER_WAYS_IN_ITS_DICT) or "default_factory" in attributes \
                or not all(type(key) is str for key in attributes):
            raise Declined(name)
        data = {"py/object": name}
        if how == _NEWARGS:
            data["py/newargs"] = self.flatten(obj.__getnewargs__())
        data = self._items(attributes, data)
        if how == _SEQ:
            data["py/seq"] = self._flat_items(list.__iter__(obj))
        return data

    def _handled(self, obj: Any, kind: type, name: str) -> dict:
        """As jsonpickle's own handler for the class stores it (see forms.own_handler)."""
        handler = forms.own_handler(kind, name)  # (another one may be registered since)
        if handler == "UUIDHandler":
            return {"py/object": name, "hex": obj.hex}
        if handler != "DatetimeHandler":
            raise Declined(name)
        # The bytes of its reduction in base 64, then its other arguments (a time zone).
        reduced_class, arguments = obj.__reduce__()
        stored = [base64.b64encode(arguments[0]).decode("ascii")] + [self.flatten(item) for item in arguments[1:]]
        return {"py/object": name, "__reduce__": [self.flatten(reduced_class), stored]}  # (in the handler's order)

    def _container(self, obj: Any, name: str) -> dict:
        parts = container_reduction(obj)
        if parts is None:
            raise Declined(name)
        return {"py/reduce": [self.flatten(part) for part in parts]}

    def _flat_items(self, items: Any) -> list:
        """``[self.flatten(item) for item in items]``, a leaf taken as it is."""
        leaves, lead, flatten = self.leaves, self.path_lead, self.flatten
        return [item if type(item) in leaves or (type(item) is str and not item.startswith(lead)) else flatten(item)
                for item in items]

    def _dict_object(self, obj: dict, name: str) -> dict:
        """A dict of yours as jsonpickle stores it (``Pickler._flatten_dict_obj``): what its
        ``items()`` gives, in the two passes of a dict, then its instance dict (an object
        to number) unless it compares equal to it. Its ``items()`` and ``!=`` are its own
        (a mapping's mixin reads its ``__iter__`` and ``__getitem__``), asked as jsonpickle
        asks them, ``items()`` once instead of once a pass. (One setting its items its own
        way is stored by its reduction: see ``sets_items_its_own_way``.)"""
        attributes = instance_dict(obj)
        if attributes and not attributes.keys().isdisjoint(_OTHER_WAYS_IN_ITS_DICT | {"default_factory"}):
            raise Declined(name)
        data = self._items(dict(obj.items()), {"py/object": name})
        if attributes is not None and obj != attributes:
            index = self.ids.get(_identity(attributes))
            if index is not None:
                data["__dict__"] = {"py/id": index}
            else:
                self.ids[_identity(attributes)] = len(self.ids)
                data["__dict__"] = self._items(attributes, {})
        return data

    def _items(self, mapping: dict, data: dict) -> dict:
        """jsonpickle's two passes over a dict: string keys, then the others, escaped."""
        flatten, leaves, lead = self.flatten, self.leaves, self.path_lead
        others = False
        for key, item in mapping.items():
            kind = type(item)
            if kind in _FUNCTION_TYPES and not _jp_util.is_module_function(item):
                continue  # jsonpickle leaves out a lambda or a method held in a dict
            if isinstance(key, str):
                if key in _RESERVED or key.startswith(_JSON_KEY):
                    raise Declined("key")
                data[key] = item if kind in leaves or (kind is str and not item.startswith(lead)) else flatten(item)
            else:
                others = True
        if others:
            for key, item in mapping.items():
                kind = type(item)
                if not isinstance(key, str) and not (kind in _FUNCTION_TYPES and not _jp_util.is_module_function(item)):
                    # (an int's JSON text is its repr, as the codec writes it: a graph's
                    # int-keyed dicts took a codec call per key, 40% of their encode)
                    escaped = _JSON_KEY + (int.__repr__(key) if type(key) is int else
                                           _jp_backend.json.encode(flatten(key), indent=None, separators=None))
                    data[escaped] = item if kind in leaves or (kind is str and not item.startswith(lead)) \
                        else flatten(item)
        return data


PATH_TYPES = frozenset({pathlib.PurePath, pathlib.PurePosixPath, pathlib.PureWindowsPath, pathlib.Path,
                         pathlib.PosixPath, pathlib.WindowsPath})


def package_path_form(package_paths: Any, text: str, kind: Any = None) -> dict:
    """The stored form of a path inside one of your packages (``kind``: its ``pathlib``
    class, for a path object)."""
    package, relative = package_paths.parts(text)
    arguments: list = [package, relative]
    if kind is not None:
        arguments.append({"py/type": _importable_name(kind)})
    return {"py/reduce": [{"py/function": PACKAGE_PATH_LOADER}, {"py/tuple": arguments}]}


def flatten(value: Any, max_depth: int, refuse_class: Callable[[Any], None],
            module_reference: Callable[[Any], Any], global_loader: str,
            flatten_function: Callable[[Any], Any], refusal: type, package_paths: Any = None,
            reducers: Optional[list] = None) -> Any:
    """``value`` as jsonpickle would flatten it (see the module); :class:`Declined` if not
    one of the shapes handled here. ``refusal`` (what the callbacks raise) comes out with
    the classes and objects holding what was refused, as serialise's pickler gives it;
    other exceptions are the value's own (a ``__reduce__`` failing): the caller asks
    jsonpickle, which says the same in its words."""
    if not ENABLED or _sorting_keys():
        raise Declined("jsonpickle options")
    return Flattener(max_depth, refuse_class, module_reference, global_loader, flatten_function,
                     refusal, package_paths, reducers).flatten(value)
