"""Property: a value serialised, written as a data file, read and decoded is equal."""
from __future__ import annotations

import json
import sys
import textwrap
import types
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleanup_trace import serialise
from cleanup_trace.compare import differences
from cleanup_trace.writer import LINE_WIDTH, render

# Keys that read as jsonpickle tags are refused by the recorder's check, never stored
# (test_a_key_that_reads_as_a_jsonpickle_tag_is_refused_not_lost): not values to store.
text_keys = st.text(max_size=5).filter(lambda key: not key.startswith(("py/", "json://")))
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
           | st.binary(max_size=20) | st.decimals(allow_nan=False, allow_infinity=False).map(Decimal)
           | st.fractions().map(Fraction))
values = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4) | st.tuples(children, children)
                      | st.dictionaries(text_keys | st.integers(), children, max_size=4)
                      | st.frozensets(st.integers(), max_size=4)),
    max_leaves=12,
)


class _Holder:
    """An object whose attributes the strict comparison walks."""

    def __init__(self, **attributes):
        self.__dict__.update(attributes)


_compared = st.recursive(
    scalars,
    lambda children: (st.lists(children, max_size=4) | st.dictionaries(text_keys, children, max_size=4)
                      | st.builds(lambda items: _Holder(**items), st.dictionaries(st.sampled_from("abc"), children))),
    max_leaves=12)


def _look_alike(value, data):
    """``value`` with some leaves swapped for ones equal to them by ``==`` but not by type
    (``True`` and ``1``, ``1`` and ``1.0``, ``0.0`` and ``-0.0``), or for other values."""
    if type(value) is list:
        return [_look_alike(item, data) for item in value]
    if type(value) is dict:
        return {key: _look_alike(item, data) for key, item in value.items()}
    if type(value) is _Holder:
        return _Holder(**{key: _look_alike(item, data) for key, item in vars(value).items()})
    choices = [value]
    if type(value) in (bool, int) and value in (0, 1):
        choices += [int(value), bool(value), float(value)]
    elif type(value) is float and value == 0:
        choices += [-value, 0]
    elif type(value) is str:
        choices += [value + "", value + "x"]
    return data.draw(st.sampled_from(choices))


@settings(max_examples=300, deadline=None)
@given(_compared, st.data(), st.booleans())
def test_equal_plain_leaves_are_passed_over_as_the_walk_would(left, data, strict) -> None:
    """The comparison passes over equal text and numbers without walking them: the same
    differences, at the same paths, as walking every leaf."""
    from unittest import mock

    from cleanup_trace import compare

    right = _look_alike(left, data)
    shortcut = differences(left, right, strict=strict)
    with mock.patch.object(compare, "_PLAIN_LEAVES", frozenset()):
        assert differences(left, right, strict=strict) == shortcut


@settings(max_examples=150, deadline=None)
@given(values)
def test_value_survives_the_data_file(value) -> None:
    """encode -> render -> json.loads -> decode gives an equal value (NaN included)."""
    header = {"format": serialise.FORMAT, "module": "m", "qualname": "f", "role": "", "async": False,
              "generator": False}
    text = render(header, [{"call": serialise.encode({"args": [value], "kwargs": {}}), "outcome": {}}])
    restored = serialise.decode(json.loads(text)["cases"][0]["call"])["args"][0]
    assert [] == differences(restored, value)


@settings(max_examples=150, deadline=None)
@given(values)
def test_plain_values_take_the_fast_path_to_the_same_form(value) -> None:
    """Whenever the survey calls a value plain, the C-codec copy is exactly jsonpickle's form."""
    call = {"args": [value], "kwargs": {}}
    if serialise.survey(call, limit=10_000).plain:
        # Compared as text: NaN is not equal to itself, and each form holds its own NaN.
        assert serialise.dumps(serialise.encode(call)) == serialise.dumps(serialise.encode(call, plain=True))


