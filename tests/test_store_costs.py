"""What storing a case costs: checks skipped once they have nothing left to find, no
argument stored for a case the budget would refuse."""
from __future__ import annotations

import json
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st


def run_script(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, **modules: str) -> pytest.RunResult:
    """Write ``modules`` (a library and ``script``), run ``script.py`` recording into
    ``tests/``, and require it to succeed."""
    pytester.makepyfile(**{name: textwrap.dedent(text) for name, text in modules.items()})
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    return result


POINTS_LIB = '''
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def distance_to(self, other):
        return norm(Point(self.x - other.x, self.y - other.y))


def norm(point):
    return abs(point.x) + abs(point.y)


def apply(function, point):
    return function(point)
'''

TRUST_SCRIPT = '''
from cleanup_trace import Recorder, serialise

checked = []
built = []  # Point.__init__'s arguments: self, x, y
original = serialise.check_round_trip


def counting(value, data):
    if isinstance(value, dict):
        (checked if len(value.get("args", ())) < 3 else built).append(value)
    return original(value, data)


serialise.check_round_trip = counting
with Recorder():
    import points
    for n in range(12):
        points.norm(points.Point(n, -n))
    print("norm checks:", len(checked))
    checked.clear()
    for n in range(8):
        points.apply(lambda p, n=n: p.x + n, points.Point(n, 1))
    print("apply checks:", len(checked))
    checked.clear()
    for n in range(8):
        points.apply(points.norm, points.Point(n, 2))
    print("named function checks:", len(checked))
    checked.clear()
    for n in range(8):
        points.apply(points.Point(n, 3).distance_to, points.Point(1, 1))
    print("bound method checks:", len(checked))
    print("constructor checks:", len(built))
    checked.clear()
    for n in range(8):
        made = {"__name__": "points"}  # (run-time code of your module)
        exec(f"def made_at_run_time(p):\\n    return p.x + {n}", made)
        points.apply(made["made_at_run_time"], points.Point(n, 4))
    print("run-time code checks:", len(checked))
'''


