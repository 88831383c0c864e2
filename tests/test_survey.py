"""The cheap walk before encoding: size limit, refused classes, no user code run."""
from __future__ import annotations

import json
import re
import sys
import types
import weakref

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleanup_trace import serialise
from cleanup_trace._identity import identity


# The classes of these values stand for the user's code: values of classes defined in a
# test module are refused (test_values_from_test_modules_are_refused_unencoded).
USER_MODULE = "survey_app"


class Point:
    __module__ = USER_MODULE

    def __init__(self, x, y):
        self.x, self.y = x, y


class Loud(list):
    """Iterating or reading a missing attribute would run user code: the survey must not."""

    __module__ = USER_MODULE

    def __iter__(self):
        raise AssertionError("survey ran the user's __iter__")

    def __getattr__(self, name):
        raise AssertionError("survey ran the user's __getattr__")


@pytest.fixture(autouse=True)
def user_module(monkeypatch):
    """The module the classes standing for the user's code are found in by name."""
    module = type(sys)(USER_MODULE)
    for name, value in list(globals().items()):
        if isinstance(value, type) and value.__module__ == USER_MODULE:
            setattr(module, name, value)
    monkeypatch.setitem(sys.modules, USER_MODULE, module)
    return module


def test_counts_items_keys_and_attributes() -> None:
    value = {"points": [Point(1, 2), Point(3, 4)], "name": "x"}
    assert {Point} == serialise.survey(value, limit=100).classes
    with pytest.raises(serialise.TooLarge, match=r"more than 5 values \(PYTESTCLEANUP_VALUE_LIMIT\)"):
        serialise.survey(value, limit=5)


def test_long_texts_count_once_more_per_64_characters() -> None:
    """A 64 kB text is too large at the default limit: no test data to read, and the
    recorder would keep it (soupsieve's test that ``lower()`` holds nothing)."""
    serialise.survey("x" * 127, limit=2)
    with pytest.raises(serialise.TooLarge):
        serialise.survey("x" * 192, limit=2)
    serialise.survey(b"x" * 60_000, limit=1000)
    with pytest.raises(serialise.TooLarge):
        serialise.survey("x" * 65_536, limit=1000)


def test_refused_class_stops_the_walk() -> None:
    with pytest.raises(serialise.Unserialisable, match="survey_app.Point values did not survive storing before"):
        serialise.survey([1, [Point(1, 2)]], limit=100, refused={Point})


def test_what_refuses_a_value_near_its_top_is_found_before_the_rest_is_walked() -> None:
    """A parser holding its output stream first and its grammar after: the stream is met
    after a few values, not after the grammar's thousands (here: before the limit)."""
    holder = Point(Point(0, 0), [Point(n, n) for n in range(2_000)])
    with pytest.raises(serialise.Unserialisable, match="did not survive storing before"):
        serialise.survey({"args": [holder], "kwargs": {}}, limit=1000, failed={identity(holder.x): weakref.ref(holder.x)})
    with pytest.raises(serialise.TooLarge):  # (the same value, nothing refused in it)
        serialise.survey({"args": [holder], "kwargs": {}}, limit=1000)


class Local:
    """Defined in this test module, as the suite's helper classes are."""


def test_values_from_test_modules_are_refused_unencoded() -> None:
    """Replay imports the project, not its test suite: the walk says so before the encode."""
    with pytest.raises(serialise.Unserialisable, match=r"test_survey\.Local is defined in a test module"):
        serialise.survey({"a": [Local()]}, limit=100)
    with pytest.raises(serialise.Unserialisable, match=r"test_survey\.Local is defined in a test module"):
        serialise.survey({"a": [Local]}, limit=100)  # the class itself, as a value
    with pytest.raises(serialise.Unserialisable, match=r"test_survey\.Local is defined in a test module"):
        serialise.survey({"handlers": {Local: 1}}, limit=100)  # or as a key (a registry by type)
    with pytest.raises(serialise.Unserialisable, match=r"test_survey\.test_cycles_and_user_code is defined"):
        serialise.survey([test_cycles_and_user_code], limit=100)


def test_cycles_and_user_code() -> None:
    loud = Loud([1, 2, 3])
    cycle: list = [loud]
    cycle.append(cycle)
    assert {Loud} == serialise.survey(cycle, limit=100).classes


@pytest.mark.parametrize("value, plain", [
    ({"a": [1, 2.5, None, True, "x"], "b": [float("inf"), -0.0]}, True),
    ([(1, 2)], False),  # tuples are tagged in the stored form
    ({1: "int key"}, False),
    ([b"bytes"], False),
    ([{1, 2}], False),
    ([Point(1, 2)], False),
    ([[1]] * 2, False),  # one list twice: stored as a reference
    ([1 + 2j], False),
])
def test_plain_values_are_the_ones_storing_cannot_change(value, plain) -> None:
    """Only JSON-like builtins skip the decode-and-compare check; each plain one really round-trips."""
    assert plain == serialise.survey(value, limit=100).plain
    if plain:
        assert serialise.encode(value) == serialise.encode(value, plain=True)
        assert value == serialise.decode(serialise.encode(value, plain=True))