@settings(max_examples=60, deadline=None)
@given(st.lists(values, max_size=4))
def test_file_text_holds_the_document_and_short_values_stay_on_one_line(cases) -> None:
    """Cases rendered once and spliced in parse back to the whole document, key order
    kept; no line is longer than the width unless one value on it has no shorter form."""
    header = {"module": "m", "qualname": "f", "format": serialise.FORMAT}
    documents = [{"outcome": {"returned": serialise.encode(value)}, "call": {"args": [], "kwargs": {}}}
                 for value in cases]
    expected = {"cases": [{"call": case["call"], "outcome": case["outcome"]} for case in documents],
                "format": serialise.FORMAT, "module": "m", "qualname": "f"}
    text = render(header, documents)
    assert json.dumps(expected, allow_nan=True) == json.dumps(json.loads(text), allow_nan=True)
    for line in text.splitlines():
        if len(line) > LINE_WIDTH:  # then what follows its key is one scalar or a deep value
            value = line.strip().rstrip(",")
            value = value.split(": ", 1)[1] if value.startswith('"') and '": ' in value else value
            assert not isinstance(json.loads(value), (list, dict)) or len(line) - len(line.lstrip()) >= 16, line


def test_a_small_case_reads_on_a_few_lines() -> None:
    text = render({"module": "m", "qualname": "f", "format": 1},
                  [{"call": {"args": [1, [2, 3], {"a": None}], "kwargs": {}}, "outcome": {"returned": "x"}}])
    assert text.splitlines()[1:7] == ['  "cases": [', "    {",
                                      '      "call": {"args": [1, [2, 3], {"a": null}], "kwargs": {}},',
                                      '      "outcome": {"returned": "x"}', "    }", "  ],"]


builtin_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda children: (st.lists(children, max_size=4) | st.tuples(children, children)
                      | st.dictionaries(text_keys | st.integers(), children, max_size=4)
                      | st.frozensets(st.integers() | st.text(max_size=3), max_size=4)
                      | st.sets(st.integers(), max_size=4)),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(builtin_values)
def test_builtin_values_need_no_decode_check(value) -> None:
    """What the survey calls builtin (recording skips the decode-and-compare for it) does
    come back equal through the data file."""
    call = {"args": [value], "kwargs": {}}
    assert serialise.survey(call, limit=10_000).builtin
    header = {"format": serialise.FORMAT, "module": "m", "qualname": "f", "role": "", "async": False,
              "generator": False}
    text = render(header, [{"call": serialise.encode(call), "outcome": {}}])
    assert [] == differences(serialise.decode(json.loads(text)["cases"][0]["call"]), call)


def test_standard_library_values_store_whatever_they_cached() -> None:
    """A ``pathlib`` path caches its text once printed (``_str``), which pickling drops:
    the standard library's own ``==`` decides, not the state compared slot by slot."""
    import pathlib

    path = pathlib.PurePosixPath("/srv/data/file.txt")
    str(path)
    call = {"args": [path], "kwargs": {}}
    serialise.check_round_trip(call, serialise.encode(call))


class SlottedError(Exception):
    __slots__ = ("loc", "args")  # (pyparsing's ParseBaseException: a constructor setting args)

    def __init__(self, loc):
        self.loc = loc
        self.args = (loc,)


def test_an_exception_entering_its_constructor_is_compared_without_failing() -> None:
    """``self`` of an exception's ``__init__`` may not have its ``args`` slot yet."""
    half_built = SlottedError.__new__(SlottedError)
    assert [] == differences(SlottedError.__new__(SlottedError), half_built)
    assert differences(SlottedError(1), SlottedError(2))


class Leaf:
    """parso's leaves: ``==`` is identity unless compared with a string; a leaf links to
    its parent, whose children link back."""

    def __init__(self, value, parent=None):
        self.value, self.parent, self.children = value, parent, []

    def __eq__(self, other):
        return self.value == other if isinstance(other, str) else self is other

    __hash__ = object.__hash__


class Count(int):
    """An ``int`` subclass has an instance dict, but its number lives elsewhere."""


def test_objects_whose_eq_is_identity_compare_by_state() -> None:
    def tree(last):
        root = Leaf("root")
        root.children = [Leaf("def", root), Leaf(last, root)]
        return root

    recorded, replayed = tree("pass"), tree("pass")
    assert recorded.children[0] != replayed.children[0]  # (what replay used to report)
    assert [] == differences(replayed.children[0], recorded.children[0])
    assert ["__dict__['parent'].__dict__['children'][1].__dict__['value']: 'return' != 'pass'"] == \
        differences(tree("return").children[0], recorded.children[0])
    assert differences(Count(1), Count(2))  # the same (empty) dict, other numbers