def test_values_of_types_that_came_back_equal_five_times_skip_the_check(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """Storing checks that a value decodes equal to itself; once values of the same types
    did five times (and none failed), the check is skipped. A function stored by value (a
    lambda) counts as its code: the same lambda's values are checked five times (parsy's
    parsers, closures of a few combinators: 186 checks, 111 now); code made at run time
    (``exec``) is always checked; a function
    stored by name decodes as itself, and a bound method is judged as its object's type
    (markdown's values hold functions, json5's ``[self._ws, self._value]`` methods: every
    one was decoded and compared). ``self`` entering ``__init__`` is half-built: counted
    apart, for that constructor and class (the first five of its 30 cases checked)."""
    clean_env.setenv("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "40")
    result = run_script(pytester, clean_env, points=POINTS_LIB, script=TRUST_SCRIPT)
    # the arguments of the first five calls ({"args": [Point], ...}) are checked; results are ints
    result.stdout.fnmatch_lines(["norm checks: 5", "apply checks: 5", "named function checks: 0",
                                 "bound method checks: 5", "constructor checks: 5", "run-time code checks: 8"])
    [norm_file] = (pytester.path / "tests" / "test-data" / "points").glob("norm-*.json")
    points_given = [case["call"]["args"][0] for case in json.loads(norm_file.read_text())["cases"]]
    assert 12 == sum(point["y"] == -point["x"] for point in points_given)  # (the first loop's, all kept)


NESTED_LIB = '''
def nest(depth):
    if depth == 0:
        raise ValueError("bottom")
    return nest(depth - 1)
'''

NESTED_SCRIPT = '''
from cleanup_trace import Recorder

with Recorder():
    import nested
    try:
        nested.nest(20)
    except ValueError:
        print("raised")
'''


def test_a_recursive_function_stores_no_more_calls_than_its_budget(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """Its calls still running count against the budget: the outermost five are stored,
    not every level of the recursion (whose innermost five used to fill the budget)."""
    result = run_script(pytester, clean_env, nested=NESTED_LIB, script=NESTED_SCRIPT)
    [data] = (pytester.path / "tests" / "test-data" / "nested").glob("nest-*.json")
    assert [16, 17, 18, 19, 20] == sorted(case["call"]["args"][0] for case in json.loads(data.read_text())["cases"])


REGISTRY_LIB = '''
class Registry:
    def __init__(self, ops):
        self.ops = ops

    def __getstate__(self):
        return {"ops": {name: op for name, op in self.ops.items() if name != "secret"}}


def lookup(registry, name):
    return name in registry.ops


def size(registry):
    return len(registry.ops)
'''

REGISTRY_SCRIPT = '''
from cleanup_trace import Recorder

with Recorder():
    import registry
    plain = registry.Registry({"a": 1})
    broken = registry.Registry({"a": 1, "secret": 2})
    print(registry.lookup(plain, "a"), registry.lookup(broken, "b"), registry.size(broken))
'''


def test_an_object_that_failed_to_store_is_refused_up_front(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """An object handed to many functions (a registry, a scope) that did not come back
    equal once is refused before any encode from then on, though its class stores."""
    clean_env.setenv("PYTESTCLEANUP_LOG_LEVEL", "DEBUG")
    result = run_script(pytester, clean_env, registry=REGISTRY_LIB, script=REGISTRY_SCRIPT)
    result.stdout.fnmatch_lines(["True False 2"])
    errors = result.stderr.str()
    assert "function=registry.lookup reason='unserialisable argument' detail=\"value does not round-trip" in errors
    assert ("function=registry.size reason='unserialisable argument' "
            "detail='this registry.Registry object did not survive storing before'") in errors
    data = pytester.path / "tests" / "test-data" / "registry"
    assert [1] == [len(json.loads(path.read_text())["cases"]) for path in data.glob("lookup-*.json")]


OBSERVED_TYPES = '''
class Observed(dict):  # (prettytable's ObservableDict: its __setitem__ needs an attribute)
    def __init__(self, callback, *args):
        super().__init__(*args)
        self.callback = callback

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if self.callback is not None:
            self.callback()


CHANGED = lambda: None  # noqa: E731  (jsonpickle leaves a lambda held in attributes out)
'''

OBSERVED_LIB = '''
def count(observed, n):
    return len(observed) - n


def first(observed, n):
    return sorted(observed)[:n]


def total(observed, n):
    return sum(observed.values()) + n


def largest(observed, n):
    return max(observed.values(), default=n)


def smallest(observed, n):
    return min(observed.values(), default=n)


def last(observed, n):
    return sorted(observed)[-n:]
'''

# (a script's start: every decoding check counted in ``checked``)
COUNTING_CHECKS = '''
from cleanup_trace import Recorder, serialise

checked = []
original = serialise.check_round_trip


def counting(value, data):
    checked.append(value)
    return original(value, data)


'''

FAMILY_LIB = '''
import ast


class Base:
    def __init__(self, name):
        self.name = name

    def describe(self):
        return self.name


class Leaf(Base):  # adds nothing but is a class of yours: it earns trust on its own
    pass


def size(node):
    return len(list(ast.walk(node)))


def describe(thing):
    return thing.describe()
'''

FAMILY_SCRIPT = COUNTING_CHECKS + '''
import ast

serialise.check_round_trip = counting
with Recorder():
    import family
    for n in range(8):
        family.size(ast.Name(id=f"x{n}", ctx=ast.Load()))
    print("name checks:", len(checked))
    checked.clear()
    for n in range(8):
        family.size(ast.BinOp(left=ast.Name(id="y", ctx=ast.Load()), op=ast.Add(),
                              right=ast.Name(id="z", ctx=ast.Load()), lineno=n))
    print("binop checks:", len(checked))
    checked.clear()
    for n in range(8):
        family.describe(family.Base(f"base{n}"))
    print("base checks:", len(checked))
    checked.clear()
    for n in range(8):
        family.describe(family.Leaf(f"leaf{n}"))
    print("leaf checks:", len(checked))
'''


def test_the_standard_librarys_classes_adding_only_data_earn_trust_with_their_base(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """ast's node classes (``_fields`` on ``ast.AST``'s code) earn trust together, once a
    value: values of new node kinds are not decoded and compared five times each
    (restrictedpython: 330 checks, 73 now). A class of yours adding nothing to its base
    still earns its own."""
    clean_env.setenv("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "40")
    result = run_script(pytester, clean_env, family=FAMILY_LIB, script=FAMILY_SCRIPT)
    # (a class of yours: its constructor's half-built ``self`` is counted apart, five more)
    result.stdout.fnmatch_lines(["name checks: 5", "binop checks: 0", "base checks: 10", "leaf checks: 10"])


WEAK_LIB = '''
import weakref


class Topic:  # holds its parent by a weak reference (pypubsub's topics)
    def __init__(self, name, parent=None):
        self.name = name
        self.parent = weakref.ref(parent) if parent is not None else None

    def full_name(self, separator):
        parent = self.parent() if self.parent is not None else None
        return (parent.full_name(separator) + separator if parent is not None else "") + self.name

    def depth(self):
        return 0 if self.parent is None else 1 + self.parent().depth()
'''

WEAK_SCRIPT = '''
from cleanup_trace import Recorder, serialise

surveyed = []
original = serialise.survey


def counting(value, *arguments, **keywords):
    surveyed.append(value)
    return original(value, *arguments, **keywords)


serialise.survey = counting
with Recorder() as recorder:
    import weak
    root = weak.Topic("root")
    child = weak.Topic("child", root)
    surveyed.clear()
    for separator in ".:/-":
        child.full_name(separator)
    print("full_name surveys:", len([value for value in surveyed if value["args"][0] is child]))
    surveyed.clear()
    child.depth(), child.depth()
    print("depth surveys:", len([value for value in surveyed if value["args"][0] is child]))
    print("root surveys:", len([value for value in surveyed if value["args"][0] is root]))
'''


def test_an_object_whose_attributes_hold_a_weak_reference_is_refused_before_its_calls_are_walked(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """An object whose own attributes hold what never stores (a weak reference, a bound
    method) is refused by the survey once; its later calls, of any method, are refused
    before their fingerprint and walk (pypubsub: 162 calls of its topics' methods), the
    same refusal counted. Another object of its class is still walked: it may not."""
    result = run_script(pytester, clean_env, weak=WEAK_LIB, script=WEAK_SCRIPT)
    result.stdout.fnmatch_lines(["full_name surveys: 1", "depth surveys: 0", "root surveys: *"])
    result.stderr.fnmatch_lines(["*unserialisable argument: 6*"])


OBSERVED_SCRIPT = COUNTING_CHECKS + '''
serialise.check_round_trip = counting
with Recorder():
    import observed, observed_types
    print(observed.count(observed_types.Observed(None), 0))  # no callback yet: it stores
    # Filled, with a lambda as callback (jsonpickle leaves such a function out of the
    # attributes it stores): decoding calls __setitem__, which misses it.
    for function in (observed.count, observed.first, observed.total, observed.largest, observed.smallest,
                     observed.last):
        for n in range(1, 6):
            function(observed_types.Observed(observed_types.CHANGED, {str(k): k for k in range(n)}), n)
    print("checked:", len(checked))
'''

def test_a_class_that_stored_once_and_then_keeps_failing_is_refused_up_front(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """Stored empty, it decodes; with items its decoding raises every time: once its
    failures in two functions outnumber its stores (FAILURES_PER_STORE, at least
    FAILURES_BEFORE_REFUSING), its values are refused before any encode."""
    pytester.makepyfile(observed=textwrap.dedent(OBSERVED_LIB), observed_types=textwrap.dedent(OBSERVED_TYPES),
                        script=textwrap.dedent(OBSERVED_SCRIPT))
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    clean_env.setenv("PYTESTCLEANUP_EXCLUDE_MODULES", "observed_types")
    clean_env.setenv("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "40")
    clean_env.setenv("PYTESTCLEANUP_LOG_LEVEL", "DEBUG")
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    # One store (empty, checked), then failures (each checked; a function gives up after
    # three in a row) until FAILURES_BEFORE_REFUSING and two functions failing past it:
    # 10; then nothing is encoded or checked (without the refusal: 1 + 6 x 3).
    result.stdout.fnmatch_lines(["0", "checked: 11"])
    result.stderr.fnmatch_lines(["*observed_types.Observed values did not survive storing before*"])


def test_fingerprints_tell_apart_what_equality_confuses() -> None:
    """A call whose fingerprint was seen is not stored: ``f(True)`` must not hide
    ``f(1)``, nor one long text another of the same length and ends, nor one class
    another."""
    from cleanup_trace.runtime import _fingerprint

    assert len({_fingerprint((True,)), _fingerprint((1,)), _fingerprint((1.0,))}) == 3
    middle_a, middle_b = "x" * 40 + "a" + "x" * 40, "x" * 40 + "b" + "x" * 40
    assert _fingerprint((middle_a,)) != _fingerprint((middle_b,))
    assert _fingerprint((float("nan"),)) == _fingerprint((float("nan"),))
    assert _fingerprint(({"a": [1, 2]},)) == _fingerprint(({"a": [1, 2]},))
    # Classes given as values, at any depth (a list of token classes): which ones.
    first, second = type("RawText", (), {}), type("Emphasis", (), {})
    assert _fingerprint(([first],)) != _fingerprint(([second],))
    assert _fingerprint(([[first]],)) == _fingerprint(([[first]],))


class _Holder:
    pass


_LEAF_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8),
    st.text(min_size=62, max_size=67), st.integers(10 ** 12 - 2, 10 ** 12 + 2).map(lambda n: n * (-1) ** n),
    st.binary(max_size=80), st.sampled_from([int, str, _Holder, type(None)]), st.lists(st.integers(), max_size=3),
    st.builds(_Holder), st.integers(-3, 3).map(lambda n: type("Local", (), {"n": n})))


@given(st.dictionaries(st.text(min_size=1, max_size=5), _LEAF_VALUES, max_size=8))
def test_an_objects_attributes_are_fingerprinted_as_values_at_the_last_depth(attributes) -> None:
    """The attributes of an argument's object are told without a call for the most
    frequent kinds: the same as the fingerprint of each at that depth."""
    from cleanup_trace.runtime import _fingerprint, _token

    holder = _Holder()
    holder.__dict__.update(attributes)
    expected = tuple((key, _fingerprint(value, 2)) for key, value in list(attributes.items())[:6])
    assert _fingerprint((holder,)) == (_token(tuple), 1, (_token(_Holder), *expected))
    # The arguments themselves: a short text, a small int or None told without a call too.
    arguments = tuple(attributes.values())
    assert _fingerprint(arguments) == (_token(tuple), len(arguments),
                                       *[_fingerprint(value, 1) for value in arguments[:4]])


def test_fingerprints_name_kinds_by_number_and_leave_the_garbage_collector() -> None:
    """A fingerprint names kinds (and a method's function) by numbers given once each:
    made of numbers and texts, it stops being walked by the garbage collector, yet tells
    the same calls and other calls apart as the kinds did; a class of yours is forgotten
    with the records."""
    import gc

    from cleanup_trace import runtime

    class First:
        def __init__(self, value):
            self.value = value

        def method(self):
            return self.value

    class Second(First):
        pass

    calls = [(First(1),), (First(1),), (Second(1),), (First(2),), ([First(1)],), (First(1).method,),
             (First,), (Second,), (True,), (1,), (1.0,), ("x" * 100,), (b"x" * 100,), (10 ** 13,)]
    prints = [runtime._fingerprint(call) for call in calls]
    assert prints[0] == prints[1] and len(set(prints)) == len(prints) - 1
    for _ in range(6):  # (a nested tuple is let go once the ones inside it were)
        gc.collect()
    assert not any(gc.is_tracked(fingerprint) for fingerprint in prints)
    assert First in runtime._kind_tokens
    runtime.release_records()
    assert First not in runtime._kind_tokens and tuple in runtime._kind_tokens
    assert runtime._fingerprint((First(1),)) != prints[0]  # (a number never given twice)


def test_fingerprints_tell_apart_the_items_of_container_subclasses() -> None:
    """A namedtuple, an OrderedDict, a Counter or a library's list subclass given with
    other items is another call (they all looked like the first one: a duplicate)."""
    import collections

    from cleanup_trace.runtime import _fingerprint

    class Row(list):
        def __getitem__(self, index):  # (its own code is never run for a fingerprint)
            raise AssertionError("user code ran")

        __len__ = __iter__ = __getitem__

    Point = collections.namedtuple("Point", "x y")
    made = [lambda: Point(1, 2), lambda: Point(1, 3), lambda: collections.OrderedDict(a=1),
            lambda: collections.OrderedDict(a=2), lambda: collections.Counter("ab"),
            lambda: collections.Counter("abb"), lambda: Row([1]), lambda: Row([2]),
            lambda: collections.defaultdict(int, a=1), lambda: collections.defaultdict(int),
            lambda: frozenset({1}), lambda: frozenset()]
    for make_first, make_second in zip(made[::2], made[1::2]):
        first = _fingerprint((make_first(),))
        assert first != _fingerprint((make_second(),))
        assert first == _fingerprint((make_first(),))


    class Pretender:  # (a proxy's ``__class__``: ``isinstance`` would run it)
        @property
        def __class__(self):
            raise AssertionError("user code ran")

    assert _fingerprint((Pretender(),)) == _fingerprint((Pretender(),))


CULPRIT_LIB = '''
class Box:
    def __init__(self, content):
        self.content = content


class Leaky:
    """Its reduction forgets ``cache`` once filled: such values do not come back equal."""

    def __init__(self):
        self.cache = None

    def __reduce__(self):
        return (Leaky, ())


class Fragile:
    """Its reduction fails once ``broken`` is set."""

    def __init__(self, broken=False):
        self.broken = broken

    def __reduce__(self):
        if self.broken:
            raise RuntimeError("cannot reduce a broken Fragile")
        return (Fragile, ())


class Growing:
    def __init__(self, n):
        self.started = self.start()  # (recorded with a self that has no ``n`` yet)
        self.n = n

    def start(self):
        return True

    def __reduce__(self):
        return (Growing, (self.n,))


def keep(*values):
    return len(values)
'''

CULPRIT_SCRIPT = '''
from cleanup_trace import Recorder, serialise

checked = []
original = serialise.check_round_trip


def counting(value, data):
    # the calls of keep() (whose arguments are all objects), not the constructors'
    if isinstance(value, dict) and value.get("args") and not any(type(a) in (int, bool) for a in value["args"]):
        checked.append(value)
    return original(value, data)


serialise.check_round_trip = counting
with Recorder():
    import boxes
    for n in range(6):
        boxes.keep(boxes.Box(n))
    leaky = boxes.Leaky()
    leaky.cache = "filled"
    boxes.keep(boxes.Box(100), leaky)  # does not round-trip: Leaky's fault
    boxes.keep(boxes.Box(101), boxes.Fragile(broken=True))  # does not encode: Fragile's fault
    boxes.keep(boxes.Box(102))  # (stored: not a third refusal in a row, which gives keep() up)
    # A test module's class, out of the survey's sight (a datetime's zone): nobody's fault
    import datetime
    import test_zones
    boxes.keep(boxes.Box(103), datetime.datetime(2020, 1, 1, tzinfo=test_zones.Zone()))
    # A stateless object of a module of yours still importing: refused for the moment
    import importing_boxes
    checked.clear()
    for n in range(6, 12):
        boxes.keep(boxes.Box(n))
    print("box checks:", len(checked))
    checked.clear()
    for n in range(12, 15):
        boxes.keep(boxes.Box(n), boxes.Leaky())
        boxes.keep(boxes.Box(n), boxes.Fragile())
    print("leaky and fragile checks:", len(checked))
    for n in range(6):
        boxes.keep(boxes.Growing(n))
    checked.clear()
    for n in range(6, 12):
        boxes.keep(boxes.Growing(n))
    print("growing checks:", len(checked))
'''


def test_a_failure_puts_back_under_check_only_the_class_at_fault(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """A value that does not store says which class failed (its reduction raised, its state
    came back different, its decoding raised): only that class's values are checked
    again, not every type the failing value held."""
    pytester.makepyfile(boxes=textwrap.dedent(CULPRIT_LIB), script=textwrap.dedent(CULPRIT_SCRIPT),
                        test_zones="import datetime\n\nclass Zone(datetime.tzinfo):\n    pass\n",
                        importing_boxes="import boxes\n\nclass Flag:\n    pass\n\n\nFLAG = Flag()\n"
                                        "boxes.keep(boxes.Box(104), FLAG)\n")
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    clean_env.setenv("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "40")
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    # Growing.start() is called with a self its __reduce__ cannot reduce yet (no ``n``):
    # that says nothing of whole Growing objects (on 3.9 an AttributeError does not say
    # which object lacked the attribute: Growing is checked again, for start() only).
    result.stdout.fnmatch_lines(["box checks: 0", "leaky and fragile checks: 6", "growing checks: 0"])


PER_FUNCTION_SCRIPT = COUNTING_CHECKS + """
def checks(function, first):
    checked.clear()
    for n in range(first, first + 3):
        function(boxes.Leaky(), n)
    return len(checked)


serialise.check_round_trip = counting
with Recorder():
    import boxes
    leaky = boxes.Leaky()
    leaky.cache = "filled"  # (as keep() sees them, say: half-way through a change)
    boxes.keep(leaky, 0.5)  # does not round-trip: refused
    for n in range(6):  # (the others come back equal: trusted)
        boxes.hold(boxes.Leaky(), n)
    print("checks:", checks(boxes.keep, 10), checks(boxes.hold, 10))
"""


def test_a_failure_puts_the_class_back_under_check_for_the_function_that_met_it(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """What fails is how one function sees the class's objects (tomlkit's containers,
    given to the method that is changing them): its later values of the class are
    checked, other functions' stay trusted (tomlkit's suite checked 617 values, 243)."""
    clean_env.setenv("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "40")
    result = run_script(pytester, clean_env, boxes=CULPRIT_LIB + "\n\ndef hold(*values):\n    return len(values)\n",
                        script=PER_FUNCTION_SCRIPT)
    result.stdout.fnmatch_lines(["checks: 3 0"])


def test_a_failure_names_the_class_at_fault(monkeypatch: pytest.MonkeyPatch) -> None:
    """The object whose state came back different, whose reduction raised, whose decoding
    raised: its class, not the others the value holds."""
    import types

    from cleanup_trace import serialise

    module = types.ModuleType("cleanup_trace_culprits")
    exec(CULPRIT_LIB + textwrap.dedent("""
        class Holder:
            def __init__(self, held):
                self.held = held


        class Unbuildable:
            def __init__(self):
                object.__setattr__(self, "state", 1)

            def __setattr__(self, name, value):
                raise ValueError("read-only")


        class Strict(dict):  # (left to jsonpickle, whose decoder sets its items)
            def __setitem__(self, key, value):
                raise KeyError("frozen")
        """), module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for cls in (module.Box, module.Leaky, module.Fragile, module.Holder, module.Unbuildable, module.Strict):
        cls.__module__ = module.__name__
    leaky = module.Leaky()
    leaky.cache = "filled"
    value = {"args": [module.Box(1), module.Holder(leaky)], "kwargs": {}}
    with pytest.raises(serialise.Unserialisable) as caught:
        serialise.check_round_trip(value, serialise.encode(value))
    assert caught.value.culprit is module.Leaky  # (its own state holds the difference: cache)
    with pytest.raises(serialise.Unserialisable) as caught:
        serialise.encode({"args": [module.Box(2), module.Holder(module.Fragile(broken=True))], "kwargs": {}})
    assert caught.value.culprit is module.Fragile
    value = {"args": [module.Box(3), module.Holder(module.Unbuildable())], "kwargs": {}}
    with pytest.raises(serialise.Unserialisable, match="does not decode") as caught:
        serialise.check_round_trip(value, serialise.encode(value))
    assert caught.value.culprit is module.Unbuildable
    strict = module.Strict()
    dict.__setitem__(strict, "a", 1)
    value = {"args": [module.Box(4), module.Holder(strict)], "kwargs": {}}
    with pytest.raises(serialise.Unserialisable, match="does not decode") as caught:
        serialise.check_round_trip(value, serialise.encode(value))
    assert caught.value.culprit is module.Strict
    # Held by no object: the class of what came back as another type (a bound method of
    # a text decodes as str's unbound one), or of what the encoder refuses outright.
    value = {"args": [" ".join, module.Box(5)], "kwargs": {}}
    with pytest.raises(serialise.Unserialisable, match="does not round-trip") as caught:
        serialise.check_round_trip(value, serialise.encode(value))
    assert caught.value.culprit is type(" ".join)
    value = {"args": [ValueError(module.Box(7)), module.Box(8)], "kwargs": {}}  # (args compared with ==)
    with pytest.raises(serialise.Unserialisable, match="does not round-trip") as caught:
        serialise.check_round_trip(value, serialise.encode(value))
    assert caught.value.culprit is ValueError
    with pytest.raises(serialise.Unserialisable, match="is an iterator") as caught:
        serialise.encode({"args": [iter([1]), module.Holder(module.Box(6))], "kwargs": {}})
    assert caught.value.culprit is type(iter([]))


def test_a_failed_store_keeps_no_object_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    """Noting the class at fault must not tie the user's objects to a reference cycle
    (the exception's frames hold the pickler that noted it): freed by reference counting,
    as without the tool (boltons' tests count live objects)."""
    import gc
    import types
    import weakref

    from cleanup_trace import serialise

    module = types.ModuleType("cleanup_trace_fragile")
    exec(CULPRIT_LIB, module.__dict__)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    module.Fragile.__module__ = module.__name__
    fragile = module.Fragile(broken=True)
    alive = weakref.ref(fragile)
    gc.disable()
    try:
        with pytest.raises(serialise.Unserialisable):
            serialise.encode({"args": [fragile], "kwargs": {}})
        del fragile
        assert alive() is None
    finally:
        gc.enable()


# A chain of distinct functions, each called once per descent: new calls at every depth.
DEEP_LIB = "".join(f"def descend{level}(depth):\n    return descend{level + 1}(depth + 1)\n\n\n"
                   for level in range(600))

DEEP_SCRIPT = '''
import sys

from cleanup_trace import Recorder, runtime

with Recorder():
    import deep
    for limit in range(300, 340):  # the limit is met in the tool's frames for some of them
        sys.setrecursionlimit(limit)
        try:
            deep.descend0(0)
        except RecursionError:
            pass
    sys.setrecursionlimit(1000)
    print("disabled:", runtime.stats()["functions disabled by a tool error"],
          "too deep:", runtime.stats()["skipped: stack too deep to record"] > 0)
'''


def test_a_stack_at_the_recursion_limit_is_not_a_tool_failure(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """A program recursing until RecursionError meets the limit inside the tool's frames
    at times: that call is not recorded, the function is not disabled, and the program
    still gets its RecursionError."""
    pytester.makepyfile(deep=DEEP_LIB, script=DEEP_SCRIPT)
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["disabled: 0 too deep: True"])


def test_the_globals_a_function_reads_are_checked_by_namespace() -> None:
    """The watched globals are compared per namespace by one look-up of all names; a
    change, a deleted name, a name that may be absent or hold one of several objects are
    each told by the first changed name, as a loop over them would."""
    import types as std_types

    from cleanup_trace import runtime

    module = {"__name__": "app", "helper": len, "limit": 3, "maybe": 1}
    holder = type("Holder", (), {"setting": "a"})
    mapping = std_types.MappingProxyType(holder.__dict__)  # (a class's namespace)
    entries = ((module, "helper", {runtime._identity(len)}), (module, "limit", {runtime._identity(3)}), (mapping, "setting", {runtime._identity("a")}),
               (module, "absent", (runtime._ABSENT,)), (module, "maybe", {runtime._identity(1), runtime._identity(2)}))
    watched = runtime._Watched(entries)
    assert watched.first_changed() is None
    module["maybe"] = 2
    module["absent"] = "now here"
    assert "app.absent" == watched.first_changed()
    del module["absent"]
    holder.setting = "b"
    assert ".setting" in watched.first_changed()
    holder.setting = "a"
    module["limit"] = 4
    assert "app.limit" == watched.first_changed()
    del module["limit"]  # a test deleting a global
    assert "app.limit" == watched.first_changed()
    module["limit"] = 3
    module["maybe"] = 5
    assert "app.maybe" == watched.first_changed()
    # Names that must stay absent are told apart from the others in one test; a class's
    # names are one group (the same proxy of its namespace each time).
    holder.other = 1
    attributes = {"kept": 1}
    entries = ((runtime._class_namespace(holder), "setting", (runtime._identity("a"),)),
               (runtime._class_namespace(holder), "other", (runtime._identity(1),)),
               (attributes, "get", (runtime._ABSENT,)), (attributes, "put", (runtime._ABSENT,)))
    watched = runtime._Watched(entries)
    assert (1, 1, None) == (len(watched.grouped), len(watched.absent), watched.first_changed())
    attributes["put"] = "patched"
    assert watched.first_changed().endswith(".put")
    # Watched while a test has a name patched: told as changed until the test puts back
    # what the module defined.
    module["limit"] = patched = object()
    watched = runtime._Watched(((module, "helper", {runtime._identity(len)}), (module, "limit", {runtime._identity(3)})))
    assert "app.limit" == watched.first_changed()
    module["limit"] = 3
    assert watched.first_changed() is None
    del patched


CALLEE_LIB = '''
def inner(n):
    return n + 1


def outer(n):
    total = 0
    for k in range(n):
        total += inner(k)
    return total
'''

# The qualnames of the functions whose globals are looked at, in ``looked``.
LOOKS_COUNTED = '''
from cleanup_trace import Recorder, runtime

looked = []
original = runtime.FunctionRecord._patched_global


def counting(self):
    looked.append(self.qualname)
    return original(self)


runtime.FunctionRecord._patched_global = counting
'''

CALLEE_SCRIPT = LOOKS_COUNTED + '''
with Recorder():
    import callees
    for n in range(5):
        callees.inner(100 + n)  # its budget is full, its cases still to be checked
    looked.clear()
    callees.outer(30)
    print("looked at:", sorted(set(looked)), looked.count("inner"))
'''


def test_a_callee_whose_globals_the_running_call_watches_tells_it_nothing(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """A call refused by a full budget inside a recorded call looked at its globals to
    tell that call of a patch (python-stdnum's ``compact()`` inside ``validate()``, 29,000
    times). The running call watches the globals of the callees it names itself."""
    result = run_script(pytester, clean_env, callees=CALLEE_LIB, script=CALLEE_SCRIPT)
    result.stdout.fnmatch_lines(["looked at: ['outer'] 0"])


SHARED_CALLEE_LIB = """
LIMIT = 10


def helper(n):
    return min(n, LIMIT)


def first(n):
    return helper(n) + 1


def second(n):
    return helper(n) + 2
"""

SHARED_CALLEE_SCRIPT = """
import json, pathlib
from cleanup_trace import Recorder, runtime

read = []
original = runtime._globals_read_by


def counting(function, *arguments):
    read.append(function.__qualname__)
    return original(function, *arguments)


runtime._globals_read_by = counting
with Recorder():
    import shared
    shared.first(1)
    shared.LIMIT = 99  # (a test's patch of the callee's global)
    shared.second(2)   # its watch, made now, follows helper: not recorded
    shared.LIMIT = 10
    shared.second(3)
cases = json.loads(pathlib.Path("tests/test-data/shared/second-00.json").read_text())["cases"]
print("second:", [case["call"]["args"] for case in cases], "helper looked at:", read.count("helper"))
print("plain again:", type(shared.helper).__name__, shared.helper.__code__.co_name)
"""


def test_what_a_callee_reads_is_looked_at_once_for_every_watch_that_follows_it(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """The globals a function reads and the callees it names are found once and kept
    for every watch that follows it (python-stdnum's watches followed 3,948 functions,
    1,166 of them distinct); a watch made later still sees a patch of a callee's global,
    and nothing keeps the plain functions from going back."""
    result = run_script(pytester, clean_env, shared=SHARED_CALLEE_LIB, script=SHARED_CALLEE_SCRIPT)
    result.stdout.fnmatch_lines(["second: [[3]] helper looked at: 1", "plain again: function helper"])



REPEATED_INSIDE_LIB = """
RATE = 2


def scaled(n):
    return n * RATE


def total(numbers):
    return sum(scaled(n) for n in numbers)
"""

REPEATED_INSIDE_SCRIPT = LOOKS_COUNTED + """
import json, pathlib

with Recorder():
    import inside
    for _ in range(5):
        inside.scaled(1)         # recorded, then compared with its case (CONSISTENCY_CHECKS)
    looked.clear()
    inside.total([1] * 50)       # scaled(1) repeated 50 times inside one recorded call
    print("looks inside one call:", looked.count("scaled"))
    inside.RATE = 10             # (a test's patch, between two calls)
    inside.total([1] * 3)        # told by the first repeated call: not recorded
    inside.RATE = 2
    inside.total([1] * 4)
cases = json.loads(pathlib.Path("tests/test-data/inside/total-00.json").read_text())["cases"]
print("total:", [len(case["call"]["args"][0]) for case in cases])
"""


def test_a_repeated_call_looks_at_its_globals_once_inside_one_recorded_call(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """A repeated call inside a recorded call looks at its globals to tell that call of a
    patch; a test patches between the calls it makes, so one look per outermost recorded
    call is enough (tomlkit's suite looked 13,000 times, mostly inside the same calls),
    and a patch made before the next one is still told."""
    result = run_script(pytester, clean_env, inside=REPEATED_INSIDE_LIB, script=REPEATED_INSIDE_SCRIPT)
    result.stdout.fnmatch_lines(["looks inside one call: 1", "total: [50, 4]"])


PATCHED_CLASS_LIB = """
class RawText:
    pass


class Emphasis:
    pass


def count(kinds):
    return len(kinds)
"""

PATCHED_CLASS_SCRIPT = """
import json, pathlib
from unittest import mock
from cleanup_trace import Recorder, runtime

with Recorder():
    import tokens
    tokens.count([tokens.RawText])  # (the class found by its name)
    raw, emphasis = tokens.RawText, tokens.Emphasis  # (held before the patch: the real classes)
    with mock.patch("tokens.RawText"), mock.patch("tokens.Emphasis"):
        tokens.count([raw, 1])  # decodes as the mock: not recorded, nothing to blame
        tokens.count([emphasis])  # never found by its name before: the same
    record = next(record for module in runtime._state.modules for record in module.records.values()
                  if record.qualname == "count")
    untrusted = type in record.live.untrusted
    stats = dict(runtime._state.stats)
    tokens.count([raw, 1])  # the same calls, the names back: recorded
    tokens.count([emphasis])
cases = json.loads(pathlib.Path("tests/test-data/tokens/count-00.json").read_text())["cases"]
print("type untrusted:", untrusted, "patched:", stats.get("skipped: module global patched"),
      "refused:", stats.get("skipped: unserialisable argument"), "cases:", len(cases))
"""


def test_a_class_a_test_replaced_for_the_moment_blames_no_type(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """A value holding a class of yours whose module name a test patched (mistletoe's
    ``patch('mistletoe.span_token.RawText')`` in a ``setUp``) decodes as the patch: the
    call is skipped as patched, and ``type`` stays trusted (else every later value
    holding a class was decoded again: 266 checks in mistletoe's suite)."""
    result = run_script(pytester, clean_env, tokens=PATCHED_CLASS_LIB, script=PATCHED_CLASS_SCRIPT)
    result.stdout.fnmatch_lines(["type untrusted: False patched: 2 refused: None cases: 3"])


GROWN_REGISTRY_LIB = """
_made = {}  # key -> class: filled by make(), which a test's class definitions call


def _restore(key, data):
    return _made[key](data)


def make(key):
    class Made:
        def __init__(self, data):
            self.data = data

        def __eq__(self, other):
            return type(other) is type(self) and other.data == self.data

        def __reduce__(self):
            return (_restore, (key, self.data))

    _made[key] = Made
    return Made


class Kept:  # rebuilt through the same function, from a registration at import
    def __init__(self, data):
        self.data = data

    def __eq__(self, other):
        return type(other) is type(self) and other.data == self.data

    def __reduce__(self):
        return (_restore, ("kept", self.data))


_made["kept"] = Kept


def total(value):
    return sum(value.data)
"""

GROWN_REGISTRY_PLUGIN = """
import registry

Plugged = registry.make("plugin")  # (another module of yours registering as it imports)


def describe(value):
    return repr(value.data)
"""

GROWN_REGISTRY_SCRIPT = """
import json, pathlib
from cleanup_trace import Recorder, runtime

with Recorder():
    import plugins, registry
    registry.total(registry.Kept([3]))  # through _made["kept"], made by the import itself
    registry.total(plugins.Plugged([4]))  # through _made["plugin"], made by another import
    Made = registry.make("a")  # (a test module's class definition, after the import)
    registry.total(Made([1, 2]))  # rebuilt through _made["a"]: a replay has no such entry
    stats = dict(runtime._state.stats)
cases = json.loads(pathlib.Path("tests/test-data/registry/total-00.json").read_text())["cases"]
print("refused:", stats.get("skipped: unserialisable argument"), "cases:", len(cases))
"""


def test_a_value_rebuilt_through_a_registry_filled_after_the_import_is_refused(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """A value whose reduction calls a function of yours that looks the class up in a
    module-level dict filled after your modules imported (pyrsistent's
    ``_restore_seq_field_pickle`` and ``_seq_field_types``, filled as a test module's
    classes with typed fields are defined) decodes while recording and not in a replay,
    which imports the module afresh: refused with the reason. (Which entry the decoding
    reads is not known: once the dict grew, every value rebuilt through that function is
    refused. Before, one rebuilt from what the imports put there stores, another module
    of yours registering as it imports included.)"""
    clean_env.setenv("PYTESTCLEANUP_LOG_LEVEL", "DEBUG")
    result = run_script(pytester, clean_env, registry=GROWN_REGISTRY_LIB, plugins=GROWN_REGISTRY_PLUGIN,
                        script=GROWN_REGISTRY_SCRIPT)
    result.stdout.fnmatch_lines(["refused: * cases: 2"])
    assert "function=registry.total reason='unserialisable argument' detail='rebuilt by registry._restore, " \
           "which reads registry._made: it holds 3 items, 2 when your modules finished importing" \
        in result.stderr.str()


MOVES_LIB = """
class _Moves:
    pass


def add_move(name, value):
    setattr(_Moves, name, value)


def remove_move(name):
    try:
        delattr(_Moves, name)
    except AttributeError:
        raise AttributeError(f"no such move, {name!r}")
"""

MOVES_SCRIPT = """
import json, pathlib
from cleanup_trace import Recorder, runtime

with Recorder():
    import moves
    moves.add_move("spam", 1)  # (a test's own move)
    moves.remove_move("spam")  # replayed, there is no such move
    try:
        moves.remove_move("eggs")
    except AttributeError:
        pass
    stats = dict(runtime._state.stats)
cases = json.loads(pathlib.Path("tests/test-data/moves/remove_move-00.json").read_text())["cases"]
print("changes:", stats.get("skipped: changes its module's state"), "cases:", [case["call"]["args"] for case in cases],
      "add_move file:", pathlib.Path("tests/test-data/moves/add_move-00.json").exists())
"""


def test_a_call_adding_or_removing_an_attribute_of_a_class_of_its_module_changes_its_state(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """six's ``remove_move`` deletes from a class of its module a move a test added: replayed,
    there is none. A stored call after which a class of its module, or a module of its
    package, that its code names has more or fewer attributes changed its module's state,
    as a setter does: not stored (the one that found nothing to remove is)."""
    result = run_script(pytester, clean_env, moves=MOVES_LIB, script=MOVES_SCRIPT)
    result.stdout.fnmatch_lines(["changes: 2 cases: [['eggs']] add_move file: False"])


IDENTITY_SCRIPT = '''
import sys
from cleanup_trace import serialise
from cleanup_trace._identity import identity

heard = []
sys.addaudithook(lambda event, arguments: heard.append(event) if event == "builtins.id" else None)
objects = [object(), [], {}, set(), 1.5, "text", None, int, sys] + [[n] for n in range(1000)]
keys = [identity(item) for item in objects]
value = {"args": [[{"n": n, "items": [n, str(n)]} for n in range(50)], (1, 2)], "kwargs": {}}
seen = serialise.survey(value, 10000)
data = serialise.encode(value, plain=seen.plain)
serialise.check_round_trip(value, serialise.encode(value))
print("unique:", len(set(keys)) == len(objects), "id:", identity is id, "events:", len(heard))
'''


def test_the_tools_walks_number_objects_without_the_id_audit_event(pytester: pytest.Pytester) -> None:
    """Every id() raises an audit event, which the recorder's own hook hears as a call of
    Python (tomlkit's recording made 720,000): the walks that number the objects of a
    value use CPython's address hash instead, as unique among live objects."""
    pytester.makepyfile(script=IDENTITY_SCRIPT)
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["unique: True id: False events: 0"])


REBUILDING_SOURCE = '''
class Note:  # plain: its state is its instance dict
    def __init__(self, indent):
        self.indent = indent


class Box:  # rebuilds itself: its __setstate__ indents the notes it holds again
    def __init__(self, notes):
        self.notes = notes

    def __reduce__(self):
        return (Box, ([],), {"notes": self.notes})

    def __setstate__(self, state):
        for note in state["notes"]:
            note.indent = "  "
        self.notes = state["notes"]
'''


def test_a_difference_inside_an_object_that_rebuilds_itself_blames_its_class() -> None:
    """tomlkit's ``Container.__setstate__`` appends its items again, which indents their
    ``Trivia``: the class checked again from then on is the one that rebuilds itself, not
    the plain holder of the changed attribute (every later value holding a ``Trivia``
    was decoded again)."""
    import types as std_types

    from cleanup_trace import serialise

    module = std_types.ModuleType("cleanup_trace_rebuilding_shapes")
    exec(compile(textwrap.dedent(REBUILDING_SOURCE), "<rebuilding shapes>", "exec"), module.__dict__)
    sys.modules[module.__name__] = module
    try:
        box = module.Box([module.Note("")])
        with pytest.raises(serialise.Unserialisable, match=r"indent") as raised:
            serialise.check_round_trip(box, serialise.encode(box))
        assert raised.value.culprit is module.Box
        assert raised.value.holders == (module.Note, module.Box)  # (what the blame counts)
    finally:
        del sys.modules[module.__name__]


RELEASE_SCRIPT = '''
import atexit

from cleanup_trace import Recorder, runtime


def records():
    return sum(len(instrumenter.records) for instrumenter in runtime._state.modules)


# (registered before recording starts: runs after the tool's own exit handlers)
atexit.register(lambda: print("records at the very end:", records(), flush=True))
with Recorder():
    import points
    points.norm(points.Point(1, 2))
print("records once stopped:", records())
'''


def test_the_records_are_dropped_at_exit_once_recording_is_over(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """The interpreter's teardown frees them faster by reference counts than through its
    last garbage collections (python-stdnum: 0.1 s); the cases were written before."""
    result = run_script(pytester, clean_env, points=POINTS_LIB, script=RELEASE_SCRIPT)
    result.stdout.fnmatch_lines(["records once stopped: 2", "records at the very end: 0"])
    assert (pytester.path / "tests" / "test-data" / "points" / "norm-00.json").is_file()


GUARDED_LIB = '''
class Guarded:
    def __init__(self, items):
        self.items = list(items)
        self.pending = iter(self.items)  # (no iterator stores: storing it would consume it)
        self.count = len(self.items)  # (what tells two of them apart by fingerprint)

    def size(self, extra):
        return len(self.items) + extra


class Base:
    def __init__(self, n):
        self.n = n

    def twice(self):
        return 2 * self.n


def local_class():
    class Local(Base):  # (made inside a function: no name finds it again, none of its objects stores)
        pass

    return Local
'''

GUARDED_SCRIPT = '''
from cleanup_trace import Recorder, runtime

fingerprinted = []
original = runtime._fingerprint


def counting(value, depth=0):
    if depth == 0 and value and type(value[0]).__name__ in ("Guarded", "Local"):
        fingerprinted.append(type(value[0]).__name__)
    return original(value, depth)


runtime._fingerprint = counting
with Recorder():
    import guarded
    local = guarded.local_class()
    print(sum(local(n).twice() for n in range(30)))  # (a new object each time: its class tells)
    first, second = guarded.Guarded([1]), guarded.Guarded([1, 2])
    print(first.size(0), second.size(0), sum(first.size(0) for _ in range(2)))
print("fingerprinted:", fingerprinted.count("Local"), fingerprinted.count("Guarded"))
print("unserialisable:", runtime.stats()["skipped: unserialisable argument"])
'''


def test_calls_given_an_object_of_a_class_the_survey_refuses_are_refused_before_their_fingerprint(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """Objects of a class made inside a function never store: once one was refused as a
    first argument, calls given any object of that class are refused before their
    arguments are fingerprinted, as refusals (three in a row give the function up). An
    object refused for what it holds (an iterator) is not noted by its class: another
    object of its class is fingerprinted, the same object is refused up front (as often
    as it comes, the function not given up for it)."""
    clean_env.setenv("PYTESTCLEANUP_LOG_LEVEL", "DEBUG")
    result = run_script(pytester, clean_env, guarded=GUARDED_LIB, script=GUARDED_SCRIPT)
    # Local.__init__ and Local.twice: one fingerprint each (the first call, refused by the
    # survey, notes the class for twice: a half-built self never is), then refused up
    # front until each is given up; Guarded: its two constructors, then size once for
    # each object (the first one's later calls refused up front, counted, but no step
    # towards giving size up: a repeated call was none).
    result.stdout.fnmatch_lines(["870", "1 2 2", "fingerprinted: 2 4",
                                 "unserialisable: 10"])
    result.stderr.fnmatch_lines(["*function=guarded.Base.twice reason='unserialisable argument' detail='guarded.local_"
                                 "class.<locals>.Local objects are of a class made inside a function*"])
    assert "function=guarded.Base.twice" in result.stderr.str()
    data = pytester.path / "tests" / "test-data" / "guarded"
    assert not list(data.glob("Base.twice-*.json")) and not list(data.glob("Guarded.size-*.json"))


METER_LIB = """
RATE = 2


class Base:
    def scaled(self, n):
        return n * RATE


def _made():
    class Local(Base):  # (made inside a function: none of its objects stores)
        pass

    return Local


Local = _made()


def total(values):
    meter = Local()
    return sum(getattr(meter, "scaled")(value) for value in values)  # (a callee no watch follows)
"""

METER_SCRIPT = """
from cleanup_trace import Recorder

with Recorder():
    import meter
    print(meter.total([1]))  # (scaled refused by the survey: its class noted)
    meter.RATE = 10  # (a test's monkeypatch)
    print(meter.total([3]))  # (scaled refused up front, and total told of the patch)
    meter.RATE = 2
"""


def test_a_call_refused_before_its_fingerprint_still_tells_the_recorded_calls_running_of_a_patch(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """``scaled`` is refused up front (its ``self`` is of a class made inside a function);
    the recorded ``total`` running it is told all the same that ``RATE`` is patched: its
    outcome belongs to the patch, and is not kept."""
    run_script(pytester, clean_env, meter=METER_LIB, script=METER_SCRIPT).stdout.fnmatch_lines(["2", "30"])
    data = pytester.path / "tests" / "test-data" / "meter"
    cases = [case for path in data.glob("total-*.json") for case in json.loads(path.read_text())["cases"]]
    assert [case["outcome"]["returned"] for case in cases] == [2]


def test_an_item_of_a_module_table_too_big_to_digest_is_walked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table holds the same object under many keys (sqlparse's ``KEYWORDS``: 540
    entries, 6 token types): one whose digest goes past its limit is not walked again
    for every key (822 walks to the limit made importing sqlparse 0.3 s slower)."""
    from cleanup_trace import runtime

    big_class = type("Big", (), {"__module__": "tables_of_a_module"})
    small_class = type("Small", (), {"__module__": "tables_of_a_module"})
    big, small = big_class(), small_class()
    big.values = list(range(runtime._TABLE_DIGEST_LIMIT + 10))
    small.value = 1
    namespace = {"KEYWORDS": {f"word{index}": big for index in range(50)},
                 "OTHERS": [big, small, big, small]}
    walks: list = []

    def counted(value, limit=runtime._DIGEST_LIMIT):
        walks.append(value)
        return digest(value, limit)

    digest = runtime._state_digest
    monkeypatch.setattr(runtime, "_state_digest", counted)
    monkeypatch.setattr(runtime, "_module_objects", {})
    runtime._note_table_items("tables_of_a_module", namespace, {"tables_of_a_module": None})
    assert [type(value).__name__ for value in walks] == ["Big", "Small"]
    assert runtime._module_objects[runtime._identity(small)] == (
        "tables_of_a_module", "OTHERS", runtime._state_digest(small), 1)
    assert runtime._identity(big) not in runtime._module_objects