_SHARED = [1]
_ANY_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=2 ** 62) | st.floats(allow_nan=True)
    | st.text(max_size=150) | st.binary(max_size=3) | st.just(_SHARED) | st.just(1 + 2j),
    lambda children: st.lists(children, max_size=5) | st.tuples(children)
    | st.dictionaries(st.text(max_size=4) | st.sampled_from(["py/object", "a/b"]) | st.integers(), children,
                      max_size=4),
    max_leaves=30)
_PLAIN_VALUES = st.recursive(  # (mostly plain: the copy is made, or declined for one reason)
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=150)
    | st.just(_SHARED),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=4), children, max_size=4),
    max_leaves=20)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PLAIN_VALUES | _ANY_VALUES, st.integers(min_value=1, max_value=40))
def test_the_plain_copy_is_what_the_survey_and_encoder_would_make(value, limit) -> None:
    """The shortcut for plain values gives the stored form the usual way gives, in new
    lists and dicts, and declines whatever the usual way would refuse or tag."""
    copy = serialise.plain_copy(value, limit)
    try:
        seen = serialise.survey(value, limit)
    except serialise.TooLarge:
        assert copy is serialise.NOT_PLAIN
        return
    if copy is serialise.NOT_PLAIN:
        return
    assert seen.plain and seen.builtin and not seen.reordered
    assert json.dumps(serialise.encode(value, plain=True)) == json.dumps(copy)
    assert json.dumps(serialise.encode(value)) == json.dumps(copy)
    containers = [id(item) for item in _containers(value)]
    assert not any(id(item) in containers for item in _containers(copy))


def _containers(value) -> list:
    if type(value) is list:
        return [value] + [inner for item in value for inner in _containers(item)]
    if type(value) is dict:
        return [value] + [inner for item in value.values() for inner in _containers(item)]
    return []


@pytest.mark.parametrize("value", [["x" * 640], {"a": "y" * 700, "b": ["z" * 64] * 3}, "w" * 1000])
def test_the_plain_copy_counts_long_texts_as_the_survey_does(value) -> None:
    """A text counts once more per 64 characters: declined exactly where the survey
    would say too large."""
    for limit in range(1, 30):
        try:
            serialise.survey(value, limit)
            too_large = False
        except serialise.TooLarge:
            too_large = True
        assert too_large == (serialise.plain_copy(value, limit) is serialise.NOT_PLAIN), limit


def test_the_plain_copy_declines_a_path_inside_your_packages(monkeypatch) -> None:
    """Such a path is stored relative to its package: not a plain text."""
    import os

    package = os.path.dirname(serialise.__file__)
    monkeypatch.setattr(serialise._package_paths, "prefixes", (package + os.sep,))
    monkeypatch.setattr(serialise._package_paths, "lead", package)
    monkeypatch.setattr(serialise._package_paths, "_packages", {package: "cleanup_trace"})
    monkeypatch.setattr(serialise._package_paths, "_modules_seen", len(sys.modules))
    assert serialise.plain_copy({"args": [os.path.join(package, "x.json")]}, 100) is serialise.NOT_PLAIN
    assert serialise.plain_copy(os.path.join(package, "x.json"), 100) is serialise.NOT_PLAIN
    assert serialise.plain_copy({"args": ["elsewhere/x.json"]}, 100) == {"args": ["elsewhere/x.json"]}


# Three functions taking one value each: a class failing in calls of two of them is
# refused before the third's call is encoded.
THREE_FUNCTIONS = '''
def first(value):
    return 1


def second(value):
    return 2


def third(value):
    return 3
'''


COSTLY_APP = '''
import itertools

_ids = itertools.count()


class Ticket:
    """Stored, it comes back with another number: it never survives storing."""

    def __init__(self):
        self.number = next(_ids)

    def __reduce__(self):
        return (Ticket, ())


def total(values):
    return sum(values)


''' + THREE_FUNCTIONS + '''

def main():
    total(list(range(2000)))
    total([1, 2])
    for function in (first, second, third):
        function(Ticket())
'''


def _record(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, module: str, source: str) -> pytest.RunResult:
    """``python -m cleanup_trace <module>`` on ``source``, data under ``tests/``."""
    pytester.makepyfile(**{module: source})
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.run(sys.executable, "-m", "cleanup_trace", module)
    assert result.ret == 0, result.stderr.str()
    return result


