"""Equality for replay: ``==`` first, then a structural comparison with a readable diff.

Recorded values come back as new objects, so classes without ``__eq__`` (identity
equality) are compared by type and state; NaN equals NaN; tuples and lists differ;
functions compare by code. Every difference is reported with its path
(``result[2].balance: 10 != 12``).
"""
from __future__ import annotations

import datetime
import functools
import math
import re
import types
import weakref
from decimal import Decimal
from typing import Any, Callable, Iterator, Optional

from cleanup_trace._identity import identity as _identity
from cleanup_trace.filters import is_standard_library

_MAX_DEPTH = 200
# Where the default repr of an object puts its memory address: "<object object at 0x7f..>".
# A default repr's address, or one a repr of its own shows (``hex(id(self))``: cerberus'
# "ValidationError @ 0x7f72c9b0dc10"): more hex digits than 32 bits hold.
_OBJECT_ADDRESS = re.compile(r"(?<= at )0x[0-9a-fA-F]+|\b0x[0-9a-f]{9,16}\b")


def without_addresses(text: str) -> str:
    """``text`` with every object address made the same.

    An error message naming an object by its default repr ("expected a callable, not:
    <object object at 0x7f3a...>") carries an address that differs in every run.
    """
    return _OBJECT_ADDRESS.sub("0x?", text) if "0x" in text else text


def same_text(actual: str, expected: str) -> bool:
    """Equal, or equal once the object addresses of default reprs are made alike."""
    return actual == expected or without_addresses(actual) == without_addresses(expected)


# A class's own namespace, read through ``type``'s descriptor: ``vars(klass)`` asks the
# metaclass, whose ``__dict__`` may be a property of a user's (pure_eval's tests check
# that looking at a class never runs it).
namespace_of: Callable[[type], Any] = type.__dict__["__dict__"].__get__

# class -> the interpreter's descriptor of its objects' ``__dict__``, or None (none, or a
# user's property named ``__dict__``: a metaclass's, when the object is a class)
_DICT_DESCRIPTORS: dict = {}
_INTERPRETERS_DESCRIPTORS = (types.GetSetDescriptorType, types.MemberDescriptorType)


def instance_dict(value: Any) -> Optional[dict]:
    """``value``'s instance dict as pickling reads it, found without running a user's
    code (no ``__getattr__``, no property named ``__dict__``), or ``None``."""
    kind = type(value)
    try:
        descriptor = _DICT_DESCRIPTORS[kind]
    except KeyError:
        descriptor = None
        for klass in kind.__mro__:
            found = namespace_of(klass).get("__dict__")
            if found is not None:
                descriptor = found if type(found) in _INTERPRETERS_DESCRIPTORS else None
                break
        if len(_DICT_DESCRIPTORS) >= 4096:
            _DICT_DESCRIPTORS.clear()
        _DICT_DESCRIPTORS[kind] = descriptor
    if descriptor is None:
        return None
    try:
        state = descriptor.__get__(value, kind)
    except Exception:
        return None
    return state if type(state) is dict else None


_SLOTS: dict = {}  # class -> ((name, descriptor), ...); bounded (it holds the classes)


def slot_descriptors(kind: type) -> tuple:
    """The slots ``kind``'s instances may have, by attribute name (private names
    mangled), with their descriptors; made once per class."""
    slots = _SLOTS.get(kind)
    if slots is None:
        found = []
        for klass in kind.__mro__:
            declared = namespace_of(klass).get("__slots__", ())
            for name in (declared,) if isinstance(declared, str) else declared:
                if name.startswith("__") and not name.endswith("__"):
                    name = f"_{klass.__name__.lstrip('_')}{name}"  # as Python mangles it
                descriptor = namespace_of(klass).get(name)
                if type(descriptor) is types.MemberDescriptorType:
                    found.append((name, descriptor))
        if len(_SLOTS) >= 4096:
            _SLOTS.clear()
        slots = _SLOTS[kind] = tuple(found)
    return slots