def test_an_exception_stored_as_a_value_keeps_what_it_was_raised_from() -> None:
    """``raise Outer() from inner``: code given the exception may read ``__cause__``."""
    try:
        try:
            raise KeyError("inner")
        except KeyError as inner:
            raise LookupError("outer") from inner
    except LookupError as error:
        raised = error
    call = {"args": [raised], "kwargs": {}}
    data = serialise.encode(call)
    serialise.check_round_trip(call, data)
    restored = serialise.decode(json.loads(json.dumps(data)))["args"][0]
    assert repr(restored.__cause__) == "KeyError('inner')" and restored.__suppress_context__
    assert "__cause__" not in vars(restored)


CLOSURES = """
def make(step, log):
    def add(value):
        log.append(value)
        return value + step
    return add


def make_pure(step):
    def add(value):
        return value + step
    return add
"""


def test_a_closure_holding_only_lasting_values_is_pickled_once(tmp_path, monkeypatch) -> None:
    """The same closure given again is not pickled again while what it holds cannot
    change; one holding a list is pickled every time (the list may have changed)."""
    import importlib

    (tmp_path / "closures_app.py").write_text(CLOSURES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(serialise, "_from_user_code", lambda function: True)  # (not instrumented here)
    closures = importlib.import_module("closures_app")
    assert serialise._identities_of(closures.make(1, [])) is None
    pure = closures.make_pure((1, "a", len))
    assert serialise._identities_of(pure) == serialise._identities_of(pure) is not None
    first = serialise.encode({"args": [pure], "kwargs": {}})
    assert serialise._pickled_functions[pure][1]
    assert serialise.encode({"args": [pure], "kwargs": {}}) == first
    logging = closures.make(1, [])
    serialise.encode({"args": [logging], "kwargs": {}})
    assert logging not in serialise._pickled_functions



GRAMMAR = """
class Element:
    \"\"\"Callable, and printing it caches its name (pyparsing's ParserElement).\"\"\"

    def __init__(self, pattern):
        self.pattern = pattern
        self.name = None

    def __call__(self):
        return self.pattern

    def __repr__(self):
        self.name = f"Element({self.pattern!r})"
        return self.name


class Grammar:
    def __init__(self, pattern):
        self.element = Element(pattern)
"""


def test_storing_a_value_runs_none_of_its_reprs(tmp_path, monkeypatch) -> None:
    """Storing and checking a value never prints the user's objects: a __repr__ may change
    the object (jsonpickle printed every callable attribute value to look for Cython
    functions; difference messages printed both sides)."""
    (tmp_path / "printed_grammar.py").write_text(GRAMMAR)
    monkeypatch.syspath_prepend(str(tmp_path))
    import printed_grammar

    grammar = printed_grammar.Grammar("-")
    serialise.check_round_trip(grammar, serialise.encode(grammar))
    assert grammar.element.name is None
    other = printed_grammar.Grammar("+")
    assert ["element.pattern: '+' != '-'"] == differences(other, grammar, strict=True)
    assert ["value: length 2 != 1 ([<printed_grammar.Element object>, 1] != [<printed_grammar.Element object>])"] \
        == differences([other.element, 1], [grammar.element], strict=True)
    assert grammar.element.name is None and other.element.name is None
    # Replay's messages are for people: the objects' own repr
    assert "Element('+')" in differences([other.element, 1], [grammar.element])[0]


def test_a_reduction_whose_class_is_gone_fails_to_decode_by_name() -> None:
    """jsonpickle puts an empty list in place of an object whose class (given to its
    reduction) cannot be imported: decoding says which class instead."""
    import pytest

    data = {"args": [{"py/reduce": [{"py/type": "not_a_module_here.Missing"}, {"py/tuple": ["message"]}, {}]}]}
    with pytest.raises(serialise.UnknownClass, match=r"could not find not_a_module_here\.Missing"):
        serialise.decode(data)
    assert {"args": [[]]} == serialise.decode({"args": [{"py/reduce": [{"py/type": "builtins.list"}, {"py/tuple": []}]}]})


def test_a_decimal_nan_comes_back_as_itself() -> None:
    """Decimal('NaN') is unequal to itself, as float NaN: compared as NaN, not with ==."""
    value = {"amount": Decimal("NaN"), "signal": Decimal("sNaN"), "other": Decimal("1.5")}
    serialise.check_round_trip(value, serialise.encode(value))
    assert [] == differences(Decimal("NaN"), Decimal("NaN"))
    assert differences(Decimal("NaN"), Decimal("sNaN")) and differences(Decimal("NaN"), Decimal("1"))


def test_a_key_that_reads_as_a_jsonpickle_tag_is_refused_not_lost() -> None:
    """jsonpickle drops a ``"py/id"`` key of a dict (and a plain copy would be read back as
    a reference): the survey sends such a value through the decode check, which refuses it.
    A ``"json://"`` key is escaped by jsonpickle, never copied as it is."""
    for value in ({"py/id": None}, {"py/object": "x", "a": 1}):
        call = {"args": [value], "kwargs": {}}
        seen = serialise.survey(call, limit=10_000)
        assert not seen.builtin and not seen.plain
        with pytest.raises(serialise.Unserialisable):
            serialise.check_round_trip(call, serialise.encode(call))
    call = {"args": [{"json://1": 2}], "kwargs": {}}
    assert not serialise.survey(call, limit=10_000).plain
    assert serialise.decode(serialise.encode(call)) == call


def test_a_value_holding_a_stack_record_is_refused() -> None:
    """A ``traceback.FrameSummary`` names the file and line where code ran: it replays
    from no other checkout, and after no edit of that file."""
    import traceback

    for value in (traceback.extract_stack(limit=1)[-1], traceback.extract_stack(limit=2),
                  {"defined at": traceback.extract_stack(limit=1)[-1]}):
        with pytest.raises(serialise.Unserialisable, match="record of the call stack"):
            serialise.survey({"args": [value]}, limit=10_000)


THREAD_STATE_CLOSURES = """
import threading


def make():
    state = threading.local()

    def current():
        return state
    return current
"""


def test_dill_is_not_asked_again_about_a_type_it_could_not_pickle(tmp_path, monkeypatch) -> None:
    """The C pickler refuses a closure holding a ``threading.local``; dill, tried next,
    walks everything reachable and refuses it too. The next closure holding one is
    refused without asking dill again (pydash: 150 ms a try)."""
    import importlib

    (tmp_path / "thread_state_app.py").write_text(THREAD_STATE_CLOSURES)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(serialise, "_from_user_code", lambda function: True)  # (not instrumented here)
    monkeypatch.setattr(serialise, "_dill_failed_on", set())
    asked = []
    real_dill = serialise._pickled_by_dill
    monkeypatch.setattr(serialise, "_pickled_by_dill", lambda *args: asked.append(args) or real_dill(*args))
    app = importlib.import_module("thread_state_app")
    for _ in range(3):
        with pytest.raises(serialise.Unserialisable):
            serialise.encode({"args": [app.make()], "kwargs": {}})
    assert len(asked) == 1
    with pytest.raises(serialise.Unserialisable, match="holds a _thread._local object"):
        serialise.encode({"args": [app.make()], "kwargs": {}})


SPAN_MODULE = """
import functools


class Span:
    # A cached property computed from the rest of the state (more-itertools'
    # numeric_range._len); its reduction, like most, does not carry the cache.

    def __init__(self, start, stop):
        self.start, self.stop = start, stop

    @functools.cached_property
    def length(self):
        return self.stop - self.start

    def __reduce__(self):
        return (Span, (self.start, self.stop))

    def __eq__(self, other):
        return isinstance(other, Span) and (self.start, self.stop) == (other.start, other.stop)
"""


def _module_from(source: str, name: str, monkeypatch) -> types.ModuleType:
    """An importable module of the user's (the test module's own classes are refused)."""
    module = types.ModuleType(name)
    exec(source, module.__dict__)
    monkeypatch.setitem(sys.modules, name, module)
    for value in list(vars(module).values()):
        if isinstance(value, type):
            value.__module__ = name
    return module


def test_a_cached_property_computed_on_one_side_only_is_no_difference(monkeypatch) -> None:
    """The stored copy computes it again when read; a value that differs is still one."""
    module = _module_from(SPAN_MODULE, "cleanup_trace_spans", monkeypatch)
    span = module.Span(2, 5)
    assert 3 == span.length  # now in its __dict__; the stored copy's is not
    value = {"args": [span], "kwargs": {}}
    assert [] == differences(serialise.check_round_trip(value, serialise.encode(value)), value, strict=True)
    other = module.Span(2, 5)
    other.__dict__["length"] = 4
    assert ["__dict__['length']: 4 != 3"] == differences(other, span, strict=True)


SYMBOLS_MODULE = """
class Symbol:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


class Terminal(Symbol):  # (no __slots__ of its own: its instances have a dict as well)
    def __init__(self, name, filter_out=False):
        super().__init__(name)
        self.filter_out = filter_out
"""


def test_an_object_keeping_state_in_slots_and_in_a_dict_keeps_both(monkeypatch) -> None:
    """jsonpickle stores only the dict of such an object (lark's ``Terminal`` lost the
    name its base class keeps in a slot); pickling's ``(dict, slots)`` state keeps both."""
    import warnings

    import jsonpickle

    symbols = _module_from(SYMBOLS_MODULE, "cleanup_trace_symbols", monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (its "keys will default to True")
        assert "name" not in jsonpickle.encode(symbols.Terminal("A"))  # (what jsonpickle alone does)
    shared = symbols.Terminal("A", filter_out=True)
    value = [shared, symbols.Terminal("B"), shared]
    restored = serialise.check_round_trip(value, serialise.encode(value))
    assert [("A", True), ("B", False)] == [(item.name, item.filter_out) for item in restored[:2]]
    assert restored[0] is restored[2]


def test_instances_told_apart_by_their_slots_are_different_calls(monkeypatch) -> None:
    from cleanup_trace.runtime import _fingerprint

    symbols = _module_from(SYMBOLS_MODULE, "cleanup_trace_symbols", monkeypatch)
    assert _fingerprint(symbols.Terminal("A")) != _fingerprint(symbols.Terminal("B"))
    assert _fingerprint(symbols.Symbol("A")) != _fingerprint(symbols.Symbol("B"))
    assert _fingerprint(symbols.Terminal("A")) == _fingerprint(symbols.Terminal("A"))


def test_checking_a_stored_value_leaves_its_stored_form_as_it_was() -> None:
    """Decoding is how storing checks a value; jsonpickle's decoder deletes a
    defaultdict's ``default_factory`` from the form it reads, which is the form written."""
    import collections
    import copy

    value = {"args": [collections.defaultdict(list), collections.defaultdict(int, {"a": 1})], "kwargs": {}}
    data = serialise.encode(value)
    before = copy.deepcopy(data)
    serialise.check_round_trip(value, data)
    assert before == data
    restored = serialise.decode(data)["args"]
    assert (list, int, 1) == (restored[0].default_factory, restored[1].default_factory, restored[1]["a"])


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=6), values, max_size=5))
def test_a_case_text_made_from_its_parts_is_its_canonical_text(case) -> None:
    """The recorder keeps a case's text and its call's text from one encoding of each
    part: the joined text must be exactly the canonical one (key order, escapes)."""
    encoded = {key: serialise.encode(value) for key, value in case.items()}
    text, texts = serialise.dumps_by_key(encoded)
    assert serialise.dumps(encoded) == text
    assert {key: serialise.dumps(value) for key, value in encoded.items()} == texts