@pytest.mark.usefixtures("debug_log")
def test_large_values_and_classes_that_never_store_are_refused_before_encoding(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """Over PYTESTCLEANUP_VALUE_LIMIT: skipped unencoded; a class failed twice (never stored) is refused up front."""
    clean_env.setenv("PYTESTCLEANUP_VALUE_LIMIT", "100")
    _record(pytester, clean_env, "costly", COSTLY_APP).stderr.fnmatch_lines([
        "*call.skipped function=costly.total reason='argument too large' "
        "detail='more than 100 values (PYTESTCLEANUP_VALUE_LIMIT)'",
        "*call.skipped function=costly.third reason='unserialisable argument' "
        "detail='costly.Ticket values did not survive storing before'",
    ])
    total = (pytester.path / "tests" / "test-data" / "costly" / "total-00.json").read_text()
    assert '"args":[[1,2]]' in total.replace(" ", "").replace("\n", "")


HOLDER_APP = '''
class Stream:
    def __init__(self, lines):
        self.lines = iter(lines)  # an iterator kept in an attribute: no instance stores


class Job:
    def __init__(self, name, stream):
        self.name = name
        self.stream = stream


''' + THREE_FUNCTIONS + '''

def main():
    for function in (first, second, third):
        function(Job("a", Stream(["x"])))
'''


@pytest.mark.usefixtures("debug_log")
def test_the_class_holding_what_fails_is_refused_after_two_functions(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """The blame goes to the innermost class of the user's whose state held the failure
    (Stream, not the Job handed to the functions), once calls of two functions failed
    there: the third function's call is refused before any encode. ``Stream.__init__``
    stored its half-built ``self`` (no iterator yet), which does not clear the class."""
    _record(pytester, clean_env, "holder", HOLDER_APP).stderr.fnmatch_lines([
        "*call.skipped function=holder.first reason='unserialisable argument' "
        "detail='builtins.list_iterator is an iterator: storing it would consume it'",
        "*call.skipped function=holder.third reason='unserialisable argument' "
        "detail='holder.Stream values did not survive storing before'",
    ])


LAZY_APP = '''
class Settings:
    """Its ``__getattr__`` reads an attribute decoding has not set yet: building it from
    its stored state recurses to the interpreter's limit (parsedatetime's Constants)."""

    def __init__(self):
        self.keys = {"a"}

    def __getattr__(self, name):
        if name in self.keys:
            return name
        raise AttributeError(name)


''' + THREE_FUNCTIONS + '''

def main():
    for function in (first, second, third):
        function(Settings())
'''


@pytest.mark.usefixtures("debug_log")
def test_a_class_that_fails_to_build_itself_when_decoded_is_refused_after_two_functions(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """Its decoding fails the same way every time: after two functions' calls, the third
    function's call is refused before any encode and decode (1.4 ms a try)."""
    _record(pytester, clean_env, "lazy", LAZY_APP).stderr.fnmatch_lines([
        "*call.skipped function=lazy.first reason='unserialisable argument' "
        "detail='stored value does not decode: RecursionError*",
        "*call.skipped function=lazy.third reason='unserialisable argument' "
        "detail='lazy.Settings values did not survive storing before'",
    ])


class Keeper:
    """Its ``__reduce__`` forgets what it keeps: a copy never equals the original."""

    __module__ = USER_MODULE

    def __init__(self, kept=None):
        self.kept = kept

    def __reduce__(self):
        return (Keeper, ())


class Problem(Exception):
    """Its ``__reduce__`` keeps the arguments only (jinja2's TemplateSyntaxError)."""

    __module__ = USER_MODULE

    def __init__(self, message):
        super().__init__(message)
        self.translated = False

    def __reduce__(self):
        return (Problem, self.args)


def test_an_exception_stored_as_a_value_must_keep_its_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, USER_MODULE, type(sys)(USER_MODULE))
    monkeypatch.setattr(sys.modules[USER_MODULE], "Problem", Problem, raising=False)
    plain = Problem("x")
    serialise.check_round_trip(plain, serialise.encode(plain))
    translated = Problem("x")
    translated.translated = True
    with pytest.raises(serialise.Unserialisable, match=r"value does not round-trip: translated: False != True") as error:
        serialise.check_round_trip(translated, serialise.encode(translated))
    assert (Problem,) == error.value.holders


def test_failures_name_the_classes_holding_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, USER_MODULE, type(sys)(USER_MODULE))
    monkeypatch.setattr(sys.modules[USER_MODULE], "Point", Point, raising=False)
    monkeypatch.setattr(sys.modules[USER_MODULE], "Keeper", Keeper, raising=False)
    with pytest.raises(serialise.Unserialisable) as encoding:
        serialise.encode([Point(Point(1, iter([1])), 2)])
    assert encoding.value.holders == (type(iter([1])), Point, Point)
    value = {"points": [Point(Keeper(5), 1)]}
    with pytest.raises(serialise.Unserialisable, match="does not round-trip") as storing:
        serialise.check_round_trip(value, serialise.encode(value))
    assert storing.value.holders == (Keeper, Point)
    with pytest.raises(serialise.Unserialisable) as test_value:
        serialise.encode(Point(Local(), 1))
    assert not test_value.value.holders_to_blame  # one test's value says nothing of Point


class Inventive:
    """Answers every attribute it does not have with a new object (``whatever._``), and
    counts the questions."""

    __module__ = USER_MODULE
    asked: list = []

    def __init__(self, depth=0):
        self.depth = depth

    def __getattr__(self, name):
        Inventive.asked.append(name)
        return Inventive(self.depth + 1)


class Lazy:
    """Initialises itself at the first attribute it does not have (funcy's LazyObject)."""

    __module__ = USER_MODULE

    def __init__(self):
        self.__dict__["ready"] = False

    def __getattr__(self, name):
        self.__dict__["ready"] = True
        raise AttributeError(name)


def test_objects_answering_missing_attributes_are_stored_without_asking_them() -> None:
    """jsonpickle asks objects for optional attributes and iterates the answer: an object
    that invents them never ends (funcy's suite ran out of memory), a lazy one initialises
    itself. Their state is read as pickling reads it instead; nothing is asked."""
    Inventive.asked.clear()
    flat = serialise.encode({"key": [Inventive()]})
    assert [] == Inventive.asked
    assert {"py/object": "survey_app.Inventive", "py/state": {"depth": 0}} == flat["key"][0]
    lazy = Lazy()
    serialise.encode(lazy)
    assert lazy.ready is False


def test_a_closure_stored_by_value_is_walked_into() -> None:
    """A library's closure (``rpartial(f)``) is stored by value with dill, its cells with
    it: a test module's function in a cell would not import at replay."""

    def helper(x):  # defined here, in a test module
        return x

    def rpartial(function):
        return lambda value: function(value)

    closure = rpartial(helper)
    closure.__module__ = USER_MODULE
    with pytest.raises(serialise.Unserialisable, match=r"test_survey\.test_a_closure_stored_by_value_is_walked"):
        serialise.survey([closure], limit=100)


def test_the_modules_a_pickle_imports_are_read_from_its_opcodes() -> None:
    """The last check on what dill stored: every module loading the payload would import
    (a test module reached through an attribute of a captured object: marshmallow's
    schema classes defined inside its tests)."""
    import collections
    import pickle

    import dill

    def local(x):  # runs in this test module's namespace: dill names it by its module
        return Local, x

    stored = dill.dumps(local, recurse=False)
    assert __name__ in serialise._modules_imported_by(stored)
    for protocol in (0, 2, 4, 5):
        found = serialise._modules_imported_by(pickle.dumps([collections.OrderedDict(), pytest.raises],
                                                            protocol=protocol))
        assert {"collections", pytest.raises.__module__} <= found, protocol
    assert set() == serialise._modules_imported_by(pickle.dumps(["collections", "text"], protocol=4))


def test_encoding_a_callable_object_never_runs_its_repr() -> None:
    """jsonpickle asks a callable object whether it is a Cython function through its
    repr(): user code (jinja2's loop context reads an async property there). Not asked
    for arguments and items any more; values of dicts and attributes still are (jsonpickle's
    is_picklable, called inside its own methods)."""

    class Callable:
        __module__ = USER_MODULE
        reprs = 0

        def __init__(self):
            self.size = 3

        def __call__(self):
            return self.size

        def __repr__(self):
            type(self).reprs += 1
            return "<Callable>"

    value = Callable()
    serialise.encode([value, [value, (value,)]])
    assert 0 == Callable.reprs


class Node:
    """A slotted tree node: its children live in slots, not in a __dict__."""

    __module__ = USER_MODULE
    __slots__ = ("left", "right", "value", "unset", "__extra")

    def __init__(self, value, left=None, right=None, extra=()):
        self.value, self.left, self.right, self.__extra = value, left, right, list(extra)

    def __getattr__(self, name):
        raise AssertionError("survey ran the user's __getattr__")


def _tree(depth: int) -> Node:
    return Node(depth) if depth == 0 else Node(depth, _tree(depth - 1), _tree(depth - 1))


def test_slot_values_count_towards_the_limit() -> None:
    """intervaltree's nodes: counted by their __dict__ alone, a tree of thousands of nodes
    looked like 7 values, and each call paid seconds of encoding before any limit."""
    serialise.survey(_tree(3), limit=100)  # 15 nodes: fine
    with pytest.raises(serialise.TooLarge):
        serialise.survey(_tree(6), limit=100)  # 127 nodes
    with pytest.raises(serialise.TooLarge):  # a private (name-mangled) slot counts too
        serialise.survey(Node(0, extra=range(200)), limit=100)


def test_looking_at_imported_modules_never_loads_a_lazy_one(tmp_path) -> None:
    """importlib.util.LazyLoader modules run their import at the first attribute read."""
    import importlib.util

    (tmp_path / "lazy_probe_module.py").write_text("LOADED = True\n")
    spec = importlib.util.spec_from_file_location("lazy_probe_module", tmp_path / "lazy_probe_module.py")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["lazy_probe_module"] = module
    try:
        spec.loader.exec_module(module)
        serialise._imported_test_modules()
        serialise._sentinels._index()
        assert "LOADED" not in object.__getattribute__(module, "__dict__")
    finally:
        del sys.modules["lazy_probe_module"]


class Recency(dict):
    """A dict whose reads reorder it, as an LRU cache's do."""

    __module__ = USER_MODULE

    def __getitem__(self, key):
        value = dict.pop(self, key)
        dict.__setitem__(self, key, value)
        return value


class Holder:
    """A Mapping-like value with its own __eq__ reading every item of the other side."""

    __module__ = USER_MODULE

    def __init__(self, items):
        self.items = items

    def __eq__(self, other):
        return all(other.items[key] == self.items[key] for key in reversed(list(self.items)))


def test_checking_a_stored_value_never_runs_its_comparison_code() -> None:
    """Storing compares state, not the user's __eq__ or __getitem__: cachetools' LRU cache
    was reordered by the check, and its suite's next popitem() evicted another key."""
    from cleanup_trace.compare import differences

    recency = Recency(a=1, b=2, c=3)
    value = Holder(recency)
    restored = Holder(Recency(a=1, b=2, c=3))  # what decoding the stored form gives
    assert [] == differences(restored, value, strict=True)
    assert ["a", "b", "c"] == list(recency)
    assert ["__dict__['items']['b']: 2 != 3"] == differences(Holder(Recency(a=1, b=2, c=4)), Holder(Recency(a=1, b=3, c=4)),
                                                 strict=True)


def test_a_value_whose_copies_are_not_equal_is_not_stored(tmp_path, monkeypatch) -> None:
    """Storing compares state (never the user's __eq__ on the user's object), but replay
    compares with __eq__: a class whose copies never compare equal would fail every replay,
    unless its state is all there is to it (then replay compares that state)."""
    (tmp_path / "identity_eq.py").write_text(
        "class Token:\n"
        "    def __init__(self):\n"
        "        self.marker = object()\n"
        "    def __eq__(self, other):\n"
        "        return self.marker is other.marker\n"
        "class Odd(int):\n"
        "    def __eq__(self, other):\n"
        "        return False\n"
        "    __hash__ = int.__hash__\n"
        "class Plain:\n"
        "    def __init__(self):\n"
        "        self.value = 1\n"
        "    def __eq__(self, other):\n"
        "        return self.value == other.value\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import identity_eq

    with pytest.raises(serialise.Unserialisable, match="does not equal a copy of itself"):
        serialise.check_round_trip(identity_eq.Odd(3), serialise.encode(identity_eq.Odd(3)))
    from cleanup_trace.compare import differences

    token = identity_eq.Token()  # its state is everything: replay compares that
    assert [] == differences(serialise.check_round_trip(token, serialise.encode(token)), token)
    plain = identity_eq.Plain()
    serialise.check_round_trip(plain, serialise.encode(plain))


ENDLESS_APP = '''
import cleanup_trace.serialise as serialise


class Grammar:
    pass


def use(value):
    return 1


def main():
    # Comparing a structure deeper than the stack left at the call (pyparsing's recursive
    # grammars, stored deep inside its own recursion) runs out of stack: simulated.
    def too_deep(value, data):
        raise RecursionError("maximum recursion depth exceeded in comparison")

    serialise.check_round_trip = too_deep
    print(use(Grammar()), use(2))
'''


@pytest.mark.usefixtures("debug_log")
def test_a_value_too_deep_to_store_skips_the_case_not_the_function(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """RecursionError while storing is one refused case, never a tool error that stops
    recording the function."""
    result = _record(pytester, clean_env, "endless", ENDLESS_APP)
    result.stderr.fnmatch_lines(["*call.skipped function=endless.use reason='unserialisable argument' "
                                 "detail='nested too deeply to encode or compare'"])
    assert "function.disabled" not in result.stderr.str()
    assert (pytester.path / "tests" / "test-data" / "endless" / "use-00.json").exists()


def test_a_dict_keyed_by_objects_compared_by_identity_is_refused() -> None:
    """Decoded, such keys are new objects, which no lookup with the old ones finds
    (markdown keeps maps of xml.etree elements): refused before encoding."""
    import xml.etree.ElementTree as ElementTree

    with pytest.raises(serialise.Unserialisable, match="a dict keyed by survey_app.Point objects, which compare"):
        serialise.survey({"parents": {Point(1, 2): "p"}}, limit=100)
    with pytest.raises(serialise.Unserialisable, match="keyed by xml.etree.ElementTree.Element objects"):
        serialise.survey({ElementTree.Element("p"): None}, limit=100)
    serialise.survey({Point: 1, len: 2, None: 3, (1, "a"): 4, 2.5: 5}, limit=100)  # stored as themselves


def test_a_set_of_objects_compared_by_identity_is_refused() -> None:
    """Found by hash as a dict's keys are: decoded, such items are new objects, and the set
    equals no other (pyleri's ``get_expecting`` returns a set of its grammar elements)."""
    with pytest.raises(serialise.Unserialisable, match="a set of survey_app.Point objects, which compare"):
        serialise.survey({"expecting": {Point(1, 2), Point(3, 4)}}, limit=100)
    with pytest.raises(serialise.Unserialisable, match="a set of survey_app.Point objects"):
        serialise.survey([frozenset({Point(1, 2)})], limit=100)
    serialise.survey([{Point, len, None, (1, "a"), 2.5}], limit=100)  # stored as themselves


class Unbound:
    """A class its module does not bind under its name (made by a factory, renamed)."""

    __module__ = USER_MODULE


class FromAPrivateModule:
    """As a type made in C names a private module nobody imports (``_regex.Pattern``)."""

    __module__ = "_cleanup_trace_no_such_module"


class OfAModuleNeverImported:
    """Made by a module run from a file and never registered (mako's ``load_module``)."""

    __module__ = "cleanup_trace_package.never_imported"


class ReducedByAFactory:
    """Unbound too, but it says how to pickle itself: its reduction names what is found."""

    __module__ = USER_MODULE

    def __reduce__(self):
        return (dict, ())


def test_classes_not_found_by_their_name_are_refused_unencoded(user_module) -> None:
    """Stored by class name, these would never decode: refused before the encode and
    the decode that would say so (parsimonious' grammars hold ``regex`` patterns)."""
    del user_module.Unbound
    with pytest.raises(serialise.Unserialisable,
                       match=r"survey_app\.Unbound objects are stored by a name that does not find their class"):
        serialise.survey({"a": [Point(1, 2), Unbound()]}, limit=100)
    with pytest.raises(serialise.Unserialisable, match=r"_cleanup_trace_no_such_module\.FromAPrivateModule"):
        serialise.survey([FromAPrivateModule()], limit=100)
    with pytest.raises(serialise.Unserialisable, match=r"never_imported\.OfAModuleNeverImported objects are of "
                                                       r"a module that is not imported"):
        serialise.survey([OfAModuleNeverImported()], limit=100)
    assert "cleanup_trace_package" not in sys.modules
    del user_module.ReducedByAFactory
    assert {ReducedByAFactory} == serialise.survey([ReducedByAFactory()], limit=100).classes


def test_objects_of_a_module_run_from_its_file_unregistered_are_refused(tmp_path, monkeypatch) -> None:
    """A module run from its file (``spec_from_file_location``, ``exec_module``), its
    directory on sys.path: the decoding check would import the module anew into the
    process (the class found is another)."""
    (tmp_path / "cleanup_trace_example_calc.py").write_text("class CalcVisitor:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib.util

    spec = importlib.util.spec_from_file_location("cleanup_trace_example_calc",
                                                  tmp_path / "cleanup_trace_example_calc.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(serialise.Unserialisable, match=r"cleanup_trace_example_calc\.CalcVisitor objects are of a "
                                                       r"module that is not imported"):
        serialise.survey([module.CalcVisitor()], limit=100)
    assert "cleanup_trace_example_calc" not in sys.modules


def _local_classes():
    class Local:  # (html5lib's TreeBuilder, made by ``getETreeBuilder``)
        def __init__(self):
            self.children = []

    class LocalReducing:
        def __reduce__(self):
            return (dict, ())

    for made in (Local, LocalReducing):
        made.__module__ = USER_MODULE
    return Local, LocalReducing


def test_objects_of_a_class_made_inside_a_function_are_refused_unencoded(monkeypatch) -> None:
    """Stored under a ``<locals>`` name no import finds: refused before jsonpickle's slow
    encode and the decode that fails (bleach's html5lib tree builders). One reducing
    itself, or a module-level object stored by name, is left to storing."""
    local, reducing = _local_classes()
    with pytest.raises(serialise.Unserialisable, match=r"survey_app\._local_classes\.<locals>\.Local objects are of a "
                                                       r"class made inside a function: no name finds it again"):
        serialise.survey({"builder": [local()]}, limit=100)
    assert {reducing} == serialise.survey([reducing()], limit=100).classes
    sentinel = local()
    monkeypatch.setattr(serialise, "module_object_reference",
                        lambda value: (USER_MODULE, "BUILDER") if value is sentinel else None)
    assert {local} == serialise.survey([sentinel], limit=100).classes


class Mixin:
    """A base class a factory makes subclasses of at run time, under its own name."""

    __module__ = USER_MODULE
    opening = "<div>"


def test_classes_made_at_run_time_under_another_class_s_name_are_refused(user_module) -> None:
    """marko's ``type("TocRendererMixin", (TocRendererMixin,), options)``: stored by name,
    the class (or an object of it) decodes as the base class, options lost. Not refused
    for good: a test may have patched the name for a while."""
    made = type("Mixin", (Mixin,), {"opening": "<p>"})
    made.__module__ = USER_MODULE
    with pytest.raises(serialise.Unserialisable, match=r"class survey_app\.Mixin was made at run time: its name "
                                                       r"leads to another object"):
        serialise.survey({"renderer_mixins": [made]}, limit=100)
    with pytest.raises(serialise.Unserialisable,
                       match=r"survey_app\.Mixin objects are stored by a name that leads to another class"):
        serialise.survey([made()], limit=100)
    assert {Mixin} == serialise.survey([Mixin, Mixin()], limit=100).classes
    user_module.Mixin = made  # now the name leads to it, and the base class is the one lost
    assert {made} == serialise.survey([made, made()], limit=100).classes


def test_a_class_value_its_name_finds_nothing_for_is_refused_unencoded(user_module) -> None:
    """A class a doctest defines carries its module's name, and the module does not hold
    it (boltons' ``MySet`` given to ``partial_ordering``): refused by the survey, which
    says why, rather than by the decoding check, whose failure would put every class
    given as a value back under check."""
    made = type("DoctestSet", (set,), {"__module__": USER_MODULE})
    with pytest.raises(serialise.Unserialisable, match=r"class survey_app\.DoctestSet was made at run time: its "
                                                       r"name leads to nothing"):
        serialise.survey([made], limit=100)
    user_module.DoctestSet = made  # (found once its module holds it)
    assert serialise.survey([made], limit=100).kinds == {type}


def test_a_class_made_inside_a_function_given_as_a_value_is_refused() -> None:
    """environs' ``_make_subcast_field`` returns the class it makes: stored by a
    ``<locals>`` name, which no decoding finds."""
    local, _ = _local_classes()
    with pytest.raises(serialise.Unserialisable, match=r"class survey_app\._local_classes\.<locals>\.Local was made "
                                                       r"at run time: it is made inside a function"):
        serialise.survey({"returned": local}, limit=100)


def test_a_module_level_object_of_such_a_class_is_stored_by_name(monkeypatch) -> None:
    """Not refused: it is stored as a reference to where the module binds it."""
    sentinel = FromAPrivateModule()
    monkeypatch.setattr(serialise, "module_object_reference",
                        lambda value: (USER_MODULE, "SENTINEL") if value is sentinel else None)
    assert {FromAPrivateModule} == serialise.survey([sentinel], limit=100).classes


@pytest.mark.skipif(sys.version_info < (3, 10), reason="the type flag telling it is 3.10's")
def test_objects_of_a_type_without_a_constructor_are_refused_unencoded() -> None:
    """``re.Match`` is found by name, but nothing makes one from a stored state."""
    import re

    with pytest.raises(serialise.Unserialisable, match=r"re\.Match objects cannot be made by their class"):
        serialise.survey({"found": re.match("a", "a")}, limit=100)
    assert not serialise.survey({"pattern": re.compile("a", re.IGNORECASE)}, limit=100).classes - {re.Pattern}


class Zone:
    """Stands for a zone class of the user's (parse's ``FixedTzOffset``)."""

    __module__ = USER_MODULE


def test_a_datetimes_zone_is_among_the_value_s_classes(user_module) -> None:
    """Stored with the datetime, yet out of sight of the walk (no instance dict): its
    class must be known, or the value skips the decoding check as a trusted datetime."""
    import datetime

    class FixedZone(datetime.tzinfo):
        __module__ = USER_MODULE

        def __init__(self, minutes, name):  # (tzinfo's reduction calls it with no arguments)
            self.offset, self.name = datetime.timedelta(minutes=minutes), name

        def utcoffset(self, moment):
            return self.offset

    user_module.FixedZone = FixedZone
    FixedZone.__qualname__ = "FixedZone"
    moment = datetime.datetime(2020, 1, 1, tzinfo=FixedZone(60, "CET"))
    assert FixedZone in serialise.survey([moment, datetime.time(1, tzinfo=FixedZone(0, "UTC"))], limit=100).classes
    assert {datetime.datetime} == serialise.survey([datetime.datetime(2020, 1, 1)], limit=100).classes
    with pytest.raises(serialise.Unserialisable, match="does not decode"):
        serialise.check_round_trip([moment], serialise.encode([moment]))


class Mapping(dict):
    __module__ = USER_MODULE


def test_a_dict_with_a_text_key_after_another_key_is_said_to_be_reordered(user_module) -> None:
    """jsonpickle stores (and decodes) a dict's text keys first: ``{1: 2, 'a': 3}`` comes
    back as ``{'a': 3, 1: 2}``, which a call iterating over it (munch's repr) tells."""
    assert serialise.survey([{1: 2, "a": 3}], limit=100).reordered
    assert serialise.survey(Mapping({(1, 2): 2, "a": 3}), limit=100).reordered
    assert not serialise.survey({"a": 3, "b": {"c": 1}, 1: 2}, limit=100).reordered
    assert not serialise.survey(Mapping({1: 2, 2: 3}), limit=100).reordered


def test_a_module_not_imported_under_its_name_is_refused() -> None:
    """Stored by name, it would decode as another module, and the decoding check would
    import that one (mako's ``load_module`` runs a file as a module it never registers)."""
    loose = types.ModuleType("cleanup_trace_loose_module")
    with pytest.raises(serialise.Unserialisable, match="module cleanup_trace_loose_module is not the one imported"):
        serialise.survey({"module": loose}, limit=100)
    assert "cleanup_trace_loose_module" not in sys.modules
    serialise.survey([json, sys], limit=100)  # imported ones are stored by name, their namespace not walked
    with pytest.raises(serialise.Unserialisable, match=rf"module {re.escape(__name__)} is a test module"):
        serialise.survey([sys.modules[__name__]], limit=100)


def test_a_builtin_method_bound_to_an_object_is_refused() -> None:
    """``log.append`` would be stored by name as ``list.append``, its list lost (toolz's
    ``do(log.append, 1)`` replayed raising); module functions and class-bound ones are
    what their name finds."""
    log: list = []
    with pytest.raises(serialise.Unserialisable, match=r"method list.append of a list object is stored by name"):
        serialise.survey([log.append], limit=100)
    serialise.survey([len, dict.fromkeys, json.dumps], limit=100)


def test_looking_at_a_class_never_runs_its_metaclass_s_code() -> None:
    """A metaclass's ``__dict__`` may be a property (pure_eval's tests check that looking
    at a class statically never runs it): the survey, the fingerprint and the encoder read
    class namespaces through ``type``'s own descriptor."""
    from cleanup_trace import runtime

    class MetaMeta(type):
        @property
        def __dict__(self):
            self.executed = True
            return {"spam": 42}

    class Meta(type, metaclass=MetaMeta):
        executed = False

    class Thing(metaclass=Meta):
        pass

    for look in (lambda value: serialise.survey([value], limit=100), runtime._fingerprint,
                 lambda value: serialise.encode([value])):
        for value in (Thing, Meta):
            try:
                look(value)
            except serialise.Unserialisable:
                pass  # (a test module's class: refused, having looked at it)
    assert not type.__dict__["__dict__"].__get__(Meta)["executed"]  # (as read without running it)


class WeakHolder:
    __module__ = USER_MODULE

    def __init__(self, target):
        self.target = weakref.ref(target)


class WeakHolderStoringItself(WeakHolder):
    __module__ = USER_MODULE

    def __getstate__(self):
        return {}


def test_a_weak_reference_stored_as_it_is_is_refused_unencoded() -> None:
    """pypubsub's topics hold their listeners by weak reference, which does not decode:
    each of 48 values was encoded, then decoded to fail. Refused by the survey when its
    holder is stored as it is; a class saying how to store itself may leave it out."""
    target = Point(1, 2)
    with pytest.raises(serialise.Unserialisable, match=r"weak reference \(weakref\.ref\) in an object "
                                                       r"of WeakHolder: it does not decode"):
        serialise.survey(WeakHolder(target), 100)
    with pytest.raises(serialise.Unserialisable, match=r"weak reference \(weakref\.proxy\) in a dict"):
        serialise.survey({"listener": weakref.proxy(target)}, 100)
    serialise.survey(WeakHolderStoringItself(target), 100)


class IndexingSet(set):
    """deepmerge's ``ExtendedSet``: a set keeping unhashable items in a list beside it,
    which its own ``__iter__`` gives."""

    __module__ = USER_MODULE

    def __init__(self, items=()):
        super().__init__()
        self.items = list(items)

    def __iter__(self):
        return iter(self.items)


class IndexingSetReducingItself(IndexingSet):
    __module__ = USER_MODULE

    def __reduce__(self):
        return IndexingSetReducingItself, (self.items,)


class TaggedSet(set):
    __module__ = USER_MODULE

    def tag(self):
        return "tagged"


def test_a_set_whose_own_iter_gives_its_items_is_refused_unencoded(user_module) -> None:
    """Stored, its items are what its ``__iter__`` gives, and decoding puts them into the set
    itself: deepmerge's dicts, "unhashable type: 'dict'" at replay (its empty sets had
    earned its class the decoding check's trust first). One saying how to pickle itself,
    or a set of yours iterating as a set, is stored."""
    with pytest.raises(serialise.Unserialisable, match=r"survey_app\.IndexingSet objects are sets whose own "
                                                       r"__iter__ gives their items"):
        serialise.survey({"args": [IndexingSet([{"a": 1}])], "kwargs": {}}, 100)
    serialise.survey({"args": [IndexingSetReducingItself([{"a": 1}])], "kwargs": {}}, 100)
    serialise.survey({"args": [TaggedSet({1, 2})], "kwargs": {}}, 100)


class Documented:
    """blinker's ``Signal``: ``self.__doc__ = doc`` when given one."""

    __module__ = USER_MODULE

    def __init__(self, doc=None):
        self.receivers = {}
        if doc:
            self.__doc__ = doc


class Decorating:
    """A decorator class: ``functools.update_wrapper(self, function)``."""

    __module__ = USER_MODULE

    def __init__(self, function):
        import functools

        functools.update_wrapper(self, function)


def test_an_object_holding_a_special_name_is_refused_unencoded(user_module) -> None:
    """Decoding sets an attribute whose name starts with two underscores as a private one
    of its class: ``__doc__`` came back as ``_Signal__doc__`` (blinker), each object of
    its class without one having passed the decoding check."""
    assert "_Documented__doc__" in vars(serialise.decode(serialise.encode(Documented("x"))))
    with pytest.raises(serialise.Unserialisable, match=r"a survey_app\.Documented object holds an attribute named "
                                                       r"__doc__: decoding would set it as _Documented__doc__"):
        serialise.survey({"args": [Documented("x")], "kwargs": {}}, 100)
    with pytest.raises(serialise.Unserialisable, match=r"named __doc__"):  # (the first of its special names)
        serialise.survey({"args": [Decorating(len)], "kwargs": {}}, 100)
    serialise.survey({"args": [Documented()], "kwargs": {}}, 100)
    serialise.survey({"args": [ReducingDocumented("x")], "kwargs": {}}, 100)  # (stored by its reduction)


class ReducingDocumented(Documented):
    """toolz's ``curry``: ``self.__doc__`` set, and stored by its own ``__reduce__``."""

    __module__ = USER_MODULE

    def __reduce__(self):
        return ReducingDocumented, (self.__doc__,)