def slot_items(value: Any) -> dict[str, Any]:
    """The set ``__slots__`` of an object by attribute name, read through the slot
    descriptors themselves: never a user's ``__getattr__`` or property."""
    kind = type(value)
    items = {}
    for name, descriptor in slot_descriptors(kind):
        try:
            items[name] = descriptor.__get__(value, kind)
        except AttributeError:
            pass  # not set
    return items


class Difference(str):
    """One difference, with the objects whose state holds it (innermost first): storing
    blames the class that keeps failing, not the value handed to it (``holders``), and
    an object given to many functions, which fails each time."""

    holder_objects: tuple = ()
    # The class of the value found different (not what holds it): the one to check
    # again when no object holds the difference (a value given as is).
    differing_type: Optional[type] = None
    # The value found different when it is a class (stored by its name, which a test may
    # have replaced for the moment: see runtime._class_replaced_by_a_patch).
    differing_class: Optional[type] = None

    @property
    def holders(self) -> tuple:
        return tuple(map(type, self.holder_objects))


def _about(expected: Any, text: str) -> Difference:
    """A difference found between ``expected`` and what came back in its place."""
    found = Difference(text)
    found.differing_type = type(expected)
    if issubclass(found.differing_type, type):
        found.differing_class = expected
    return found


def _inside(owner: Any, problems: Iterator[str]) -> Iterator[str]:
    """The problems found in ``owner``'s state, naming its class among their holders."""
    for problem in problems:
        found = Difference(problem)
        found.holder_objects = getattr(problem, "holder_objects", ()) + (owner,)
        found.differing_type = getattr(problem, "differing_type", None)
        found.differing_class = getattr(problem, "differing_class", None)
        yield found


def has_own_eq(value: Any) -> bool:
    """Does ``value``'s class define ``==`` (else it compares by identity)?"""
    return type(value).__eq__ is not object.__eq__


def object_state(value: Any) -> dict[str, Any] | None:
    """Instance dict and set slots, read as pickling reads them (no user code runs)."""
    attributes = instance_dict(value)
    slots = slot_items(value)
    if type(attributes) is not dict and not slots:
        return None
    return {**(attributes if type(attributes) is dict else {}), **slots}


_CACHED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # class -> names of its cached properties


def _cached_property_names(kind: type) -> frozenset:
    names = _CACHED.get(kind)
    if names is None:
        names = frozenset(name for klass in kind.__mro__ for name, attribute in namespace_of(klass).items()
                          if isinstance(attribute, functools.cached_property))
        try:
            _CACHED[kind] = names
        except TypeError:  # (a class that takes no weak reference: looked at again next time)
            pass
    return names


_HEAP_TYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement (or type())


def _state_is_everything(kind: type) -> bool:
    """Is an object of ``kind`` all in its instance dict and slots? Not when a class of
    its MRO is the interpreter's or compiled (an ``int`` subclass keeps its number
    elsewhere), ``object`` aside."""
    return all(klass is object or klass.__flags__ & _HEAP_TYPE for klass in kind.__mro__)


def _states(actual: Any, expected: Any) -> tuple:
    """Both objects' states (:func:`object_state`), without a ``functools.cached_property``
    value computed on one side only: a cache, computed again from the rest of the state
    when read (more-itertools' ``numeric_range._len``; a stored copy never has it)."""
    left, right = object_state(actual), object_state(expected)
    if left is None or right is None or left.keys() == right.keys():
        return left, right  # (the same attributes: nothing computed on one side only)
    names = _cached_property_names(type(expected))
    uneven = [name for name in names if (name in left) != (name in right)] if names else ()
    if uneven:
        left = {key: value for key, value in left.items() if key not in uneven}
        right = {key: value for key, value in right.items() if key not in uneven}
    return left, right