def test_a_dict_subclass_whose_setitem_reads_its_attributes_stores(tmp_path, monkeypatch) -> None:
    """A dict subclass with its own ``__setitem__`` reading an attribute (an observable
    dict's callback, a schema's allowed keys): jsonpickle's form puts the items back
    first, through that ``__setitem__``, before the attributes exist. Its reduction sets
    them first; one counting its own writes is still refused (the count differs)."""
    (tmp_path / "observed.py").write_text(textwrap.dedent('''
        class Allowed(dict):
            def __init__(self, allowed):
                super().__init__()
                self.allowed = allowed

            def __setitem__(self, key, value):
                if key not in self.allowed:
                    raise KeyError(key)
                super().__setitem__(key, value)


        class Counting(dict):
            def __init__(self):
                super().__init__()
                self.writes = 0

            def __setitem__(self, key, value):
                self.writes += 1
                super().__setitem__(key, value)
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    import observed

    allowed = observed.Allowed({"a", "b"})
    allowed["a"] = 1
    call = {"args": [allowed], "kwargs": {}}
    back = serialise.check_round_trip(call, serialise.encode(call))["args"][0]
    assert type(back) is observed.Allowed and back == {"a": 1} and back.allowed == {"a", "b"}
    counting = observed.Counting()
    counting["x"] = 1
    with pytest.raises(serialise.Unserialisable):
        call = {"args": [counting], "kwargs": {}}
        serialise.check_round_trip(call, serialise.encode(call))


def test_objects_of_another_librarys_compiled_classes_given_a_state_are_not_stored(monkeypatch) -> None:
    """Decoding an object of a class compiled outside the standard library that is
    rebuilt by handing a blank object a state runs its native code on a state it did not
    make (cachebox 5.2's LRUCache corrupted memory that way, and deepdiff's suite crashed
    in the garbage collector): refused by the survey, before any encode. One rebuilt by
    a reduction of its own (bitstring's ``tibs.Tibs``, pyrsistent's ``pvector``) is
    stored, and so are the standard library's objects and class statements'."""
    import collections
    import datetime

    from cleanup_trace import flatten_fast

    class Blank:  # (stands for a compiled class: a class statement cannot be one)
        def __setstate__(self, state):
            self.__dict__.update(state)

    class Reducing:
        def __init__(self, value):
            self.value = value

        def __reduce__(self):
            return (Reducing, (self.value,))

    for kind in (Blank, Reducing):
        kind.__module__ = "somelib._core"
    statement = flatten_fast.of_a_class_statement
    monkeypatch.setattr(flatten_fast, "of_a_class_statement",
                        lambda klass: klass not in (Blank, Reducing) and statement(klass))
    assert serialise._compiled_elsewhere(Blank) and not serialise._compiled_elsewhere(Reducing)
    blank = Blank()
    with pytest.raises(serialise.Unserialisable, match="another library's compiled code"):
        serialise.survey({"args": [[blank]], "kwargs": {}}, limit=10_000)
    serialise.survey({"args": [Reducing(1)], "kwargs": {}}, limit=10_000)
    for value in (collections.OrderedDict(a=1), datetime.datetime(2020, 1, 2), types.SimpleNamespace(a=1)):
        serialise.survey({"args": [value], "kwargs": {}}, limit=10_000)


def _type_hints() -> list:
    import typing

    hints = [list[int], dict[str, list[int]], tuple[int, ...], typing.List[int], typing.Optional[int],
             typing.Union[int, str], typing.Callable[[int], str], typing.Literal["a", 1], typing.Any,
             typing.Dict[str, typing.Optional[typing.List[int]]], Ellipsis]
    if sys.version_info >= (3, 10):
        hints.append(eval("int | None"))  # (written so for 3.9's parser)
    return hints


@pytest.mark.parametrize("hint", _type_hints(), ids=repr)
def test_type_hints_given_as_values_store_and_decode_as_themselves(hint) -> None:
    """``list[int]``, ``typing.Optional[str]``, ``int | None``: what libraries converting
    or checking values by their types take as arguments (cattrs, typeguard). jsonpickle
    stores none of them so that they decode; stored as what rebuilds them, the same
    object twice as a reference, they come back equal through both decoders."""
    call = {"args": [hint, [hint, hint]], "kwargs": {"types": types.SimpleNamespace(hint=hint)}}
    data = serialise.encode(call)
    for decoded in (serialise.check_round_trip(call, data), serialise.decode(json.loads(json.dumps(data)))):
        assert decoded["args"][0] == hint and decoded["args"][1] == [hint, hint]
        assert decoded["kwargs"]["types"].hint == hint


def test_a_type_hint_naming_a_test_modules_type_variable_is_refused(tmp_path, monkeypatch) -> None:
    """``typing.Optional[T]`` with ``T = TypeVar("T")`` of a test module (cattrs' generics
    tests): stored by name, it would not decode where the tests are not imported."""
    import typing

    (tmp_path / "test_generic_hints.py").write_text("from typing import TypeVar\n\nT = TypeVar('T')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import test_generic_hints

    for hint in (typing.Optional[test_generic_hints.T], list[test_generic_hints.T]):
        call = {"args": [hint], "kwargs": {}}
        with pytest.raises(serialise.Unserialisable, match=r"test_generic_hints\.T is defined in a test module"):
            serialise.encode(call)


def test_objects_site_binds_in_builtins_come_back_as_themselves() -> None:
    """``help``, ``exit``, ``copyright`` (instances of ``_sitebuiltins`` classes) are
    stored by their builtin name: code compares them with ``is`` (pure_eval asks whether a
    builtin name still holds its builtin), and a copy would be another object."""
    import builtins

    for name in ("help", "exit", "copyright"):
        value = getattr(builtins, name)
        data = serialise.encode({"args": [value], "kwargs": {}})
        assert ["builtins", name] == data["args"][0]["py/reduce"][1]["py/tuple"]
        assert serialise.decode(json.loads(json.dumps(data)))["args"][0] is value