def _safe_repr(value: Any, neutral: bool = False, limit: int = 120) -> str:
    """``repr(value)`` for a message; ``neutral``: without running any ``__repr__`` but the
    builtins' (storing a value looks at the user's live objects, and a ``__repr__`` may
    change one: pyparsing caches an element's name the first time it is printed)."""
    try:
        text = _neutral_repr(value, limit) if neutral else repr(value)
    except Exception as error:
        text = f"<{type(value).__name__} (repr failed: {error})>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


_NEUTRAL_ATOMS = (type(None), bool, int, float, complex, str, bytes)


def _neutral_repr(value: Any, budget: int, depth: int = 0) -> str:
    kind = type(value)
    if kind in _NEUTRAL_ATOMS:
        return repr(value)
    if depth < 3 and kind in (list, tuple, set, frozenset, dict):
        parts, used = [], 0
        items = value.items() if kind is dict else value
        for item in items:
            if used > budget:
                parts.append("...")
                break
            part = (f"{_neutral_repr(item[0], budget, depth + 1)}: {_neutral_repr(item[1], budget, depth + 1)}"
                    if kind is dict else _neutral_repr(item, budget, depth + 1))
            parts.append(part)
            used += len(part) + 2
        inner = ", ".join(parts)
        if kind is list:
            return f"[{inner}]"
        if kind is tuple:
            return f"({inner}{',' if len(parts) == 1 else ''})"
        if kind is dict:
            return "{" + inner + "}"
        return f"{kind.__name__}({{{inner}}})" if parts else f"{kind.__name__}()"
    return f"<{kind.__module__}.{kind.__qualname__} object>"


def _subclass_state(actual: Any, expected: Any, path: str, seen: set, depth: int,
                    strict: bool = False) -> Iterator[str]:
    """A list/dict/tuple subclass may carry state beside its items (attributes, slots)."""
    if type(expected) in (list, tuple, dict):
        return
    yield from _state_differences(actual, expected, path, seen, depth, strict, show_values=False)


# Equal items of these exact types are the same whatever the walk would look at: the
# loops below pass over them without a generator, a path text and a ``seen`` entry each
# (the walk's cost was in its leaves: a tenth of recording tomlkit's suite was the
# decoding check's comparison). Subclasses (tomlkit's ``String``) are walked as before.
_PLAIN_LEAVES = frozenset({str, int, float, bool, bytes, type(None)})


def _walk(actual: Any, expected: Any, path: str, seen: set, depth: int, strict: bool = False) -> Iterator[str]:
    if actual is expected:
        return
    if isinstance(actual, float) and isinstance(expected, float) and math.isnan(actual) and math.isnan(expected):
        return
    if type(actual) is Decimal and type(expected) is Decimal and actual.is_nan() and expected.is_nan() \
            and actual.is_snan() == expected.is_snan():
        return  # (NaN is unequal to itself here too)
    key = (_identity(actual), _identity(expected))
    if key in seen or depth > _MAX_DEPTH:
        return
    seen.add(key)
    where = path or "value"
    numbers = (int, float, complex)
    if type(actual) is not type(expected) and not (
        isinstance(actual, numbers) and isinstance(expected, numbers)
        and not isinstance(actual, bool) and not isinstance(expected, bool)
    ):
        yield _about(expected, f"{where}: type {type(actual).__module__}.{type(actual).__qualname__} != "
                               f"{type(expected).__module__}.{type(expected).__qualname__} "
                               f"({_safe_repr(actual, strict)} != {_safe_repr(expected, strict)})")
        return
    if isinstance(expected, (list, tuple)):
        # (the builtin's own length and items: a subclass's __iter__ or __len__ is the
        # user's code, which may change the object, see the dict branch)
        base = list if isinstance(expected, list) else tuple
        length, expected_length = base.__len__(actual), base.__len__(expected)
        if length != expected_length:
            yield _about(expected, f"{where}: length {length} != {expected_length} "
                                   f"({_safe_repr(actual, strict)} != {_safe_repr(expected, strict)})")
            return
        for index, (left, right) in enumerate(zip(base.__iter__(actual), base.__iter__(expected))):
            if left is right or (type(left) is type(right) and type(left) in _PLAIN_LEAVES and left == right):
                continue  # (see _PLAIN_LEAVES)
            yield from _walk(left, right, f"{path}[{index}]", seen, depth + 1, strict)
        yield from _subclass_state(actual, expected, path, seen, depth, strict)
        return
    if isinstance(expected, dict) and type(expected).__eq__ is dict.__eq__:
        # (the dict's own keys: altgraph's priority dictionary iterates destructively, its
        # ``__iter__`` taking out each item it gives, and storing ``Q`` as an argument
        # emptied it: the recorded run's shortest path failed)
        missing = [k for k in dict.keys(expected) if not dict.__contains__(actual, k)]
        extra = [k for k in dict.keys(actual) if not dict.__contains__(expected, k)]
        if missing or extra:
            yield _about(expected, f"{where}: keys differ (missing {_safe_repr(missing, strict)}, "
                                   f"unexpected {_safe_repr(extra, strict)})")
            return
        for name in dict.keys(expected):  # dict's own look-up: a subclass's __getitem__ may change it
            left, right = dict.__getitem__(actual, name), dict.__getitem__(expected, name)
            if left is right or (type(left) is type(right) and type(left) in _PLAIN_LEAVES and left == right):
                continue
            yield from _walk(left, right, f"{path}[{_safe_repr(name, strict)}]", seen, depth + 1, strict)
        yield from _subclass_state(actual, expected, path, seen, depth, strict)
        return
    if isinstance(expected, (types.FunctionType, types.MethodType)):
        left = getattr(actual, "__code__", None)
        right = getattr(expected, "__code__", None)
        if left is None or right is None or left.co_code != right.co_code or \
                actual.__qualname__ != expected.__qualname__:
            yield _about(expected, f"{where}: function {_safe_repr(actual, strict)} != "
                                   f"{_safe_repr(expected, strict)}")
        elif isinstance(expected, types.MethodType):  # (and its object: the same method of another)
            yield from _walk(actual.__self__, expected.__self__, f"{path}.__self__", seen, depth + 1, strict)
        return
    if isinstance(expected, BaseException):
        # (``args`` may be a slot of the class, unset on an exception entering __init__)
        if getattr(actual, "args", None) != getattr(expected, "args", None):
            yield _about(expected, f"{where}: {_safe_repr(actual, strict)} != {_safe_repr(expected, strict)}")
        elif strict:
            # Storing an exception as a value: its attributes too (a ``__reduce__`` that
            # keeps only the arguments drops jinja2's ``translated`` flag, read by __str__),
            # and what it was raised from.
            yield from _state_differences(actual, expected, path, seen, depth, strict)
            yield from _walk(actual.__cause__, expected.__cause__, f"{path}.__cause__", seen, depth + 1, strict)
        return
    if strict and has_own_eq(expected) and not is_standard_library(type(expected).__module__):
        # Storing (does it come back as itself?) compares state, never the user's __eq__:
        # a Mapping's __eq__ reads every item, and an LRU cache's __getitem__ reorders it.
        # The standard library's own ``==`` is trusted: its state holds caches (a
        # ``pathlib`` path's ``_str``, set once printed, is not pickled).
        left_state, right_state = _states(actual, expected)
        if left_state is not None and right_state is not None:
            yield from _inside(expected, _walk(left_state, right_state, f"{path}.__dict__" if path else "__dict__",
                                               seen, depth + 1, strict))
            return
    if has_own_eq(expected):
        try:
            if bool(actual == expected):
                return
            if type(expected) is str and not strict and same_text(actual, expected):
                return  # (a default repr in the text: ``<MemoryStorage object at 0x7f..>``)
            if type(expected) is bytes and type(actual) is bytes and not strict \
                    and same_text(actual.decode("latin-1"), expected.decode("latin-1")):
                return  # (the same, encoded: hpack's ``str(value).encode()`` of any object)
        except Exception as error:
            # A user __eq__ that cannot handle a half-built object (``self`` recorded on
            # entry to ``__init__``): compare state instead, or report why not.
            left_state, right_state = _states(actual, expected)
            if left_state is None or right_state is None:
                yield _about(expected, f"{where}: comparing raised {type(error).__name__}: {error}")
            else:
                yield from _inside(expected, _walk(left_state, right_state, f"{path}.__dict__" if path else "__dict__",
                                                   seen, depth + 1, strict))
            return
        # Containers of NaN or of objects without __eq__ compare unequal with ==
        # although they are equal structurally: look inside before reporting.
        if isinstance(expected, (set, frozenset)):
            yield _about(expected, f"{where}: {_safe_repr(actual, strict)} != {_safe_repr(expected, strict)}")
            return
        left_state, right_state = _states(actual, expected)
        if left_state is None or right_state is None or type(expected).__module__ == "builtins":
            yield _about(expected, f"{where}: {_safe_repr(actual, strict)} != {_safe_repr(expected, strict)}")
            return
        inner = list(_inside(expected, _walk(left_state, right_state, f"{path}.__dict__" if path else "__dict__", seen,
                                             depth + 1, strict)))
        if inner:
            yield from inner
        elif not _state_is_everything(type(expected)):
            yield _about(expected, f"{where}: {_safe_repr(actual, strict)} != {_safe_repr(expected, strict)}")
        # (else the same state, all there is, and ``==`` says no: an ``__eq__`` that is
        # identity for such operands, parso's leaves (``self is other`` unless compared
        # with a string): a decoded copy is never the object itself)
        return
    # (same type, no state: ``object()`` and friends are interchangeable)
    yield from _state_differences(actual, expected, path, seen, depth, strict)


def _state_differences(actual: Any, expected: Any, path: str, seen: set, depth: int, strict: bool,
                       show_values: bool = True) -> Iterator[str]:
    """Attribute by attribute (instance dict and slots), naming ``expected``'s class as
    the holder. (A list or dict subclass's attributes are not shown: their repr is the
    user's code.)"""
    left, right = _states(actual, expected)
    left, right = left or {}, right or {}
    yield from _inside(expected, _attribute_differences(left, right, path, seen, depth, strict, show_values))


def _attribute_differences(left: dict, right: dict, path: str, seen: set, depth: int, strict: bool,
                           show_values: bool) -> Iterator[str]:
    for name in sorted(set(left) | set(right)):
        if name in left and name in right:
            mine, theirs = left[name], right[name]
            if mine is theirs or (type(mine) is type(theirs) and type(mine) in _PLAIN_LEAVES and mine == theirs):
                continue
        sub = f"{path}.{name}" if path else name
        if name not in left:
            yield f"{sub}: missing (expected {_safe_repr(right[name], strict)})" if show_values else f"{sub}: missing"
        elif name not in right:
            yield f"{sub}: unexpected attribute ({_safe_repr(left[name], strict)})" if show_values \
                else f"{sub}: unexpected attribute"
        else:
            yield from _walk(left[name], right[name], sub, seen, depth + 1, strict)


# Standard classes whose ``==`` compares values and runs no code of yours (a datetime
# with a ``tzinfo`` asks it for its offset: not among them).
_EQUAL_BY_VALUE = frozenset({complex, Decimal, range, bytearray, datetime.date, datetime.timedelta,
                             datetime.timezone, re.Pattern})
_NAIVE_BY_VALUE = frozenset({datetime.datetime, datetime.time})


def _alike(actual: Any, expected: Any, seen: set, depth: int) -> bool:
    """``True`` only when :func:`_walk` as storing runs it (``strict``) would find no
    difference, told without its generators and the path text it makes for every value
    it enters (the decoding check's comparison of each value stored: half of that
    check). ``False`` when anything differs or is not judged here: the walk then looks,
    and words what differs. Mirrors the walk's branches and depths; compares no value
    with a user's ``__eq__`` (only the standard library's comparisons of values; a
    dict's keys are looked up as the walk looks them up)."""
    if actual is expected:
        return True
    kind = type(expected)
    if type(actual) is not kind:
        return False
    key = (_identity(actual), _identity(expected))
    if key in seen or depth > _MAX_DEPTH:
        return True
    seen.add(key)
    if kind is list or kind is tuple:
        return kind.__len__(actual) == kind.__len__(expected) and _alike_pairs(zip(actual, expected), seen, depth)
    if kind is dict:
        return _alike_dicts(actual, expected, seen, depth)
    if issubclass(kind, (list, tuple)):
        base = list if issubclass(kind, list) else tuple
        return base.__len__(actual) == base.__len__(expected) \
            and _alike_pairs(zip(base.__iter__(actual), base.__iter__(expected)), seen, depth) \
            and _alike_states(actual, expected, seen, depth)
    if issubclass(kind, dict) and kind.__eq__ is dict.__eq__:
        return _alike_dicts(actual, expected, seen, depth) and _alike_states(actual, expected, seen, depth)
    if issubclass(kind, (types.FunctionType, types.MethodType, BaseException)):
        return False
    own_eq = has_own_eq(expected)
    if own_eq and not is_standard_library(kind.__module__):
        left, right = _states(actual, expected)
        if left is not None and right is not None:
            return _alike(left, right, seen, depth + 1)
    if own_eq:
        if kind in _PLAIN_LEAVES or kind in _EQUAL_BY_VALUE or (
                kind in _NAIVE_BY_VALUE and expected.tzinfo is None and actual.tzinfo is None) or (
                (kind is set or kind is frozenset) and all(type(member) in _PLAIN_LEAVES for member in expected)):
            try:
                return bool(actual == expected)
            except Exception:
                return False
        return False
    return _alike_states(actual, expected, seen, depth)


def _alike_pairs(pairs: Any, seen: set, depth: int) -> bool:
    """Is each pair alike (:func:`_alike`)? Equal plain leaves are told inline."""
    for left, right in pairs:
        if left is right or (type(left) is type(right) and type(left) in _PLAIN_LEAVES and left == right):
            continue
        if not _alike(left, right, seen, depth + 1):
            return False
    return True


def _alike_dicts(actual: dict, expected: dict, seen: set, depth: int) -> bool:
    # (the same keys as the walk's look-ups find, and the dict's own look-up of each)
    return dict.keys(actual) == dict.keys(expected) and _alike_pairs(
        ((dict.__getitem__(actual, name), dict.__getitem__(expected, name)) for name in dict.keys(expected)),
        seen, depth)


def _alike_states(actual: Any, expected: Any, seen: set, depth: int) -> bool:
    left, right = _states(actual, expected)
    left, right = left or {}, right or {}
    return left.keys() == right.keys() and _alike_pairs(((mine, right[name]) for name, mine in left.items()),
                                                        seen, depth)


def differences(actual: Any, expected: Any, limit: int = 20, strict: bool = False) -> list[str]:
    """Paths where ``actual`` and ``expected`` differ (empty list: they are equal), each a
    :class:`Difference` when found inside an object's state.

    ``strict=True`` (storing a value: does it come back as itself?) also compares the
    state of objects whose ``__eq__`` says equal.
    """
    if strict:
        try:
            if _alike(actual, expected, set(), 0):
                return []
        except RecursionError:
            pass  # (the walk says what it finds)
    found = []
    for problem in _walk(actual, expected, "", set(), 0, strict):
        found.append(problem)
        if len(found) >= limit:
            break
    return found


def assert_return_values(actual: Any, expected: Any) -> None:
    """Assert that a replayed outcome equals the recorded one (seed-compatible name)."""
    from cleanup_trace.replay import check_outcome

    check_outcome(actual, expected)
