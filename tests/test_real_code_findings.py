"""What recording real libraries taught the tool (issue 7), each as a user-visible test."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cleanup_trace.rewrite import rewrite_module
from e2e_support import run_script, run_tool

FINDINGS_APP = '''
import io
import os
import random
import sys
import time
import weakref


def roll(sides):
    return random.randint(1, sides)


def ordered(mapping):
    return list(mapping)


def caller_module():
    return sys._getframe(1).f_globals["__name__"]


def stamp(label):
    # A clock the transformer cannot see in the text: only verify can tell.
    return f"{label}-{getattr(time, 'perf_counter_ns')()}"


def quiet(handle):
    return len(handle.name)


def save(path, text):
    with open(path, "w") as handle:
        handle.write(text)
    return len(text)


def keep(callback):
    return callable(callback)


_MISSING = object()


class _Unset:
    def __repr__(self):
        return "UNSET"


UNSET = _Unset()


def pick(value, default=_MISSING):
    return "no default" if default is _MISSING else default


def is_unset(value):
    return value is UNSET


def expand(text):
    return os.path.expandvars(text)


def keywords(**named):
    return sorted(named)


def main():
    random.seed(7)
    print([roll(6) for _ in range(3)], ordered({"b": 1, "a": 2}), caller_module())
    print(stamp("x").startswith("x-"))
    saved, sys.stderr = sys.stderr, io.StringIO()
    try:
        with open(__file__) as handle:
            quiet(handle)
        captured = sys.stderr.getvalue()
    finally:
        sys.stderr = saved
    print("captured", repr(captured))
    print("saved", save("saved.txt", "hello"))
    print(keep(weakref.WeakKeyDictionary()._remove), keep(lambda value: value + 1))
    print("names", sorted(name for name in vars(sys.modules[__name__]) if "cleanup" in name))
    print(pick(_MISSING, _MISSING), pick(1, 2), is_unset(UNSET), is_unset(_Unset()))
    os.environ["FINDINGS_VAR"] = "eggs"
    print(expand("$FINDINGS_VAR/ham"))
    del os.environ["FINDINGS_VAR"]
    print(expand("$FINDINGS_VAR/spam"))
    print(keywords(self=1, other=2))
'''


@pytest.fixture
def findings(pytester: pytest.Pytester, app: Path) -> Path:
    (app / "findings.py").write_text(textwrap.dedent(FINDINGS_APP))
    return app


def test_frame_inspecting_functions_are_left_alone() -> None:
    """A wrapper frame would make sys._getframe(1) see the tool: such functions are skipped."""
    source = "import sys\ndef who():\n    return sys._getframe(1)\ndef plain():\n    return 1\n"
    _, instrumented = rewrite_module(source, "m.py", "m")
    assert ["plain"] == instrumented
    # Looked up by name or held uncalled, then called under another name (pyparsing's
    # autoname_elements reads its caller's local variables so).
    source = ("import sys\ndef names():\n    getframe = getattr(sys, '_getframe', None)\n"
              "    return getframe(1).f_locals\ndef held(get=sys._getframe):\n    return get(1)\n"
              "def plain():\n    return '_getframes'\n")
    _, instrumented = rewrite_module(source, "m.py", "m")
    assert ["plain"] == instrumented


def test_functions_a_decorator_compiles_anew_are_left_alone() -> None:
    """typeguard's ``@typechecked`` rebuilds a function from its source and refuses one with
    a ``__wrapped__`` (the wrapper's): it would leave inflect's methods unchecked."""
    source = ("from typeguard import typechecked\nimport typeguard\n"
              "@typechecked\ndef checked(x: int):\n    return x\n"
              "class Engine:\n    @typeguard.typechecked\n    def plural(self, text: str):\n        return text\n"
              "    def other(self):\n        return 1\n"
              "@typechecked\nclass Checked:\n    def method(self, x: int):\n        return x\n"
              "    class Inner:\n        def deeper(self):\n            return 2\n"
              "def plain():\n    return 1\n")
    _, instrumented = rewrite_module(source, "m.py", "m")
    assert ["Engine.other", "plain"] == instrumented


@pytest.mark.usefixtures("debug_log")
def test_program_output_is_unchanged_and_replays(pytester: pytest.Pytester, findings: Path) -> None:
    """Random draws replay from their recorded state, dict order survives the data file,
    the caller's frame is the caller's, and the tool's log lines never land in a
    sys.stderr the program swapped in."""
    plain = pytester.run(sys.executable, "-c", "import findings; findings.main()")
    recorded = run_tool(pytester, "findings")
    assert plain.outlines == [line for line in recorded.outlines if not line.startswith("written: ")]
    assert "captured ''" == recorded.outlines[2]
    assert "call.skipped function=findings.quiet" in recorded.stderr.str()
    roll = json.loads((findings / "tests/test-data/findings/roll-00.json").read_text())
    assert all("random_state" in case for case in roll["cases"])
    ordered = (findings / "tests/test-data/findings/ordered-00.json").read_text()
    assert ordered.index('"b"') < ordered.index('"a"')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "roll or ordered")
    result.assert_outcomes(passed=len(roll["cases"]) + 1)


def test_module_level_sentinels_replay_as_themselves(pytester: pytest.Pytester, findings: Path) -> None:
    """``MISSING = object()`` (or a stateless instance) passed as an argument is stored by
    its module and name: replay passes the very object, so ``is`` checks still hold."""
    recorded = run_tool(pytester, "findings")
    assert "no default 2 True False" in recorded.outlines
    pick = (findings / "tests/test-data/findings/pick-00.json").read_text()
    assert "cleanup_trace.serialise.load_global" in pick and '"_MISSING"' in pick
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "pick or is_unset")
    # 2 pick cases; is_unset: one case (a fresh _Unset() looks like UNSET to the cheap
    # duplicate check), whose argument is the module's UNSET.
    result.assert_outcomes(passed=2 + 1)


LOCAL_SENTINEL_APP = '''
def make_sentinel(name):
    class Sentinel:  # made inside a function: no importable name
        def __init__(self):
            self.name = name

        def __repr__(self):
            return self.name
    return Sentinel()


MISSING = make_sentinel("MISSING")


def lookup(mapping, key, default):
    value = mapping.get(key, default)
    return "missing" if value is MISSING else value


def main():
    print(lookup({}, "a", MISSING), lookup({"a": 1}, "a", MISSING))
'''


def test_module_level_objects_of_a_local_class_replay_as_themselves(pytester: pytest.Pytester, app: Path) -> None:
    """An instance of a class made inside a function (boltons' ``make_sentinel()``) cannot
    be decoded by value, whatever its state: bound at module level, it is stored by name."""
    (app / "local_sentinel.py").write_text(textwrap.dedent(LOCAL_SENTINEL_APP))
    run_tool(pytester, "local_sentinel").stdout.fnmatch_lines(["missing 1"])
    cases = json.loads((app / "tests/test-data/local_sentinel/lookup-00.json").read_text())["cases"]
    assert 2 == len(cases) and all('"MISSING"' in json.dumps(case["call"]) for case in cases)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "lookup")
    result.assert_outcomes(passed=2, deselected=result.parseoutcomes().get("deselected", 0))


IDENTITY_OBJECT_APP = '''
class Marker:
    def __init__(self, name):
        self.name = name


T = Marker("T")
S = Marker("S")


def describe(spec):
    return {T: "target", S: "scope"}.get(spec, "other")


def is_target(spec):
    return spec is T


class Counter:
    def __init__(self):
        self.n = 0


COUNTER = Counter()  # never compared by identity: stored by value


def bump(counter):
    counter.n += 1
    return counter.n


class Point:  # equal by value, but one of them is special (ecdsa's ``INFINITY``)
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return isinstance(other, Point) and self.x == other.x


INFINITY = Point(None)


def is_infinity(point):
    return point is INFINITY


def main():
    print(describe(T), describe(S), is_target(T), is_target(Marker("X")), bump(COUNTER), bump(COUNTER),
          is_infinity(INFINITY), is_infinity(Point(None)))
    S.name = "changed"  # no longer as its module left it: stored by value from now on
    print(describe(S))
'''


def test_module_objects_the_code_uses_by_identity_replay_as_themselves(pytester: pytest.Pytester,
                                                                       app: Path) -> None:
    """``spec is T`` or ``{T: ...}`` in the module's code: ``T`` (an object with state,
    so no sentinel) is stored by name while it is as its module left it; a copy would be
    another object. Objects never used by identity are stored by value."""
    (app / "identity_objects.py").write_text(textwrap.dedent(IDENTITY_OBJECT_APP))
    run_tool(pytester, "identity_objects").stdout.fnmatch_lines(["target scope True False 1 2 True False", "scope"])
    data = app / "tests/test-data/identity_objects"
    cases = json.loads((data / "describe-00.json").read_text())["cases"]
    assert [True, True, False] == ["load_global" in json.dumps(case["call"]) for case in cases]
    assert "load_global" not in (data / "bump-00.json").read_text()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "describe or is_target or bump or infinity")
    # The copy of the changed S is not S: that one case fails replay (verify quarantines it).
    # INFINITY is compared with ``is`` by the module: by name, whatever its own __eq__ says.
    # (Point(None) looks like it to the cheap fingerprint: one case.)
    result.assert_outcomes(passed=2 + 2 + 2 + 1, failed=1, deselected=result.parseoutcomes().get("deselected", 0))


TABLE_APP = """
class Converter:
    def __init__(self, words):
        self.words = dict(enumerate(words))
        self.loaded = []

    def say(self, number):
        return self.words[number]

    def learn(self, language):
        self.loaded.append(language)
        return len(self.loaded)


CONVERTERS = {"en": Converter(["zero", "one", "two"]), "fr": Converter(["zéro", "un", "deux"])}
ORDERED = [Converter(["first"])]


class Entry(dict):
    pass


ENTRIES = {"apple": Entry(en="apple")}
OPTIONS = Entry(colour="red")  # no sentinel: a dict's items are its state


def option(options, name):
    return options[name]


def converter(language):
    return CONVERTERS[language]


def languages(entry):
    return sorted(entry)


def main():
    print(CONVERTERS["en"].say(1), converter("fr") is CONVERTERS["fr"], ORDERED[0].say(0))
    CONVERTERS["fr"].learn("fr")  # no longer as its module left it: by value from now on
    print(CONVERTERS["fr"].say(2), languages(ENTRIES["apple"]))
    ENTRIES["apple"]["fr"] = "pomme"  # a dict's items are its state too
    print(languages(ENTRIES["apple"]))
    OPTIONS["size"] = 3
    print(option(OPTIONS, "size"))
"""


def test_items_of_module_tables_are_stored_by_reference_while_unchanged(pytester: pytest.Pytester,
                                                                        app: Path) -> None:
    """An object of your class held in a module-level dict or list (num2words'
    converters, emoji's entries) is stored as ``module.TABLE[key]`` while as its module
    left it: small data files, and a returned table item replays as that item (a copy
    misses what later calls add to it). A changed one is stored by value."""
    (app / "tables.py").write_text(textwrap.dedent(TABLE_APP))
    run_tool(pytester, "tables").stdout.fnmatch_lines(["one True first", "deux ['en']", "['en', 'fr']", "3"])
    data = app / "tests/test-data/tables"
    said = [json.dumps(case["call"]) for case in json.loads((data / "Converter.say-00.json").read_text())["cases"]]
    assert [True, True, False] == ['"CONVERTERS", "en"' in said[0], '"ORDERED", 0' in said[1], "load_global" in said[2]]
    assert "deux" in said[2] and "zero" not in said[0]
    returned = json.loads((data / "converter-00.json").read_text())["cases"][0]["outcome"]
    assert '"CONVERTERS", "fr"' in json.dumps(returned)
    given = [json.dumps(case["call"]) for case in json.loads((data / "languages-00.json").read_text())["cases"]]
    assert ['"ENTRIES", "apple"' in text for text in given] == [True, False] and "pomme" in given[1]
    assert "load_global" not in (data / "option-00.json").read_text()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "say or converter or learn or languages "
                                                                          "or option")
    result.assert_outcomes(passed=8)


def test_environment_variables_set_while_recording_replay_with_the_call(pytester: pytest.Pytester,
                                                                       findings: Path) -> None:
    """A call made while a variable differs from the start of recording stores that
    variable; replay sets it for the call only (the other case runs without it)."""
    recorded = run_tool(pytester, "findings")
    assert "eggs/ham" in recorded.outlines and "$FINDINGS_VAR/spam" in recorded.outlines
    cases = json.loads((findings / "tests/test-data/findings/expand-00.json").read_text())["cases"]
    assert [{"FINDINGS_VAR": "eggs"}, None] == [case.get("environ") for case in cases]
    (findings / "tests" / "test_zz_after_replay.py").write_text(
        "import os\n\ndef test_zz_nothing_leaks():\n    assert 'FINDINGS_VAR' not in os.environ\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "expand or nothing_leaks", "-p", "no:randomly")
    result.assert_outcomes(passed=3)


def test_a_keyword_named_self_replays(pytester: pytest.Pytester, findings: Path) -> None:
    """``f(self=1)`` recorded as a keyword reaches the function as one at replay."""
    run_tool(pytester, "findings")
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "keywords").assert_outcomes(passed=1)


MAPPING_MODULE = '''
import collections.abc
import random


class Bag(collections.abc.Mapping):
    """Equal by items (Mapping.__eq__); keeps a bound method jsonpickle would drop."""

    def __init__(self):
        self._items = {"a": 1}
        self._pick = random.choice

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self):
        return len(self._items)
'''


def test_storing_checks_state_not_only_equality(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value whose __eq__ ignores a lost attribute is refused; unresolvable class
    references fail decoding; compiled patterns keep their flags."""
    import re

    from cleanup_trace import serialise

    (tmp_path / "bagmodule.py").write_text(MAPPING_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    from bagmodule import Bag

    bag = Bag()
    with pytest.raises(serialise.Unserialisable, match="_pick"):
        serialise.check_round_trip(bag, serialise.encode(bag))
    with pytest.raises(serialise.UnknownClass, match="could not find nosuch.module.Klass"):
        serialise.decode([{"py/type": "nosuch.module.Klass"}])
    pattern = re.compile("a+b", re.IGNORECASE | re.MULTILINE)
    assert pattern.flags == serialise.check_round_trip(pattern, serialise.encode(pattern)).flags


LOCALE_APP = '''
LOCALE = ["de"]


def ordinal(number):
    """Reads a module-level setting it is not given: a hidden state."""
    return f"{number}." if LOCALE[0] == "de" else f"{number}th"


def square(number):
    return number * number


def main():
    print([ordinal(n) for n in range(5)], [square(n) for n in range(5)])
    LOCALE[0] = "en"
    print([ordinal(n) for n in range(5)], [square(n) for n in range(5)])
'''


def test_same_arguments_with_another_result_drop_the_function(pytester: pytest.Pytester, app: Path) -> None:
    """Repeated calls of recorded cases are compared: when the same arguments give another
    result, the function depends on hidden state; its cases are taken back, with one warning."""
    (app / "locales.py").write_text(textwrap.dedent(LOCALE_APP))
    result = run_tool(pytester, "locales")
    assert 0 == result.ret
    result.stderr.fnmatch_lines(["*call.inconsistent function=locales.ordinal*the same arguments gave another result*"
                                 "cases_removed=5*"])
    assert not list((app / "tests/test-data/locales").glob("ordinal-*.json"))
    assert 5 == len(json.loads((app / "tests/test-data/locales/square-00.json").read_text())["cases"])
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "locales").assert_outcomes(passed=6)


CLOCK_APP = '''
import datetime
import sys
import time
from unittest import mock


# The clock read where the transformer cannot see it (as through another library):
# only the patched-clock rule stands between these calls and a wrong case.
def age(born):
    return int(getattr(time, "time")()) - born


def year():
    return getattr(datetime.datetime, "now")().year


class FakeDatetime(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2020, 1, 1)


def freeze():
    """As freezegun does: every module attribute holding the real class is swapped."""
    real = datetime.datetime
    for module in list(sys.modules.values()):
        for name, value in list(getattr(module, "__dict__", {}).items()):
            if value is real:
                setattr(module, name, FakeDatetime)
    return real


def thaw(real):
    for module in list(sys.modules.values()):
        for name, value in list(getattr(module, "__dict__", {}).items()):
            if value is FakeDatetime and name != "FakeDatetime":
                setattr(module, name, real)


def main():
    with mock.patch("time.time", return_value=1000.0):
        print(age(400))
    print(age(0) > 1000)
    real = freeze()
    print(year())
    thaw(real)
    print(year() > 2020)
'''


@pytest.mark.usefixtures("debug_log")
def test_calls_under_a_patched_clock_are_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """freezegun or mock.patch("time.time"): the outcome belongs to a clock replay does not
    have; the same function is recorded again once the clock is real."""
    (app / "clock.py").write_text(textwrap.dedent(CLOCK_APP))
    result = run_tool(pytester, "clock")
    result.stderr.fnmatch_lines(["*call.skipped function=clock.age reason='clock patched'*"])
    cases = json.loads((app / "tests/test-data/clock/age-00.json").read_text())["cases"]
    assert [[0]] == [case["call"]["args"] for case in cases]
    result.stderr.fnmatch_lines(["*call.skipped function=clock.year reason='clock patched'*"])
    years = json.loads((app / "tests/test-data/clock/year-00.json").read_text())["cases"]
    assert [2020] != [case["outcome"]["returned"] for case in years] and 1 == len(years)


@pytest.mark.usefixtures("debug_log")
def test_library_inner_functions_are_refused_without_dill_warnings(pytester: pytest.Pytester,
                                                                    findings: Path) -> None:
    """A library's local function (a WeakKeyDictionary callback) passed as a value is
    refused by name, never handed to dill (which warns into the user's output); the
    user's own lambda is stored; the module's namespace shows no helper name."""
    recorded = run_tool(pytester, "findings")
    assert "names []" in recorded.outlines
    errors = recorded.stderr.str()
    assert "PicklingWarning" not in errors
    assert "weakref.WeakKeyDictionary.__init__.<locals>.remove is internal to a library" in errors
    keep = json.loads((findings / "tests/test-data/findings/keep-00.json").read_text())
    assert 1 == len(keep["cases"]) and "cleanup_trace.serialise.load_pickled" in json.dumps(keep["cases"][0])


@pytest.mark.usefixtures("debug_log")
def test_calls_with_side_effects_are_not_recorded(pytester: pytest.Pytester, findings: Path) -> None:
    """A call that writes a file is not recorded (its replay would write it again): one
    log event says so, and the program still wrote its file once."""
    result = run_tool(pytester, "findings")
    assert "saved 5" in result.outlines
    assert "hello" == (findings / "saved.txt").read_text()
    result.stderr.fnmatch_lines(["*call.skipped function=findings.save reason='side effects outside the process'*open*"])
    assert not (findings / "tests/test-data/findings/save-00.json").exists()
    assert not (findings / "tests/test-data/findings/main-00.json").exists()  # main called save


def test_verify_quarantines_what_does_not_reproduce(pytester: pytest.Pytester, findings: Path) -> None:
    """A clock-dependent result fails replay; verify moves it aside with its reason and
    the rest replays green."""
    run_tool(pytester, "findings")
    result = run_tool(pytester, "verify")
    assert 0 == result.ret
    result.stdout.fnmatch_lines(["verified * cases: * reproduce, 1 quarantined in *test-data-quarantine",
                                 "*1  does not reproduce"])
    quarantined = json.loads((findings / "tests/test-data-quarantine/findings/stamp-00.json").read_text())
    assert quarantined["cases"][0]["quarantine_reason"].startswith("does not reproduce: value:")
    assert not (findings / "tests/test-data/findings/stamp-00.json").exists()
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert 0 == replay.ret


LATE_SENTINEL_APP = '''
import asyncio


def touch(value):
    return 1


touch(object())  # a recorded call while the module is still importing

MISSING = object()


def is_missing(value):
    return value is MISSING


async def many():
    for number in range(60):  # more items than a case keeps
        yield number


async def first_ten():
    return [number async for number in many()][:10]


def main():
    print(is_missing(MISSING), asyncio.run(first_ten()))
'''


def test_sentinel_defined_after_an_import_time_call_and_long_async_generators(
        pytester: pytest.Pytester, app: Path) -> None:
    """A module looked at while importing is looked at again for the sentinels it defines
    later; an async generator cut at the item limit replays its first items only."""
    (app / "late.py").write_text(textwrap.dedent(LATE_SENTINEL_APP))
    result = run_tool(pytester, "late")
    assert 0 == result.ret, result.stderr.str()
    assert "load_global" in (app / "tests/test-data/late/is_missing-00.json").read_text()
    many = json.loads((app / "tests/test-data/late/many-00.json").read_text())["cases"][0]["outcome"]["generator"]
    assert many["truncated"] and "returned" == many["end"]
    outcome = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "is_missing or many")
    outcome.assert_outcomes(passed=2)


VOLATILE_APP = '''
import datetime as dt
import gzip
import itertools
import random
import time
import traceback
from uuid import uuid4

_serials = itertools.count(1)
_labels = {}
_secure = random.SystemRandom()


def secret(length):
    """Entropy through a SystemRandom of the module's (pyotp's ``random_base32``)."""
    return "".join(_secure.choice("ab") for _ in range(length))


def shuffled(items, seed):
    """A generator of its own, made in the call from the seed given: replays."""
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def depth(error):
    return len(traceback.extract_tb(error.__traceback__))


def label(name):
    """A memo of numbers drawn: a name seen before draws none, its answer still depends on
    the calls before (pyparsing's _make_bookmark)."""
    if name in _labels:
        return _labels[name]
    _labels[name] = numbered = f"{name}-{next(_serials)}"
    return numbered


def labels(names):
    return [label(name) for name in names]


def _now():
    return dt.datetime.now()


def elapsed(start, when=None):
    """Reads the clock only when not given the moment."""
    return ((when or _now()) - start).days


def token():
    return uuid4().hex[:4]


def year_or(value=None):
    """Reads the clock in one branch: only the calls that take it are not recorded."""
    return value if value is not None else dt.date.today().year


def pack(data):
    return len(gzip.compress(data, mtime=0))


def ticks(count):
    for _ in range(count):
        yield int(time.monotonic() > 0)


def years(count):
    for _ in range(count):
        yield _now().year > 2000  # the clock read while the generator runs


class Expiring:
    """Given its clock as a value (cachetools' TTLCache): no call shows it in the text."""

    def __init__(self, timer=time.monotonic):
        self.timer = timer

    def age(self, stamp):
        return round(self.timer() - stamp)


def main():
    start = dt.datetime(2020, 1, 1)
    print(elapsed(start) > 0, elapsed(start, dt.datetime(2020, 1, 3)), len(token()), pack(b"abc"))
    print(list(ticks(2)), list(years(2)), Expiring().age(0) > 0)
    print(year_or(1999), year_or() > 2000, labels(["a", "b"]), labels(["b"]))
    print(len(secret(4)), sorted(shuffled([1, 2, 3], 5)))
    try:
        int("x")
    except ValueError as error:
        print("depth", depth(error))
'''


@pytest.mark.usefixtures("debug_log")
def test_functions_reading_the_clock_are_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """A function reading the clock or entropy is not recorded, nor is a recorded call
    that runs it; the same function called with the moment given is recorded, and the
    program's output does not change."""
    (app / "volatile.py").write_text(textwrap.dedent(VOLATILE_APP))
    result = run_tool(pytester, "volatile")
    result.stdout.fnmatch_lines(["True 2 4 *", "[1, 1] [True, True] True", "1999 True ['a-1', 'b-2'] ['b-2']",
                                 "4 [1, 2, 3]", "depth 1"])
    data = app / "tests/test-data/volatile"
    cases = json.loads((data / "elapsed-00.json").read_text())["cases"]
    assert [2] == [case["outcome"]["returned"] for case in cases]
    # Building an Expiring reads no clock: only its age() does.
    assert sorted(path.name for path in data.glob("*.json")) == ["Expiring.__init__-00.json", "elapsed-00.json",
                                                                  "pack-00.json", "shuffled-00.json", "year_or-00.json"]
    assert [[1999]] == [case["call"]["args"] for case in json.loads((data / "year_or-00.json").read_text())["cases"]]
    result.stderr.fnmatch_lines(["*call.skipped function=volatile.secret reason='reads the clock or entropy'"
                                 " detail='through _secure.choice*"])
    result.stderr.fnmatch_lines(["*call.skipped function=volatile._now reason='reads the clock or entropy'"
                                 " detail='through datetime.datetime.now*"])
    result.stderr.fnmatch_lines(["*call.skipped function=volatile.main reason='reads the clock or entropy'*"])
    result.stderr.fnmatch_lines(["*function=volatile.Expiring.age reason='reads the clock or entropy'"
                                 " detail='argument holds monotonic'*"])
    # next() of a module's counter: the callers' numbers depend on the calls before them
    result.stderr.fnmatch_lines(["*function=volatile.label reason='advances a shared counter' detail='next(_serials)*"])
    result.stderr.fnmatch_lines(["*function=volatile.labels reason='advances a shared counter'*"])
    # the traceback of an exception given as an argument: the stored one has none
    result.stderr.fnmatch_lines(["*function=volatile.depth reason='reads a traceback' detail='through traceback.extract_tb, of an exception it did not catch*"])
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert 0 == replay.ret


@pytest.mark.parametrize(("body", "reads"), [
    ("import datetime as dt\ndef f():\n    return dt.date.today()\n", "datetime.date.today"),
    ("from datetime import datetime\ndef f():\n    return datetime.utcnow()\n", "datetime.datetime.utcnow"),
    ("import arrow\ndef f():\n    return arrow.now('UTC')\n", "arrow.now"),
    ("from time import time as clock\ndef f():\n    return clock()\n", "time.time"),
    ("import time\ndef f():\n    return time.strftime('%Y')\n", "time.strftime"),
    ("import secrets\ndef f():\n    return secrets.token_hex()\n", "secrets.token_hex"),
    ("import os\ndef f():\n    return os.urandom(4)\n", "os.urandom"),
    # Taken as a value, called later under another name (ecdsa's ``randrange``).
    ("import os\ndef f(entropy=None):\n    entropy = entropy or os.urandom\n    return entropy(4)\n", "os.urandom"),
    ("import time\ndef f():\n    clock = time.perf_counter\n    return clock\n", "time.perf_counter"),
    ("def f(x):\n    return x.time, x.now\n", ""),
    ("import gzip\ndef f(data):\n    return gzip.compress(data)\n", "gzip.compress"),
    ("import gzip\ndef f(out):\n    return gzip.GzipFile(fileobj=out, mode='wb')\n", "gzip.GzipFile"),
    ("from secrets import token_hex\ndef f():\n    return token_hex(8)\n", "secrets.token_hex"),
    ("import secrets as s\ndef f():\n    return s.token_hex()\n", "secrets.token_hex"),
    ("import time\ndef f():\r    return time.time()\r", "time.time"),  # CR line ends
    ("def f(when):\n    import time\n    return [time.monotonic() for _ in when]\n", "time.monotonic"),
    # A module-level alias (webob's ``_now = datetime.now  # hook point for unit tests``).
    ("from datetime import datetime\n_now = datetime.now\ndef f(delta):\n    return _now() + delta\n",
     "datetime.datetime.now"),
    ("import sys\nimport time\nclock = time.time\ndef f():\n    return clock()\n", "time.time"),
    # A standard input read is told the same way (markdown's markdownFromFile reads it).
    ("import sys\ndef f():\n    return sys.stdin.read()\n", "sys.stdin"),
    ("import sys\ndef f(stream=None):\n    return (stream or sys.stdin).read()\n", "sys.stdin"),
    # Not the clock: the moment is given, or the name is someone else's.
    ("import time\ndef f(t):\n    return time.strftime('%Y', t)\n", ""),
    ("import gzip\ndef f(data):\n    return gzip.compress(data, mtime=0)\n", ""),
    ("import gzip\ndef f(data):\n    return gzip.GzipFile(fileobj=data).read()\n", ""),  # reading
    ("import datetime\ndef f(d):\n    return d.time()\n", ""),
    ("def f(self):\n    return self.time()\n", ""),
    ("import random\ndef f():\n    return random.random()\n", ""),  # its state is stored instead
    ("from random import choice\ndef f(s):\n    return choice(s)\n", ""),
    # A method a Random draws with, called on an object: told when that is a SystemRandom
    # (pyotp's ``random = SystemRandom()`` in a module of its own).
    ("from .compat import random\ndef f(s):\n    return ''.join(random.choice(s) for _ in s)\n",
     "a method of a random.SystemRandom: random.choice"),  # (a relative import: by its text)
    ("def f(self, s):\n    return self.rng.sample(s, 2)\n", "a method of a random.SystemRandom: self.rng.sample"),
    ("import os\n_join = os.path.join\ndef f(a):\n    return _join(a, 'b')\n", ""),
    ("def f(console):\n    return console.stdin\n", ""),  # someone else's
    # The exception being handled: its caller's, unless read in a handler of its own.
    ("import sys\ndef f():\n    return sys.exc_info()[1]\n", "sys.exc_info"),
    ("import traceback\ndef f():\n    return traceback.format_exc()\n", "traceback.format_exc"),
    ("import sys\ndef f(g):\n    try:\n        g()\n    except Exception:\n        return sys.exc_info()\n", ""),
    # A finally block reached without an exception reads its caller's.
    ("import sys\ndef f(g):\n    try:\n        g()\n    finally:\n        print(sys.exc_info())\n", "sys.exc_info"),
    # A bare raise re-raises the exception being handled: its caller's, outside its own handlers.
    ("def f():\n    raise\n", "a bare raise"),
    ("def f(g):\n    if g:  # x\n        raise  # again\n    return g\n", "a bare raise"),
    ("def f(g):\n    try:\n        g()\n    except KeyError:\n        raise\n", ""),
    ("def f(g):\n    raise ValueError(g)\n", ""),
    # The traceback of an exception the function did not catch itself: a stored one has none.
    ("import inspect\ndef f(error):\n    return inspect.getinnerframes(error.__traceback__)\n",
     "__traceback__ + inspect.getinnerframes"),
    ("import traceback\ndef f(error):\n    return traceback.format_exception(error)\n", "traceback.format_exception"),
    ("import traceback\ndef f(g):\n    try:\n        g()\n    except Exception as e:\n"
     "        return traceback.format_exception(e), e.__traceback__\n", ""),
    ("def f(error):\n    error.__traceback__ = None\n    return error\n", ""),
    # A counter kept beyond the call: the number drawn depends on the calls before.
    ("import itertools\n_ids = itertools.count()\ndef f():\n    return next(_ids)\n", "next() of the shared counter _ids"),
    ("from itertools import count\nclass K:\n    serial = count(1)\ndef f(k):\n    return next(k.serial)\n",
     "next() of the shared counter serial"),
    ("import itertools\ndef f(items):\n    ids = itertools.count()\n    return [next(ids) for _ in items]\n", ""),
    ("import itertools\n_ids = itertools.count()\ndef f(it):\n    return next(it)\n", ""),
])
def test_what_counts_as_reading_the_clock(body: str, reads: str) -> None:
    """Each call site reading the clock goes through the hook, named by what it reads."""
    import ast

    from cleanup_trace.rewrite import CLOCK_HOOK

    tree, instrumented = rewrite_module(body, "m.py", "m")
    assert ["f"] == instrumented
    hooks = [node for node in ast.walk(tree)
             if isinstance(node, ast.Call) and getattr(node.func, "id", "") == CLOCK_HOOK]
    assert sorted(reads.split(" + ") if reads else []) == sorted(hook.args[1].value for hook in hooks)


@pytest.mark.parametrize(("body", "skipped"), [
    ("import inspect\ndef f():\n    return inspect.stack()\n", True),
    ("from inspect import stack\ndef f():\n    return stack()\n", True),
    ("import sys\ndef f():\n    return sys._getframe(1)\n", True),
    ("import numpy as np\ndef f(x):\n    return np.stack(x)\n", False),
    ("class K:\n    def f(self):\n        return self.stack()\n", False),
])
def test_frame_inspection_is_told_apart_from_namesakes(body: str, skipped: bool) -> None:
    _, instrumented = rewrite_module(body, "m.py", "m")
    assert (not instrumented) is skipped


HANDLED_APP = '''
import sys


def describe():
    """Names the exception its caller is handling."""
    error = sys.exc_info()[1]
    return f"failed: {error}" if error is not None else "fine"


def report(error_text):
    return describe() + " / " + error_text


def guarded(value):
    """Raises and handles its own exception: replays as it ran."""
    try:
        return 10 // value
    except ZeroDivisionError:
        return describe()


def main():
    try:
        raise ValueError("boom")
    except ValueError:
        print(describe(), "|", report("x"))
    print(describe(), guarded(0), guarded(5))
'''


@pytest.mark.usefixtures("debug_log")
def test_calls_reading_their_callers_exception_are_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """``sys.exc_info()`` outside a function's own handler reads its caller's exception:
    the calls that started inside a handler are not recorded (replay has no exception
    being handled); a call that raised and handled the exception itself is."""
    (app / "handled.py").write_text(textwrap.dedent(HANDLED_APP))
    result = run_tool(pytester, "handled")
    result.stdout.fnmatch_lines(["failed: boom | failed: boom / x", "fine failed: integer division or modulo by zero 2"])
    result.stderr.fnmatch_lines(["*call.skipped function=handled.report reason='reads the exception its caller "
                                 "handles' detail='through sys.exc_info: replay has no exception being handled'"])
    data = app / "tests/test-data/handled"
    assert [["fine"]] == [[case["outcome"]["returned"]] for case in
                          json.loads((data / "describe-00.json").read_text())["cases"]]
    guarded = json.loads((data / "guarded-00.json").read_text())["cases"]
    assert ["failed: integer division or modulo by zero", 2] == [case["outcome"]["returned"] for case in guarded]
    assert not (data / "report-00.json").exists()
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert 0 == replay.ret, replay.stdout.str()


NAMESPACE_APP = '''
BIG = list(range(5000))  # a module global the stored functions do not use


def apply(function, value):
    return function(value)


def traced(function):
    def wrapped(value):
        return function(value)
    return wrapped


def retrying(function):
    def attempt(value, tries=2):  # calls itself: its closure holds itself
        return function(value) if tries == 1 else attempt(value, tries - 1)
    return attempt


def main():
    # doctest runs a module's examples in a copy of its globals: a lambda made there
    # belongs to the module by name, not by namespace; so does one a closure captures.
    exec("print(apply(lambda x: x + 1, 1))", dict(globals()))
    exec("print(apply(traced(lambda x: x - 1), 5))", dict(globals()))
    # one calling a function of that copy, which calls itself: both go, with what they read
    exec("def countdown(n):\\n    return n if n < 10 else countdown(n - 10)\\n"
         "print(apply(lambda x: countdown(x), 25))", dict(globals()))
    exec("print(apply(retrying(lambda x: x * 3), 3))", dict(globals()))
    print(apply(lambda x: x * 2, 2))
'''


def test_local_functions_are_stored_without_their_whole_namespace(pytester: pytest.Pytester, app: Path) -> None:
    """A lambda of the module refers to the module's namespace by name; one made in a copy
    of it (doctest) is stored with only what it uses, never with the copy's every global."""
    (app / "namespaces.py").write_text(textwrap.dedent(NAMESPACE_APP))
    result = run_tool(pytester, "namespaces")
    result.stdout.fnmatch_lines(["2", "4", "5", "9", "4"])
    cases = json.loads((app / "tests/test-data/namespaces/apply-00.json").read_text())["cases"]
    assert 5 == len(cases)
    assert all(len(json.dumps(case)) < 3000 for case in cases), [len(json.dumps(case)) for case in cases]
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert 0 == replay.ret, replay.stdout.str()


TIME_ZONE_APP = '''
import datetime
import os
import time

OFFSET = datetime.timedelta(hours=1)


def is_dst(stamp):
    return time.localtime(stamp).tm_isdst


def offset():
    return OFFSET


def main():
    os.environ["TZ"] = "EST+5EDT,M3.2.0/2,M11.1.0/2"
    time.tzset()
    print(is_dst(1_720_000_000))
    del os.environ["TZ"]
    time.tzset()
    print(offset())
'''


@pytest.mark.skipif(not hasattr(__import__("time"), "tzset"), reason="time.tzset is POSIX only")
def test_time_zone_of_a_call_is_replayed_and_value_constants_are_stored_by_value(
        pytester: pytest.Pytester, app: Path) -> None:
    """A call recorded under another TZ replays under it (tzset included); a module-level
    timedelta is a value, stored as one (by name, its test could never fail)."""
    (app / "zones.py").write_text(textwrap.dedent(TIME_ZONE_APP))
    run_tool(pytester, "zones").stdout.fnmatch_lines(["1", "1:00:00"])
    data = app / "tests/test-data/zones"
    assert "load_global" not in (data / "offset-00.json").read_text()
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "is_dst or offset")
    replay.assert_outcomes(passed=2, deselected=replay.parseoutcomes().get("deselected", 0))


STACKLEVEL_APP = '''
import logging
import warnings


def old():
    warnings.warn("old is deprecated", DeprecationWarning, stacklevel=2)
    logging.getLogger("stacklevels").warning("from old", stacklevel=2)
    return 1


def gen():
    warnings.warn("gen warns", UserWarning, stacklevel=2)
    yield 1


def main():
    logging.basicConfig(format="logged at %(filename)s:%(lineno)d %(message)s")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old()
        list(gen())
    for warning in caught:
        print("warned at", warning.filename.rsplit("/", 1)[-1], warning.lineno, warning.message)
'''


def test_stacklevel_names_the_caller_of_a_recorded_function(pytester: pytest.Pytester, app: Path) -> None:
    """warnings.warn and logging with stacklevel=2 inside a recorded function (or
    generator) name its caller, as without the tool: the tool's frames are skipped the
    way importlib's are."""
    (app / "stacklevels.py").write_text(textwrap.dedent(STACKLEVEL_APP))
    plain = pytester.run(sys.executable, "-c", "import stacklevels; stacklevels.main()")
    recorded = run_tool(pytester, "stacklevels")
    expected = ["warned at stacklevels.py 21 old is deprecated", "warned at stacklevels.py 22 gen warns"]
    assert expected == plain.outlines == [line for line in recorded.outlines if line.startswith("warned")]
    assert "logged at stacklevels.py:21 from old" in plain.errlines
    if sys.version_info >= (3, 11):  # before, logging skips only its own frames (README)
        assert "logged at stacklevels.py:21 from old" in recorded.errlines


REVIEW_APP = '''
import asyncio
import time


class _Missing:
    __slots__ = ()


MISSING = _Missing()


def pick(value, default=MISSING):
    return "no default" if default is MISSING else default


class Settings(dict):
    """An attribute dict (Munch, EasyDict): a __getattr__ that behaves."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def level(settings):
    return settings.level


def first(items):
    return items[0]


def stamp():
    return time.time()


async def acall(x):
    await asyncio.sleep(0)
    return x + (stamp() > 0)


def main():
    print(pick(MISSING, MISSING), pick(1, 2), level(Settings(level=3)))
    print(first([1, 2, 3, 4, 5]), first([1, 2, 3, 4, time.monotonic]) is not None)
    print(asyncio.run(acall(1)))
'''


def test_review_findings(pytester: pytest.Pytester, app: Path) -> None:
    """An empty-__slots__ sentinel is stored by name; an attribute dict is stored; a value
    holding a clock in a repeated call neither disables the function nor is kept; a
    coroutine that reads the clock is not recorded; everything recorded replays."""
    (app / "review.py").write_text(textwrap.dedent(REVIEW_APP))
    result = run_tool(pytester, "review")
    result.stdout.fnmatch_lines(["no default 2 3", "1 True", "2"])
    assert "function.disabled" not in result.stderr.str()
    data = app / "tests/test-data/review"
    assert "load_global" in (data / "pick-00.json").read_text()
    assert (data / "level-00.json").exists()
    assert not (data / "acall-00.json").exists()
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert 0 == replay.ret, replay.stdout.str()


COMMAND_LINE_APP = '''
import sys


def shout(argv=None):
    argv = sys.argv if argv is None else argv
    if len(argv) != 2:
        raise SystemExit(2)
    return argv[1].upper()
'''


def test_a_call_made_under_a_patched_command_line_replays_under_it(pytester: pytest.Pytester, app: Path) -> None:
    """A test patching sys.argv around a main(): the case keeps the command line it ran
    with, and replay (under pytest's own command line) gives it back for the call only."""
    (app / "cli.py").write_text(textwrap.dedent(COMMAND_LINE_APP))
    (app / "tests" / "test_cli.py").write_text(textwrap.dedent("""
        import sys

        import cli

        def test_shout(monkeypatch):
            assert cli.shout(["cli", "quiet"]) == "QUIET"
            monkeypatch.setattr(sys, "argv", ["cli", "hello"])
            assert cli.shout() == "HELLO"
    """))
    pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider").assert_outcomes(passed=1)
    cases = json.loads((app / "tests/test-data/cli/shout-00.json").read_text())["cases"]
    assert [None, ["cli", "hello"]] == [case.get("argv") for case in cases]
    (app / "tests" / "test_cli.py").unlink()
    (app / "tests" / "test_zz_after_replay.py").write_text(
        "import sys\n\ndef test_zz_command_line_restored():\n    assert sys.argv[1:2] != ['hello']\n")
    run_tool(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly", "-k", "shout or restored")
    result.assert_outcomes(passed=3, deselected=result.parseoutcomes().get("deselected", 0))


PROMPT_APP = '''
import sys


def ask(question):
    return input(question).strip().lower() == "yes"


def convert(text=None):
    return shout(text if text is not None else sys.stdin.read())


def shout(text):
    return text.upper()


def greet():
    return shout(input("name? "))
'''


@pytest.mark.usefixtures("debug_log")
def test_calls_reading_standard_input_are_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """What input() or sys.stdin reads (a test's swapped stdin, a user at a prompt) is not
    part of the case: the calls running when it reads are not recorded; the ones it feeds
    are (markdown's ``markdownFromFile`` reads ``sys.stdin`` when given no file)."""
    (app / "prompt.py").write_text(textwrap.dedent(PROMPT_APP))
    (app / "tests" / "test_prompt.py").write_text(textwrap.dedent("""
        import io
        import sys

        import prompt

        def test_prompt(monkeypatch):
            monkeypatch.setattr(sys, "stdin", io.StringIO("yes\\nann\\n"))
            assert prompt.ask("sure? ")
            assert prompt.greet() == "ANN"
            monkeypatch.setattr(sys, "stdin", io.StringIO("from stdin"))
            assert prompt.convert() == "FROM STDIN"
            assert prompt.convert("given") == "GIVEN"
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["*call.skipped function=prompt.ask reason='reads standard input' "
                                 "detail='through input(): replay has no such input'"])
    result.stderr.fnmatch_lines(["*call.skipped function=prompt.convert reason='reads standard input' "
                                 "detail='through sys.stdin: replay has no such input'"])
    data = app / "tests/test-data/prompt"
    assert ["convert-00.json", "shout-00.json"] == sorted(path.name for path in data.glob("*.json"))
    assert [["given"]] == [case["call"]["args"] for case in json.loads((data / "convert-00.json").read_text())["cases"]]
    (app / "tests" / "test_prompt.py").unlink()
    run_tool(pytester)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=4, skipped=1)  # no async case


LISTING_APP = '''
import glob
import os
import pathlib


def matching(patterns):
    return sorted(name for pattern in patterns for name in glob.glob(pattern))


def entries(folder):
    return sorted(os.listdir(folder))


def children(folder):
    return sorted(path.name for path in pathlib.Path(folder).iterdir())


def count(names):
    return len(names)
'''


@pytest.mark.usefixtures("debug_log")
def test_calls_listing_a_relative_path_are_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """``glob("*.toml")`` lists whatever directory the run was in; replay runs elsewhere
    (click's ``_expand_args``). A directory named by its absolute path is recorded."""
    (app / "listing.py").write_text(textwrap.dedent(LISTING_APP))
    (app / "tests" / "test_listing.py").write_text(textwrap.dedent("""
        import json
        import os

        import listing

        def test_listing():
            assert "listing.py" in listing.matching(["*.py"])
            assert listing.count(["a", "b"]) == 2
            assert "decoder.py" in listing.entries(os.path.dirname(json.__file__))
            assert "listing.py" in listing.children(".")
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["*call.skipped function=listing.matching reason='lists the current directory' "
                                 "detail=\"'.': a path relative to where the run was, replay runs elsewhere\"*"])
    result.stderr.fnmatch_lines(["*call.skipped function=listing.children reason='lists the current directory'*"])
    data = app / "tests/test-data/listing"
    assert ["count-00.json", "entries-00.json"] == sorted(path.name for path in data.glob("*.json"))


ADDRESS_APP = '''
def call(function):
    if not callable(function):
        raise TypeError(f"expected a callable, not: {function!r}")
    return function()


class Storage:
    pass


class Table:
    def __init__(self, name):
        self.name = name
        self.storage = Storage()

    def __repr__(self):
        return f"<Table name={self.name!r}, storage={self.storage!r}>"

    def described(self):
        return [repr(self), len(self.name)]


class Report:
    def __init__(self, code):
        self.code = code

    def __repr__(self):  # (cerberus' ValidationError shows its own address)
        return f"Report @ {hex(id(self))} ( code={hex(self.code)} )"


def main():
    for value in (object(), len, "text"):
        try:
            call(value)
        except TypeError as error:
            print(type(error).__name__)
    print(repr(Table("a")).startswith("<Table"), Table("b").described()[1], repr(Report(35)).startswith("Report"))
'''


def test_an_error_message_naming_an_object_by_its_address_replays(pytester: pytest.Pytester, app: Path) -> None:
    """``<object object at 0x7f...>`` in a message or a returned text (a ``__repr__``
    showing an attribute's default repr: tinydb's ``Table``) differs in every run: replay
    compares texts with such addresses made alike, and only those."""
    (app / "addresses.py").write_text(textwrap.dedent(ADDRESS_APP))
    run_tool(pytester, "addresses").stdout.fnmatch_lines(["TypeError", "TypeError", "TypeError", "True 1 True"])
    messages = [case["outcome"]["raised"]["message"]
                for case in json.loads((app / "tests/test-data/addresses/call-00.json").read_text())["cases"]]
    assert any(" at 0x" in message for message in messages)
    data = app / "tests/test-data/addresses"
    returned = [[case["outcome"]["returned"] for case in json.loads((data / f"Table.{name}-00.json").read_text())["cases"]]
                for name in ("__repr__", "described")]
    assert all(" at 0x" in text for text in returned[0]) and all(" at 0x" in pair[0] for pair in returned[1])
    reports = [case["outcome"]["returned"] for case in json.loads((data / "Report.__repr__-00.json").read_text())["cases"]]
    assert reports and all(text.startswith("Report @ 0x") for text in reports)
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "call or repr or described")
    replay.assert_outcomes(passed=len(messages) + len(returned[0]) + len(returned[1]) + len(reports),
                           deselected=replay.parseoutcomes().get("deselected", 0))


def test_messages_differing_in_more_than_addresses_still_differ() -> None:
    from cleanup_trace.compare import without_addresses

    assert without_addresses("not: <object object at 0x7f3a01>") == without_addresses("not: <object object at 0x55>")
    assert without_addresses("<A object at 0x7f3a01>") != without_addresses("<B object at 0x7f3a01>")
    assert "byte 0x1f" == without_addresses("byte 0x1f")
    assert without_addresses("E @ 0x7f72c9b0dc10 ( code=0x23 )") == without_addresses("E @ 0x7f2984531050 ( code=0x23 )")
    assert without_addresses("E @ 0x7f72c9b0dc10 ( code=0x23 )") != without_addresses("E @ 0x7f2984531050 ( code=0x2 )")


def test_bytes_holding_a_default_repr_compare_without_its_address() -> None:
    """hpack's ``_to_bytes(value)`` is ``str(value).encode()``: of any object, its repr."""
    from cleanup_trace.compare import differences

    assert [] == differences(b"<hpack.hpack.Encoder object at 0x7f3a01b2c3d0>",
                             b"<hpack.hpack.Encoder object at 0x7f29845310a0>")
    assert differences(b"<A object at 0x7f3a01b2c3d0>", b"<B object at 0x7f3a01b2c3d0>")
    assert differences(b"byte 0x1f", b"byte 0x2f")


def test_pytest_setting_its_current_test_does_not_make_calls_compare_the_environment() -> None:
    """pytest sets PYTEST_CURRENT_TEST around every test: after it, the next recorded call
    would compare the whole environment with the start of recording, in every test."""
    from cleanup_trace import runtime

    before = runtime._state.environ_touched
    try:
        runtime._state.environ_touched = False
        runtime._note_event("os.putenv", (b"PYTEST_CURRENT_TEST", b"tests/test_x.py::test (call)"))
        runtime._note_event("os.unsetenv", ("PYTEST_CURRENT_TEST",))
        assert runtime._state.environ_touched is False
        runtime._note_event("os.putenv", (b"APP_MODE", b"fast"))
        assert runtime._state.environ_touched is True
    finally:
        runtime._state.environ_touched = before


@pytest.mark.parametrize("encoded", [True, False], ids=["encoded", "as-it-reads"])
def test_the_environment_compared_again_after_each_change_of_it(monkeypatch: pytest.MonkeyPatch,
                                                                encoded: bool) -> None:
    """What a call stores of the environment is what differs from the start of recording
    now: the comparison made at the last look is kept only while nothing changed. (Compared
    in os.environ's encoded form, or as it reads without one.)"""
    from cleanup_trace import runtime

    monkeypatch.delenv("APP_MODE", raising=False)
    monkeypatch.setenv("APP_GONE", "here at the start")
    monkeypatch.setattr(runtime._state, "environ_at_start", dict(os.environ))
    monkeypatch.setattr(runtime._state, "environ_raw_at_start", dict(os.environ._data) if encoded else None)
    monkeypatch.setattr(runtime._state, "environ_seen", None)
    monkeypatch.setattr(runtime._state, "environ_touched", True)
    monkeypatch.setenv("APP_MODE", "fast")
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "tests/test_x.py::test (call)")  # (the runner's: never stored)
    first = runtime._environ_changes()
    assert first == {"APP_MODE": "fast"} == runtime._environ_changes()
    first["APP_MODE"] = "kept by the caller"  # (each call gets a dict of its own)
    assert runtime._environ_changes() == {"APP_MODE": "fast"}
    monkeypatch.setenv("APP_MODE", "slow")
    monkeypatch.delenv("APP_GONE")
    assert runtime._environ_changes() == {"APP_GONE": None, "APP_MODE": "slow"}
    monkeypatch.delenv("APP_MODE")
    monkeypatch.setenv("APP_GONE", "here at the start")
    assert runtime._environ_changes() == {} and runtime._state.environ_touched is False
    # A test putting a plain mapping in its place: compared as it reads.
    monkeypatch.setattr(os, "environ", dict(os.environ, APP_MODE="patched"))
    assert runtime._environ_changes() == {"APP_MODE": "patched"}


PATCH_APP = '''
import rates

RATE = 2
_cache = None


def taxed(amount):
    return amount + rates.tax(amount)


def size(items):
    return len(items)


def price(amount):
    return amount * RATE


def helper(x):
    return x + 1


def outer(x):
    return helper(x) * 10


def cached():
    global _cache
    if _cache is None:
        _cache = {"ready": True}
    return _cache["ready"]
'''


def test_calls_made_while_a_test_patches_a_module_global_are_not_recorded(pytester: pytest.Pytester,
                                                                          app: Path) -> None:
    """monkeypatch.setattr(module, "RATE", ...) or mock.patch of a helper: the outcome
    belongs to the patch (and so do the callers' outcomes). Globals the module rebinds
    itself (a lazy cache) and the tool's own swap of a wrapper for its plain function
    are not patches."""
    (app / "pricing.py").write_text(textwrap.dedent(PATCH_APP))
    (app / "rates.py").write_text("def tax(amount):\n    return amount // 10\n")
    (app / "tests" / "test_pricing.py").write_text(textwrap.dedent("""
        from unittest import mock

        import pricing

        def test_plain():
            for n in range(8):  # helper's budget fills: its plain function is put back
                assert pricing.helper(n) == n + 1
            assert pricing.price(3) == 6
            assert pricing.outer(1) == 20
            assert pricing.cached() is True and pricing.cached() is True

        def test_patched(monkeypatch):
            monkeypatch.setattr(pricing, "RATE", 100)
            assert pricing.price(4) == 400
            with mock.patch.object(pricing, "helper", return_value=0):
                assert pricing.outer(2) == 0
            assert pricing.outer(3) == 40
            with mock.patch("rates.tax", return_value=1):  # reached as pricing's rates.tax
                assert pricing.taxed(50) == 51
            assert pricing.taxed(60) == 66
            with mock.patch("pricing.len", return_value=99):  # mock creates the global itself
                assert pricing.size([1, 2]) == 99
            assert pricing.size([1]) == 1
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*module global patched: 4*"])

    def arguments(name: str) -> list:
        data = json.loads((app / f"tests/test-data/pricing/{name}-00.json").read_text())
        return [case["call"]["args"] for case in data["cases"]]

    assert [[3]] == arguments("price")
    assert [[1], [3]] == arguments("outer")
    assert [[]] == arguments("cached")
    assert [[60]] == arguments("taxed")
    assert [[[1]]] == arguments("size")
    (app / "tests" / "test_pricing.py").unlink()
    run_tool(pytester)
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "pricing")
    replay.assert_outcomes(passed=5 + 1 + 2 + 1 + 1 + 1, deselected=replay.parseoutcomes().get("deselected", 0))


SCALING_APP = '''
RATE = 2


class Scaler:
    def scaled(self, x):
        return x * RATE


def total(scaler, items):
    return sum([scaler.scaled(item) for item in items])
'''


def test_a_repeated_call_under_a_patch_inside_a_recorded_call_tells_it(pytester: pytest.Pytester,
                                                                       app: Path) -> None:
    """A repeated call is not looked at further (nothing of it is stored), but when it
    runs inside a call being recorded, a patched global it reads still keeps that call
    out: ``total`` reaches ``scaled`` through an argument, which it cannot see itself."""
    (app / "scaling.py").write_text(textwrap.dedent(SCALING_APP))
    (app / "tests" / "test_scaling.py").write_text(textwrap.dedent("""
        import scaling

        def test_scaling(monkeypatch):
            scaler = scaling.Scaler()
            assert scaler.scaled(1) == 2
            monkeypatch.setattr(scaling, "RATE", 10)
            assert scaling.total(scaler, [1]) == 10  # scaled(1) is a repeated call here
            monkeypatch.undo()
            assert scaling.total(scaler, [1, 1]) == 4
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    data = json.loads((app / "tests/test-data/scaling/total-00.json").read_text())
    assert [[2, 1]] == [[len(case["call"]["args"][1]), case["call"]["args"][1][0]] for case in data["cases"]]


PATCHED_INPUT_APP = '''
def ask(prompt):
    lines = []
    while True:
        try:
            lines.append(input(prompt))
        except EOFError:
            return lines
        except KeyboardInterrupt:
            return None


def shout(text):
    print(text.upper())
    return len(text)
'''


def test_a_call_made_while_a_test_patches_a_builtin_is_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """``mock.patch("builtins.input", side_effect=[...])`` feeding a prompt loop
    (markdown-it-py's interactive CLI): replay has no such input, and the loop reading
    the real one never ends. A builtin the test leaves alone is no reason to skip."""
    (app / "prompt.py").write_text(textwrap.dedent(PATCHED_INPUT_APP))
    (app / "tests" / "test_prompt.py").write_text(textwrap.dedent("""
        from unittest import mock

        import prompt

        def test_prompt():
            with mock.patch("builtins.input", side_effect=["a", "b", EOFError]):
                assert prompt.ask("> ") == ["a", "b"]
            with mock.patch("builtins.input", side_effect=KeyboardInterrupt):
                assert prompt.ask(">> ") is None
            with mock.patch("builtins.print"):
                assert prompt.shout("hi") == 2
            assert prompt.shout("hey") == 3
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*module global patched: 3*"])
    assert not (app / "tests/test-data/prompt/ask-00.json").exists()
    data = json.loads((app / "tests/test-data/prompt/shout-00.json").read_text())
    assert [["hey"]] == [case["call"]["args"] for case in data["cases"]]


SINGLETON_APP = '''
import datetime


class UTC(datetime.tzinfo):
    def utcoffset(self, dt):
        return datetime.timedelta(0)

    def localize(self, dt):
        return dt.replace(tzinfo=self)


UTC = utc = UTC()  # (pytz: the class's name now names its only instance)


def main():
    print(utc.localize(datetime.datetime(2020, 1, 1)), utc.utcoffset(None))
'''


def test_methods_of_a_class_whose_name_now_names_an_instance_are_not_recorded(pytester: pytest.Pytester,
                                                                              app: Path) -> None:
    """``singleton.UTC.localize`` leads to a bound method of the instance: replay would pass
    ``self`` twice. Its calls are skipped as not importable by their qualified name."""
    (app / "singleton.py").write_text(textwrap.dedent(SINGLETON_APP))
    result = run_tool(pytester, "singleton")
    result.stdout.fnmatch_lines(["2020-01-01 00:00:00+00:00 0:00:00"])
    result.stderr.fnmatch_lines(["*not importable by its qualified name: 3*"])  # (str() of the result too)
    assert ["main-00.json"] == sorted(path.name for path in (app / "tests/test-data/singleton").glob("*.json"))


WARNING_APP = '''
import warnings


def legacy(value):
    warnings.warn("legacy() is deprecated", DeprecationWarning, stacklevel=2)
    return value * 2
'''


def test_calls_that_warned_replay_under_the_warnings_policy_they_ran_with(pytester: pytest.Pytester,
                                                                         app: Path) -> None:
    """A call that went through its warning (pytest.warns) replays without it becoming an
    error under the project's filterwarnings = error; a call recorded raising the warning
    (warnings were errors) replays raising it."""
    (app / "legacy.py").write_text(textwrap.dedent(WARNING_APP))
    (app / "pytest.ini").write_text("[pytest]\ntestpaths = tests\nfilterwarnings =\n    error\n")
    (app / "tests" / "test_legacy.py").write_text(textwrap.dedent("""
        import pytest

        import legacy

        def test_warns():
            with pytest.warns(DeprecationWarning):
                assert legacy.legacy(2) == 4

        def test_is_an_error():
            with pytest.raises(DeprecationWarning):
                legacy.legacy(3)
    """))
    pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider", "-p", "no:asyncio").assert_outcomes(
        passed=2)
    cases = json.loads((app / "tests/test-data/legacy/legacy-00.json").read_text())["cases"]
    assert [{"returned": 4}, "builtins.DeprecationWarning"] == [
        case["outcome"] if "returned" in case["outcome"] else case["outcome"]["raised"]["type"] for case in cases]
    (app / "tests" / "test_legacy.py").unlink()
    run_tool(pytester)
    replay = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio", "-k", "legacy")
    replay.assert_outcomes(passed=2, deselected=replay.parseoutcomes().get("deselected", 0))


IDENTITY_APP = '''
def _frozen(self, name, value):
    raise AttributeError("frozen")


class Base:
    __setattr__ = _frozen

    def method(self):
        return 1


def is_frozen(cls):
    return cls.__setattr__ is _frozen


def main():
    print(is_frozen(Base), Base.method is Base.__dict__["method"], Base.method(Base()))
'''


def test_a_function_read_from_a_class_is_the_function_itself(pytester: pytest.Pytester, app: Path) -> None:
    """``cls.__setattr__ is _frozen_setattrs`` (attrs telling a frozen base class): a
    plain function read from its class is itself, wrapped or not."""
    (app / "identity.py").write_text(textwrap.dedent(IDENTITY_APP))
    plain = pytester.run(sys.executable, "-c", "import identity; identity.main()")
    recorded = run_tool(pytester, "identity")
    assert ["True True 1"] == plain.outlines == [line for line in recorded.outlines if not line.startswith("written")]


COUNTER_APP = '''
class _Ticker:
    def __init__(self):
        self.value = 0

    def tick(self):
        self.value += 1
        return self.value


_serial = _Ticker()


class Serial:
    def __init__(self):
        self.number = _serial.tick()


def serial():
    return Serial()


class Counted:
    made = 0

    def __init__(self):
        Counted.made += 1
        self.number = Counted.made


def make():
    return Counted()


def letters():
    return {"a", "b", "c"}


def main():
    print([make().number for _ in range(3)], sorted(letters() | letters() | letters()))
    print([serial().number for _ in range(3)])
'''


@pytest.mark.usefixtures("debug_log")
def test_calls_of_a_class_wide_counter_are_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """``attr.ib()`` numbers what it returns with a class-wide counter: no case of the
    function would replay. The call that moves the counter changes its module's state,
    the calls after it see a class attribute changed since import: none is recorded.
    Sets and objects are compared by value, not by their stored text."""
    (app / "counted.py").write_text(textwrap.dedent(COUNTER_APP))
    recorded = run_tool(pytester, "counted")
    recorded.stdout.fnmatch_lines(["[[]1, 2, 3[]] [[]'a', 'b', 'c'[]]"])
    assert "function=counted.Counted.__init__ reason=\"changes its module's state\"" in recorded.stderr.str()
    # a counter object of the module's class kept in a module global (not
    # itertools.count, seen in the text): a call moving it changes its module's state
    recorded.stderr.fnmatch_lines(["*call.skipped function=counted.serial reason=\"changes its module's state\" "
                                   "detail='through a call that changes counted._serial (its state)*"])
    assert not (app / "tests/test-data/counted/serial-00.json").exists()
    data = app / "tests/test-data/counted"
    assert not (data / "make-00.json").exists()
    assert 1 == len(json.loads((data / "letters-00.json").read_text())["cases"])


def _recorded_session(pytester: pytest.Pytester, passed: int) -> pytest.RunResult:
    """``pytest --cleanup-record`` on the project's tests, which all pass."""
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=passed)
    return result


def _replays_green(pytester: pytest.Pytester, recording_test: Path, at_least: int) -> None:
    """Without the test that recorded them, the generated tests pass (at least so many)."""
    recording_test.unlink()
    run_tool(pytester)
    outcomes = pytester.runpytest_subprocess("-p", "no:cacheprovider").parseoutcomes()
    assert outcomes.get("passed", 0) >= at_least and "failed" not in outcomes and "errors" not in outcomes


def _cases(app: Path, module: str, stem: str) -> list:
    return json.loads((app / f"tests/test-data/{module}/{stem}-00.json").read_text())["cases"]


FILES_APP = '''
import os
import shutil
import subprocess


def first_line(path):
    with open(path) as handle:
        return handle.readline().strip()


def find(parts):
    found = shutil.which(parts[0])
    return None if found is None else os.path.basename(found)


def is_file(path):
    return os.path.isfile(path)


def read_made():
    return first_line(os.path.join(os.path.dirname(__file__), "made.txt"))


class Source:  # (parso's FileIO: an object holding its path)
    def __init__(self, path):
        self.path = path

    def modified(self):
        try:
            return os.path.getmtime(self.path) > 0
        except FileNotFoundError:
            return None
'''


@pytest.fixture
def own_temporary_directory(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The project lives in our own tmp_path, which its run would take for a test's
    temporary file: its run gets another temporary directory."""
    (app / "temporary").mkdir()
    monkeypatch.setenv("TMPDIR", str(app / "temporary"))


@pytest.mark.usefixtures("debug_log", "own_temporary_directory")
def test_calls_naming_a_temporary_file_are_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """A test's tmp_path (and what tempfile makes) is gone when the case replays: calls
    given such a path that exists, or run under an environment variable naming one, are
    not recorded; the same functions on lasting files are."""
    (app / "files.py").write_text(textwrap.dedent(FILES_APP))
    (app / "notes.txt").write_text("lasting\n")
    (app / "tests" / "test_files.py").write_text(textwrap.dedent("""
        import os
        import stat
        import files

        def test_files(tmp_path, monkeypatch):
            (tmp_path / "a.txt").write_text("temporary\\n")
            assert files.first_line(tmp_path / "a.txt") == "temporary"
            assert files.first_line(os.path.join(os.path.dirname(files.__file__), "notes.txt")) == "lasting"
            assert files.Source(tmp_path / "a.txt").modified()
            assert files.Source(os.path.join(os.path.dirname(files.__file__), "notes.txt")).modified()
            tool = tmp_path / "fake-tool"
            tool.write_text("#!/bin/sh\\n")
            tool.chmod(stat.S_IRWXU)
            monkeypatch.setenv("PATH", str(tmp_path))
            assert files.find(["fake-tool"]) == "fake-tool"
    """))
    result = _recorded_session(pytester, passed=1)
    result.stderr.fnmatch_lines(["*call.skipped function=files.first_line reason='names a temporary file'*",
                                 "*call.skipped function=files.Source.modified reason='names a temporary file'*",
                                 "*call.skipped function=files.find reason='names a temporary file'*"])
    cases = _cases(app, "files", "first_line")
    assert 1 == len(cases) and "notes.txt" in json.dumps(cases[0]["call"])
    assert not (app / "tests/test-data/files/find-00.json").exists()
    [modified] = _cases(app, "files", "Source.modified")  # (the lasting file's)
    assert "notes.txt" in json.dumps(modified["call"])


ARITY_APP = '''
import traceback


def parse_action(tokens):
    return len(tokens)


def call_trimmed(function, *args):
    # pyparsing's _trim_arity: fewer arguments while the TypeError is the call's own,
    # told by the traceback's last frame being this one
    while True:
        try:
            return function(*args)
        except TypeError as error:
            if traceback.extract_tb(error.__traceback__)[-1].name != "call_trimmed":
                raise
            args = args[1:]


def failing(value):
    raise ValueError(value)


def main():
    print(call_trimmed(parse_action, "text", 0, [1, 2]))
    try:
        failing(3)
    except ValueError as error:
        print([frame.name for frame in traceback.extract_tb(error.__traceback__)])
'''


@pytest.mark.skipif(sys.version_info < (3, 11), reason="a bare raise keeps the caught traceback before 3.11")
def test_tracebacks_show_no_recording_frame(pytester: pytest.Pytester, app: Path) -> None:
    """An exception leaving a recorded function carries the traceback it would carry
    without the tool: code that reads it (pyparsing's arity trimming) decides the same."""
    (app / "arity.py").write_text(textwrap.dedent(ARITY_APP))
    plain = pytester.run(sys.executable, "-c", "import arity; arity.main()")
    assert ["2", "['main', 'failing']"] == plain.outlines
    recorded = run_tool(pytester, "arity")
    assert plain.outlines == [line for line in recorded.outlines if not line.startswith("written: ")]
    assert (app / "tests/test-data/arity/parse_action-00.json").exists()


FLAGS_MODULE = '''
class Flags:
    strict = False


class __diag__:  # (pyparsing's name: dunder names are classes too)
    verbose = False


def set_strict(value):
    Flags.strict = value


def enable(name):  # the attribute's name is not in the code: the recorder cannot watch it
    setattr(__diag__, name, True)
'''

SETTINGS_APP = '''
import flags
from flags import Flags, __diag__


class Parser:
    DEFAULT_WHITESPACE = " \\\\t\\\\n"

    def __init__(self, text):
        self.text = text
        self.whitespace = Parser.DEFAULT_WHITESPACE

    @staticmethod
    def set_default_whitespace(chars):
        Parser.DEFAULT_WHITESPACE = chars


def parse(text):
    return Parser(text).whitespace


def strictness():
    return Flags.strict


def describe():
    return "loud" if __diag__.verbose else "quiet"


def main():
    print(describe())
    flags.enable("verbose")
    __diag__.verbose = False
    print(strictness())
    flags.set_strict(True)
    print(strictness())
    flags.set_strict(False)
    print(repr(parse("a")))
    Parser.set_default_whitespace(" ")  # a test changes a setting, then puts it back
    print(repr(parse("b")))
    Parser.set_default_whitespace(" \\\\t\\\\n")
    print(repr(parse("c")))
'''


@pytest.mark.usefixtures("debug_log")
def test_calls_made_while_a_class_setting_is_changed_are_not_recorded(pytester: pytest.Pytester,
                                                                      app: Path) -> None:
    """A simple class attribute changed since import (a library's own setter) is watched
    like a patched global, by the function naming it and by its callers running."""
    (app / "settings.py").write_text(textwrap.dedent(SETTINGS_APP))
    (app / "flags.py").write_text(textwrap.dedent(FLAGS_MODULE))
    result = run_tool(pytester, "settings")
    assert ["quiet", "False", "True"] + ["' \\\\t\\\\n'", "' '", "' \\\\t\\\\n'"] == [
        line for line in result.outlines if not line.startswith("written")]
    # a class of another module, read through the name imported from it
    result.stderr.fnmatch_lines(["*call.skipped function=settings.strictness reason='module global patched' "
                                 "detail='flags.strict is not what its module defined*"])
    strict_cases = json.loads((app / "tests/test-data/settings/strictness-00.json").read_text())["cases"]
    assert [False] == [case["outcome"]["returned"] for case in strict_cases]
    result.stderr.fnmatch_lines(["*call.skipped function=settings.Parser.__init__ reason='module global patched' "
                                 "detail='settings.DEFAULT_WHITESPACE is not what its module defined*"])
    result.stderr.fnmatch_lines(["*call.skipped function=settings.Parser.set_default_whitespace "
                                 "reason=\"changes its module's state\"*"])
    cases = json.loads((app / "tests/test-data/settings/parse-00.json").read_text())["cases"]
    assert ["a", "c"] == [case["call"]["args"][0] for case in cases]
    # the setter's calls are not replayed: they would change the setting for the others
    assert not (app / "tests/test-data/settings/Parser.set_default_whitespace-00.json").exists()
    # flags.enable replays before settings.describe: each case gets the settings back
    # as they were before it
    assert (app / "tests/test-data/flags/enable-00.json").exists()
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "parse or strictness or enable or describe"
                                  ).assert_outcomes(passed=7)


@pytest.mark.usefixtures("debug_log", "own_temporary_directory")
def test_calls_reading_a_file_written_during_the_run_are_not_recorded(pytester: pytest.Pytester,
                                                                      app: Path) -> None:
    """A test writing its input file next to its code, then removing it: the recorded
    calls given its name, or reading it, would find nothing at replay. Files nobody
    wrote are read as usual."""
    (app / "files.py").write_text(textwrap.dedent(FILES_APP))
    (app / "notes.txt").write_text("lasting\n")
    (app / "tests" / "test_written.py").write_text(textwrap.dedent("""
        import os
        import files

        HERE = os.path.dirname(files.__file__)

        def test_written():
            made = os.path.join(HERE, "made.txt")
            with open(made, "w") as handle:
                handle.write("made\\n")
            try:
                assert files.first_line(made) == "made"
                assert files.is_file(made)
                assert files.read_made() == "made"
            finally:
                os.remove(made)
            renamed = os.path.join(HERE, "renamed.txt")  # (written under a temporary name: mako's modules)
            with open(renamed + ".tmp", "w") as handle:
                handle.write("renamed\\n")
            os.replace(renamed + ".tmp", renamed)
            try:
                assert files.first_line(renamed) == "renamed"
            finally:
                os.remove(renamed)
            assert files.first_line(os.path.join(HERE, "notes.txt")) == "lasting"
    """))
    result = _recorded_session(pytester, passed=1)
    result.stderr.fnmatch_lines(["*call.skipped function=files.first_line reason='names a file written during the run'*",
                                 "*call.skipped function=files.is_file reason='names a file written during the run'*",
                                 "*call.skipped function=files.read_made reason='reads a file written during the run'*"])
    cases = _cases(app, "files", "first_line")
    assert 1 == len(cases) and "notes.txt" in json.dumps(cases[0]["call"])
    (app / "tests" / "test_written.py").unlink()
    run_tool(pytester)  # the replay test file
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=1)


EDITOR_APP = '''
import subprocess


def edit(name):
    return subprocess.run(["cleanup-trace-no-such-editor", name]).returncode
'''

LOCAL_EDITOR_APP = '''
def edit_here(name):
    import subprocess as processes  # (click imports it inside its functions)

    return processes.run(["cleanup-trace-no-such-editor", name]).returncode
'''


@pytest.mark.usefixtures("debug_log")
def test_replay_refuses_to_start_a_process_its_recording_did_not(pytester: pytest.Pytester, app: Path) -> None:
    """A test's fake ``subprocess.run`` is seen (the code names it): the call is not
    recorded. A fake ``Popen`` under it is not (the code does not name it): recorded,
    the call would start the real program at replay: refused, and the case fails
    saying why."""
    (app / "editor.py").write_text(textwrap.dedent(EDITOR_APP))
    (app / "local_editor.py").write_text(textwrap.dedent(LOCAL_EDITOR_APP))
    (app / "tests" / "test_editor.py").write_text(textwrap.dedent("""
        import subprocess
        import editor
        import local_editor

        class FakePopen:
            def __init__(self, command, **options):
                self.args, self.returncode = command, 0

            def __enter__(self):
                return self

            def __exit__(self, *exception):
                return False

            def communicate(self, input=None, timeout=None):
                return None, None

            def poll(self):
                return 0

        def test_edit_with_a_fake_run(monkeypatch):
            monkeypatch.setattr(subprocess, "run", lambda command: subprocess.CompletedProcess(command, 0))
            assert editor.edit("seen.txt") == 0
            assert local_editor.edit_here("seen.txt") == 0

        def test_edit_with_a_fake_popen(monkeypatch):
            monkeypatch.setattr(subprocess, "Popen", FakePopen)
            assert editor.edit('file"; rm -rf / ; echo "') == 0
    """))
    result = _recorded_session(pytester, passed=2)
    result.stderr.fnmatch_lines(["*call.skipped function=editor.edit reason='module global patched' "
                                 "detail='subprocess.run is not what its module defined*"])
    assert not (app / "tests/test-data/local_editor/edit_here-00.json").exists()
    cases = _cases(app, "editor", "edit")
    assert 1 == len(cases) and "rm -rf" in cases[0]["call"]["args"][0]
    (app / "tests" / "test_editor.py").unlink()
    run_tool(pytester)  # the replay test file
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*ReplayDiverged: the replayed call tried subprocess.Popen*"
                                 "cleanup-trace-no-such-editor*which its recording never did*"])


LOADER_APP = '''
import importlib


def value_of(package):
    return importlib.import_module(package).VALUE
'''


@pytest.mark.usefixtures("debug_log", "own_temporary_directory")
def test_calls_importing_a_package_made_by_the_test_are_not_recorded(pytester: pytest.Pytester, app: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """jinja2's PackageLoader given a package a test wrote to its tmp_path and put on
    sys.path: replay cannot import it. A package that lasts is imported as usual, also
    when the import writes its bytecode cache (``__pycache__``: not the call's doing),
    at recording and at replay."""
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
    (app / "loader.py").write_text(textwrap.dedent(LOADER_APP))
    (app / "lasting_pack").mkdir()
    (app / "lasting_pack" / "__init__.py").write_text("VALUE = 1\n")
    (app / "tests" / "test_loader.py").write_text(textwrap.dedent("""
        import loader

        def test_value_of(tmp_path, monkeypatch):
            (tmp_path / "made_pack").mkdir()
            (tmp_path / "made_pack" / "__init__.py").write_text("VALUE = 2\\n")
            monkeypatch.syspath_prepend(str(tmp_path))
            assert loader.value_of("made_pack") == 2
            assert loader.value_of("lasting_pack") == 1
    """))
    result = _recorded_session(pytester, passed=1)
    # importing it reads its files, which the test wrote
    result.stderr.fnmatch_lines(["*call.skipped function=loader.value_of reason='reads a file written during the run' "
                                 "detail=*made_pack*"])
    cases = _cases(app, "loader", "value_of")
    assert ["lasting_pack"] == [case["call"]["args"][0] for case in cases]
    assert (app / "lasting_pack" / "__pycache__").is_dir()
    shutil.rmtree(app / "lasting_pack" / "__pycache__")
    (app / "tests" / "test_loader.py").unlink()
    run_tool(pytester)  # the replay test file
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1, skipped=1)
    assert (app / "lasting_pack" / "__pycache__").is_dir()


CLASS_SENTINEL_APP = '''
class _Null:
    def __bool__(self):
        return False


class Opt:
    __unset = _Null()  # (pyparsing's Opt.__optionalNotMatched)

    def __init__(self, default=__unset):
        self.default = default

    def values(self):
        return [] if self.default is self.__unset else [self.default]


def values_of(option):
    return option.values()


def count_of(option):
    return len(option.values())


AT_IMPORT = count_of(Opt())  # a call made while the module imports: the sentinel is not known yet


def main():
    print(values_of(Opt()), values_of(Opt(3)), count_of(Opt()))
'''


@pytest.mark.usefixtures("debug_log")
def test_a_class_level_sentinel_is_stored_by_name(pytester: pytest.Pytester, app: Path) -> None:
    """A sentinel kept on a class and compared with ``is`` stays itself in the stored
    object holding it, as a module-level one does. During the module's import it is not
    known yet: a call then holding it is not recorded (pyparsing's ``srange`` building
    ``alphas8bit`` stored a copy of ``Opt.__optionalNotMatched``, which replayed as another
    object); the same call after the import is."""
    (app / "options.py").write_text(textwrap.dedent(CLASS_SENTINEL_APP))
    result = run_tool(pytester, "options")
    result.stdout.fnmatch_lines(["[[][]] [[]3[]] 0"])
    result.stderr.fnmatch_lines(["*call.skipped function=options.count_of reason='unserialisable argument' "
                                 "detail='a stateless options._Null object, while options is importing'*"])
    assert "Opt._Opt__unset" in (app / "tests/test-data/options/values_of-00.json").read_text()
    assert "Opt._Opt__unset" in (app / "tests/test-data/options/count_of-00.json").read_text()
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "values_of or count_of").assert_outcomes(passed=3)


LOADERS_APP = '''
import importlib


def load(name):
    return importlib.import_module(name).VALUE


class PackageLoader:
    def __init__(self, package):
        self.package = package

    def value(self):
        return importlib.import_module(self.package).VALUE


def values(paths):
    # (pyrsistent's field types given by dotted name: ``("record_test.Something",)``)
    found = []
    for path in paths:
        module, _, name = path.rpartition(".")
        found.append(getattr(importlib.import_module(module), name))
    return found
'''

LOADERS_SCRIPT = '''
import sys

from cleanup_trace import Recorder

sys.path.insert(0, "tests")  # a test putting its own package on the path (jinja2's PackageLoader tests)
with Recorder():
    import loaders
    print(loaders.load("res"), loaders.load("settings"))
    print(loaders.PackageLoader("res").value(), loaders.PackageLoader("settings").value())
    print(loaders.values(("res.VALUE",)), loaders.values(["settings.VALUE"]))
'''


@pytest.mark.usefixtures("debug_log")
def test_a_call_naming_a_test_package_is_not_recorded(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """A call given the name of a module it imports from the tests (a test's package put
    on sys.path), or given an object holding that name (lark's ``FromPackageLoader``),
    would not find it at replay: not recorded. Other module names are."""
    pytester.makepyfile(loaders=textwrap.dedent(LOADERS_APP), script=textwrap.dedent(LOADERS_SCRIPT),
                        settings="VALUE = 2\n")
    (pytester.path / "tests" / "res").mkdir(parents=True)
    (pytester.path / "tests" / "res" / "__init__.py").write_text("VALUE = 1\n")
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["1 2", "1 2", "[1] [2]"])
    result.stderr.fnmatch_lines(["*call.skipped function=loaders.load reason='names a test module' detail='res is imported*"])
    result.stderr.fnmatch_lines(["*call.skipped function=loaders.PackageLoader.value reason='names a test module'*"])
    [data] = (pytester.path / "tests" / "test-data" / "loaders").glob("load-*.json")
    assert [["settings"]] == [case["call"]["args"] for case in json.loads(data.read_text())["cases"]]
    [data] = (pytester.path / "tests" / "test-data" / "loaders").glob("PackageLoader.value-*.json")
    assert ["settings"] == [case["call"]["args"][0]["package"] for case in json.loads(data.read_text())["cases"]]
    [data] = (pytester.path / "tests" / "test-data" / "loaders").glob("values-*.json")
    assert [[["settings.VALUE"]]] == [case["call"]["args"] for case in json.loads(data.read_text())["cases"]]


FINDER_APP = '''
import importlib.util


def dirs(name):
    """pyhocon's ``find_package_dirs``: where a package is, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ImportError(f"No module named {name!r}")
    return list(spec.submodule_search_locations or [])
'''

FINDER_SCRIPT = '''
import os
import sys
import tempfile

from cleanup_trace import Recorder

with Recorder():
    import finder
    made = tempfile.mkdtemp()  # (pyhocon's test_include_package_file)
    os.mkdir(os.path.join(made, "made_pkg"))
    open(os.path.join(made, "made_pkg", "__init__.py"), "w").close()
    sys.path.insert(0, made)
    print(len(finder.dirs("made_pkg")), len(finder.dirs("json")))
'''


@pytest.mark.usefixtures("debug_log")
def test_a_call_naming_a_package_found_where_the_run_put_it_is_not_recorded(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """A call given the name of a package found, not imported, in a directory the run put
    on sys.path (a test's package made in a temporary directory) would not find it at
    replay ("No module named 'my_module'", pyhocon's ``find_package_dirs``): not recorded.
    A package replay finds is."""
    pytester.makepyfile(finder=textwrap.dedent(FINDER_APP), script=textwrap.dedent(FINDER_SCRIPT))
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["1 1"])
    result.stderr.fnmatch_lines(["*call.skipped function=finder.dirs reason='names a module replay does not have'"
                                 " detail='made_pkg is found in *, which the run put on sys.path'*"])
    [data] = (pytester.path / "tests" / "test-data" / "finder").glob("dirs-*.json")
    assert [["json"]] == [case["call"]["args"] for case in json.loads(data.read_text())["cases"]]


THREAD_LOCAL_APP = '''
import threading

_local = threading.local()


def current():
    return getattr(_local, "value", None)


def greet(name):
    return f"{current() or 'hello'} {name}"


def activate(value):
    _local.value = value


def main():
    print(greet("a"))
    activate("bonjour")
    print(greet("b"))
    activate(None)
    print(greet("c"))
'''


@pytest.mark.usefixtures("debug_log")
def test_calls_reading_thread_local_state_are_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """A module's threading.local() holding something in this thread (a locale
    activated, a context pushed by an earlier call): the calls reading it, and those
    running around them, are not recorded; replay has nothing there. While it holds
    nothing, they are."""
    (app / "locales.py").write_text(textwrap.dedent(THREAD_LOCAL_APP))
    result = run_tool(pytester, "locales")
    result.stdout.fnmatch_lines(["hello a", "bonjour b", "hello c"])
    result.stderr.fnmatch_lines(["*call.skipped function=locales.greet reason='reads thread-local state'"
                                 " detail='locales._local holds what an earlier call set*"])
    result.stderr.fnmatch_lines(["*call.skipped function=locales.activate reason='changes thread-local state'*"])
    assert not (app / "tests/test-data/locales/activate-00.json").exists()
    greet = json.loads((app / "tests/test-data/locales/greet-00.json").read_text())["cases"]
    assert [["a"], ["c"]] == [case["call"]["args"] for case in greet]
    assert 0 == pytester.runpytest_subprocess("-p", "no:cacheprovider").ret


def test_what_counts_as_a_thread_local_read() -> None:
    """Functions naming the module's threading.local() tell the hook at entry; a local
    made inside a function, or another module's, is not the module's state."""
    import ast

    from cleanup_trace.rewrite import CLOCK_HOOK, THREAD_LOCAL, THREAD_LOCAL_CHANGE

    source = textwrap.dedent('''
        import threading
        from threading import local
        _state = threading.local()
        _other = local()

        def reads():
            return getattr(_state, "x", None)

        def sets(value):
            _other.value = value

        def makes_its_own():
            state = threading.local()
            return state
    ''')
    tree, _ = rewrite_module(source, "m.py", "m")

    def entry(node: ast.FunctionDef) -> list:  # (the recorded body, inside the try: see inline)
        return next((statement.body for statement in node.body if isinstance(statement, ast.Try)), node.body)

    told = {node.name: [hook.value.args[1].value for hook in entry(node)
                        if isinstance(hook, ast.Expr) and isinstance(hook.value, ast.Call)
                        and getattr(hook.value.func, "id", "") == CLOCK_HOOK]
            for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert told == {"reads": [THREAD_LOCAL + "m:_state"], "sets": [THREAD_LOCAL_CHANGE + "m:_other"],
                    "makes_its_own": []}


REGISTRY_APP = {
    "registry.py": '''
_PATTERNS = {}


class AlreadyRegistered(Exception):
    pass


def register(name, factory):
    if name in _PATTERNS:
        raise AlreadyRegistered(name)
    _PATTERNS[name] = factory


def lookup(name):
    return _PATTERNS[name]()


import wildmatch  # (the built-in patterns register themselves: pathspec's package does so)
''',
    "wildmatch.py": '''
import registry


def make():
    return "wildmatch"


registry.register("wildmatch", make)  # (pathspec registers its pattern classes so)
''',
    "plugin.py": '''
import registry

registry.register("plugin", str)  # (a library's body: humanfriendly's define_aliases for capturer)
''',
}


def test_a_call_made_for_its_effect_by_an_importing_module_is_not_recorded(
        pytester: pytest.Pytester, app: Path, clean_env: pytest.MonkeyPatch) -> None:
    """Replay runs after the import, which made the call already: pathspec's
    ``register_pattern`` replayed raised AlreadyRegisteredError. Also when the importing
    module is not one the tool instruments (a library's), and though the call changes its
    module's registry. A look-up in the registry as the imports left it is recorded; a
    call once the registry holds more (configargparse's ``init_argument_parser`` raising
    for a name a test made before) is not: a replay imports afresh."""
    for name, text in REGISTRY_APP.items():
        (app / name).write_text(textwrap.dedent(text))
    (app / "tests" / "test_registry.py").write_text(textwrap.dedent("""
        import registry
        import wildmatch

        def test_lookup():
            assert registry.lookup("wildmatch") == "wildmatch"
            import plugin
            registry.register("other", wildmatch.make)
    """))
    clean_env.setenv("PYTESTCLEANUP_EXCLUDE_MODULES", "plugin")
    result = _recorded_session(pytester, passed=1)
    result.stdout.fnmatch_lines(["skipped cases: called for its effect during an import: 2, "
                                 "reads its module's state changed since import: 1*"])
    assert [["wildmatch"]] == [case["call"]["args"] for case in _cases(app, "registry", "lookup")]
    assert not (app / "tests" / "test-data" / "registry" / "register-00.json").exists()
    (app / "tests" / "test_registry.py").unlink()
    run_tool(pytester)  # the replay test file
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2, skipped=1)


PARSERS_APP = '''
_parsers = {}  # (configargparse's registry of named parsers)
SEEN = []


def init_parser(name, **options):
    if name in _parsers:
        raise ValueError(f"{name} exists: options are given the first time only")
    _parsers[name] = dict(options)


def get_parser(name, **options):
    if options or name not in _parsers:
        init_parser(name, **options)
    return _parsers[name]


def note(value):
    SEEN.append(value)  # a log: what the call gives does not depend on it
    return value * 2
'''


def test_a_registry_of_its_module_filled_by_a_call_is_not_replayed_from_another_state(
        pytester: pytest.Pytester, app: Path, clean_env: pytest.MonkeyPatch) -> None:
    """configargparse's ``get_argument_parser`` and ``init_argument_parser`` read and fill
    a module-level dict: replayed in a fresh import they raised where the recording
    returned, and the other way round once an earlier case had filled it (10.8% of its
    cases quarantined). A call that fills it changes its module's state; a call reading it
    once filled reads what a replay does not have. A list only appended to is a log."""
    (app / "parsers.py").write_text(textwrap.dedent(PARSERS_APP))
    (app / "tests" / "test_parsers.py").write_text(textwrap.dedent("""
        import pytest

        import parsers

        def test_parsers():
            assert parsers.note(1) + parsers.note(2) == 6
            assert parsers.get_parser("default", prog="p") == {"prog": "p"}
            with pytest.raises(ValueError):
                parsers.get_parser("default", prog="q")
            assert parsers.get_parser("default") == {"prog": "p"}
    """))
    result = _recorded_session(pytester, passed=1)
    result.stdout.fnmatch_lines(["skipped cases: changes its module's state: 2, "
                                 "reads its module's state changed since import: 3*"])
    assert [[1], [2]] == [case["call"]["args"] for case in _cases(app, "parsers", "note")]
    assert not (app / "tests" / "test-data" / "parsers" / "get_parser-00.json").exists()
    (app / "tests" / "test_parsers.py").unlink()
    run_tool(pytester)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2, skipped=1)


GENERATOR_APP = '''
class Policy:
    def __init__(self):
        self.last = 0

    def following(self, given):
        # (python-ulid's monotonic policy: the same millisecond gives the randomness after)
        self.last = self.last + 1 if given == 0 else given
        return self.last


class Generator:
    def __init__(self):
        self.policy = Policy()

    def generate(self, given):
        return self.policy.following(given)


default_generator = Generator()


class Ident:
    def __init__(self, value=None):
        if value is None:
            value = default_generator.generate(0)  # (not reached when a value is given)
        self.value = value

    def __eq__(self, other):
        return type(other) is Ident and other.value == self.value

    @classmethod
    def next_after(cls, given):
        return cls(default_generator.generate(given))


def label(ident):
    return f"id-{ident.value}"
'''


def test_a_call_changing_an_object_of_its_module_is_not_kept(
        pytester: pytest.Pytester, app: Path, clean_env: pytest.MonkeyPatch) -> None:
    """python-ulid's ``default_generator`` keeps, in its policy, the last randomness it
    gave: ``ULID.from_timestamp`` twice in a millisecond gives the randomness after the
    first's, which a replay, importing afresh, does not have (4.0% of its cases
    quarantined). A call changing a module-level object of your classes is not kept, as
    a setter, nor are its callers; a call only naming it (a constructor given its value)
    is."""
    (app / "ids.py").write_text(textwrap.dedent(GENERATOR_APP))
    (app / "tests" / "test_ids.py").write_text(textwrap.dedent("""
        import ids

        def test_ids():
            first = ids.Ident.next_after(0)
            assert ids.Ident.next_after(0).value == first.value + 1
            assert ids.Ident.next_after(7).value == 7
            assert ids.Ident().value == 8
            assert ids.label(ids.Ident(5)) == "id-5"
    """))
    result = _recorded_session(pytester, passed=1)
    # (the second ``next_after(0)`` is a duplicate call; the policy's and generator's
    # methods are stored with their ``self``, and replay from it)
    result.stdout.fnmatch_lines(["*skipped cases: changes its module's state: 3,*"])
    assert not (app / "tests" / "test-data" / "ids" / "Ident.next_after-00.json").exists()
    assert [[1], [2], [7], [5]] == [case["call"]["args"][1:] for case in _cases(app, "ids", "Ident.__init__")]
    assert [0, 1, 2, 7] == [case["call"]["args"][0]["last"] for case in _cases(app, "ids", "Policy.following")]
    assert _cases(app, "ids", "label")
    (app / "tests" / "test_ids.py").unlink()
    run_tool(pytester)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=11, skipped=1)


DELETED_HELPER_APP = '''
def _make_pattern(word):
    return f"^{word}$"


PATTERN = _make_pattern("url")
del _make_pattern  # (colander's ``_make_url_regex_src``)


def _kept(word):
    return word.upper()


TITLE = _kept("colander")


def matches(text):
    return text == PATTERN[1:-1]
'''


def test_a_function_its_module_deletes_after_calling_it_is_not_stored(
        pytester: pytest.Pytester, app: Path, clean_env: pytest.MonkeyPatch) -> None:
    """colander calls a helper to build a module constant, then deletes it: its case,
    taken while the module was importing and the helper still had its name, failed to
    replay ("colander._make_url_regex_src no longer exists"). Whether replay finds a
    function is decided once its module finished importing."""
    (app / "patterns.py").write_text(textwrap.dedent(DELETED_HELPER_APP))
    (app / "tests" / "test_patterns.py").write_text(textwrap.dedent("""
        import patterns

        def test_patterns():
            assert patterns.matches("url")
            assert patterns._kept("x") == "X"
    """))
    result = _recorded_session(pytester, passed=1)
    result.stdout.fnmatch_lines(["*skipped cases: *not importable by its qualified name: 1*"])
    assert not (app / "tests" / "test-data" / "patterns" / "_make_pattern-00.json").exists()
    assert [["x"], ["colander"]] == [case["call"]["args"] for case in _cases(app, "patterns", "_kept")]
    (app / "tests" / "test_patterns.py").unlink()
    run_tool(pytester)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3, skipped=1)


TRANSLATION_APP = '''
MESSAGES = {"de": {"empty": "Bitte einen Wert eingeben"}}


def set_language(language=None):
    # (formencode's ``set_stdtranslation``: every message after it is in that language)
    global _translate
    table = MESSAGES.get(language, {})
    _translate = lambda key, text: table.get(key, text)


set_language()


def message(key, text):
    return _translate(key, text)


def check(value):
    return message("empty", "Please enter a value") if not value else value


_separator = None


def split(text):
    # (made lazily: bleach's vendored ``splittype`` compiles its pattern at first use)
    global _separator
    if _separator is None:
        _separator = ","
    return text.split(_separator)
'''


def test_a_call_rebinding_a_global_of_its_module_is_not_kept(
        pytester: pytest.Pytester, app: Path, clean_env: pytest.MonkeyPatch) -> None:
    """formencode's ``set_stdtranslation(languages=["sk"])`` rebinds a module global
    (``global _stdtrans``) that every validator's message goes through: its recorded
    cases, replayed, switched the language of the cases after them (44 of 625 cases
    failed). Such a name is not watched as a patch (the module changes it itself); a call
    that binds another object to it changes its module's state, as a setter does, and a
    call reading it while it holds what the import did not leave there (the same
    translation made again counts as the import's) is passed over. A global made lazily
    from None by the function reading it is as good as the import's."""
    (app / "messages.py").write_text(textwrap.dedent(TRANSLATION_APP))
    (app / "tests" / "test_messages.py").write_text(textwrap.dedent("""
        import messages

        def test_messages():
            assert messages.check("") == "Please enter a value"
            messages.set_language("de")
            assert messages.check(0) == "Bitte einen Wert eingeben"
            messages.set_language()
            assert messages.check("x") == "x"
            assert messages.split("a,b") == ["a", "b"]
            assert messages.split("c") == ["c"]
    """))
    result = _recorded_session(pytester, passed=1)
    # (set_language(): the same call as the import's; check(0), and the message it
    # asked for, in German; split's first call made its separator)
    result.stdout.fnmatch_lines(["*skipped cases: *changes its module's state: 2, duplicate call: 1, "
                                 "reads its module's state changed since import: 2*"])
    assert not (app / "tests" / "test-data" / "messages" / "set_language-00.json").exists()
    assert [[""], ["x"]] == [case["call"]["args"] for case in _cases(app, "messages", "check")]
    assert [["c"]] == [case["call"]["args"] for case in _cases(app, "messages", "split")]
    (app / "tests" / "test_messages.py").unlink()
    run_tool(pytester)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=4, skipped=1)


BOX_APP = '''
class Box:
    def __init__(self, items):
        self.items = list(items)
        self.count = len(self.items)

    def __getstate__(self):
        return [self.count] + self.items

    def __setstate__(self, state):
        count, items = state[0], state[1:]
        if count != len(items):
            raise ValueError("a box's state is its count, then its items")
        self.items, self.count = items, count

    def __eq__(self, other):
        return type(other) is Box and (other.items, other.count) == (self.items, self.count)

    def remove(self, item):
        self.items.remove(item)
        note = removed(self, item)  # (its count is not up to date yet)
        self.count -= 1
        return note


def removed(box, item):
    return f"{item} removed, {len(box.items)} left"


def total(box):
    return sum(box.items)
'''


def test_a_trusted_class_writing_its_own_state_is_checked_once_more_per_function(
        pytester: pytest.Pytester, app: Path, clean_env: pytest.MonkeyPatch) -> None:
    """pygtrie's nodes write their own state, which a node caught half-way through a
    removal writes wrong: ``_OneChild.delete``, given such a parent after other functions'
    nodes had come back equal five times (trusted), stored five cases that did not
    decode. A function's first arguments holding an object of a class writing its own
    state are checked, trusted or not."""
    (app / "boxes.py").write_text(textwrap.dedent(BOX_APP))
    (app / "tests" / "test_boxes.py").write_text(textwrap.dedent("""
        import boxes

        def test_boxes():
            for n in range(1, 7):
                assert boxes.total(boxes.Box(range(n))) == n * (n - 1) // 2
            assert boxes.Box([1, 2]).remove(1) == "1 removed, 1 left"
    """))
    result = _recorded_session(pytester, passed=1)
    result.stdout.fnmatch_lines(["*unserialisable argument: *"])
    assert not (app / "tests" / "test-data" / "boxes" / "removed-00.json").exists()
    assert len(_cases(app, "boxes", "total")) >= 5
    _replays_green(pytester, app / "tests" / "test_boxes.py", at_least=6)


PRIORITY_APP = '''
import heapq


class Queue(dict):
    """altgraph's priority dictionary: iterating takes out each item it gives."""

    def __init__(self):
        self.__heap = []
        dict.__init__(self)

    def __setitem__(self, key, value):
        dict.__setitem__(self, key, value)
        heapq.heappush(self.__heap, (value, key))

    def smallest(self):
        while self.__heap[0][1] not in self or self[self.__heap[0][1]] != self.__heap[0][0]:
            heapq.heappop(self.__heap)
        return self.__heap[0][1]

    def __iter__(self):
        def taking_out():
            while len(self) > 0:
                key = self.smallest()
                yield key
                del self[key]
        return taking_out()


def order(weights):
    queue = Queue()
    for key, weight in weights.items():
        queue[key] = weight
    return [key for key in queue]
'''


def test_storing_a_dict_subclass_never_iterates_it_with_its_own_code(
        pytester: pytest.Pytester, app: Path, clean_env: pytest.MonkeyPatch) -> None:
    """altgraph's ``dijkstra`` iterates a priority dictionary whose ``__iter__`` takes out
    each item it gives: the decoding check compared the stored ``self`` with the user's
    object through that ``__iter__``, emptied it, and the recorded suite's
    ``shortest_path`` raised KeyError (one of its 41 tests failed). The check reads a
    dict's (and a list's) items with the builtin's own methods. The ``__slotnames__``
    that encoding such an object caches on its class is not a change of the module's
    state either."""
    (app / "queues.py").write_text(textwrap.dedent(PRIORITY_APP))
    (app / "tests" / "test_queues.py").write_text(textwrap.dedent("""
        import queues

        def test_order():
            assert queues.order({"b": 2, "a": 1, "c": 3}) == ["a", "b", "c"]
            assert queues.order({"x": 5, "y": 4}) == ["y", "x"]
    """))
    result = _recorded_session(pytester, passed=1)
    assert "changes its module's state" not in result.stdout.str()
    assert [[{"b": 2, "a": 1, "c": 3}], [{"x": 5, "y": 4}]] == [
        case["call"]["args"] for case in _cases(app, "queues", "order")]
    _replays_green(pytester, app / "tests" / "test_queues.py", at_least=2)


BARREL_APP = '''
class Barrel(list):
    """boltons' BarrelList: a list keeping its items in lists of its own."""

    def __init__(self, items=()):
        self.lists = [list(items)]

    def append(self, item):
        self.lists[-1].append(item)

    def __iter__(self):
        return iter([item for chunk in self.lists for item in chunk])

    def __len__(self):
        return sum(len(chunk) for chunk in self.lists)


def count(barrel, extra=0):
    return len(barrel) + extra


def show(barrel):
    return f"Barrel({list(barrel)})"
'''


def test_a_list_of_yours_decoded_through_its_own_append_is_checked_once_more_per_function(
        pytester: pytest.Pytester, app: Path, clean_env: pytest.MonkeyPatch) -> None:
    """boltons' ``BarrelList`` is stored with its items and its ``lists``; decoded, its
    ``append`` puts the items back into ``lists`` once more. Trusted after other
    functions' values came back equal, one ``__repr__`` case was stored that replayed
    ``BarrelList([1, 2, 1, 2])``. A list (or dict) of yours whose decoding runs its own
    ``append`` (``__setitem__``) is checked at a function's first arguments."""
    (app / "barrels.py").write_text(textwrap.dedent(BARREL_APP))
    (app / "tests" / "test_barrels.py").write_text(textwrap.dedent("""
        import barrels

        def test_barrels():
            for n in range(6):  # (empty ones come back equal: the class earns trust)
                assert barrels.count(barrels.Barrel(), n) == n
            assert barrels.show(barrels.Barrel([1, 2])) == "Barrel([1, 2])"
    """))
    _recorded_session(pytester, passed=1)
    assert not (app / "tests" / "test-data" / "barrels" / "show-00.json").exists()
    _replays_green(pytester, app / "tests" / "test_barrels.py", at_least=1)


READER_SOURCE = """
LOG = []
CACHE = {}
NAMES = set()


def f(x):
    LOG.append(x)
    NAMES.add(x)

    def inner():
        return CACHE.get(x)  # (read by a closure: read by f)
    return inner


def g(x):
    return lambda: CACHE[x]  # (g's own code names none of them)
"""


def test_a_container_only_appended_to_is_not_read() -> None:
    """A log (``SEEN.append(n)``) tells the call nothing; a look-up does, in nested code too."""
    from cleanup_trace import bodies, runtime

    namespace: dict = {}
    exec(compile(READER_SOURCE, "<readers>", "exec"), namespace)
    for function in (namespace["f"], namespace["g"]):
        assert bodies.names_read(runtime._code_objects(function), frozenset({"LOG", "CACHE", "NAMES"})) == {"CACHE"}


EXAMPLES_TEST = '''
import os
import sys

import shapes
import visitors


def test_examples():
    # (arpeggio's test_examples: each example's directory put on sys.path, then imported)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "examples", "calc"))
    import calc

    assert visitors.visit(calc.CalcVisitor(), 1) == "CalcVisitor:1"
    assert visitors.visit(shapes.Shape(2), 2) == "Shape:2"
'''


def test_an_object_of_a_module_found_through_a_directory_a_test_added_is_not_stored(
        pytester: pytest.Pytester, app: Path, clean_env: pytest.MonkeyPatch) -> None:
    """arpeggio's test puts its examples' directories on sys.path and imports them: their
    visitors, stored by class name, did not decode in the replay, which has no such
    directory (3 of its 153 cases). A directory a conftest puts there is one the replay's
    run has too."""
    (app / "visitors.py").write_text("def visit(visitor, node):\n    return f'{type(visitor).__name__}:{node}'\n")
    (app / "examples" / "calc").mkdir(parents=True)
    (app / "examples" / "calc" / "calc.py").write_text("class CalcVisitor:\n    pass\n")
    (app / "helpers").mkdir()
    (app / "helpers" / "shapes.py").write_text("class Shape:\n    def __init__(self, n):\n        self.n = n\n")
    (app / "tests" / "conftest.py").write_text(
        "import pathlib, sys\n\nsys.path.insert(0, str(pathlib.Path(__file__).parent.parent / 'helpers'))\n")
    (app / "tests" / "test_examples.py").write_text(textwrap.dedent(EXAMPLES_TEST))
    _recorded_session(pytester, passed=1)
    assert [[{"py/object": "shapes.Shape", "n": 2}, 2]] == [case["call"]["args"]
                                                           for case in _cases(app, "visitors", "visit")]
    (app / "tests" / "test_examples.py").unlink()
    run_tool(pytester)  # (Shape.__init__'s case too)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2, skipped=1)


OPTIONAL_APP = '''
def zone_names(source):
    import json  # (stands for an optional dependency a test may block)
    return sorted(json.loads(source))


def names_or_none(source):
    try:
        return zone_names(source)
    except ImportError:
        return None
'''


def test_a_call_an_import_failed_in_is_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """What imports depends on the run (python-dateutil's tests block ``tzdata`` with
    ``sys.modules["tzdata"] = None``): neither the call the import failed in nor the
    recorded calls it went through are kept; the same calls importing are."""
    (app / "optional.py").write_text(textwrap.dedent(OPTIONAL_APP))
    (app / "tests" / "test_optional.py").write_text(textwrap.dedent("""
        import sys

        import pytest

        import optional

        def test_blocked(monkeypatch):
            assert optional.zone_names('["b", "a"]') == ["a", "b"]
            monkeypatch.setitem(sys.modules, "json", None)
            with pytest.raises(ImportError):
                optional.zone_names('["c"]')
            assert optional.names_or_none('["d"]') is None
    """))
    result = _recorded_session(pytester, passed=1)
    result.stdout.fnmatch_lines(["skipped cases: an import failed: 3"])  # (zone_names twice, names_or_none)
    assert [['["b", "a"]']] == [case["call"]["args"] for case in _cases(app, "optional", "zone_names")]
    assert not (app / "tests/test-data/optional/names_or_none-00.json").exists()


OPTIONS_APP = {
    "keyoptions.py": "ALLOW_EMPTY_KEYS = False\n",
    "keys.py": '''
import sys

import keyoptions


def checked(key):
    if key == "" and not keyoptions.ALLOW_EMPTY_KEYS:
        raise ValueError("empty keys are not allowed")
    return key


def _reject_empty(key):
    sys._getframe  # (looks at frames: not instrumented, so no call of its own tells)
    if key == "" and not keyoptions.ALLOW_EMPTY_KEYS:
        raise ValueError("empty keys are not allowed")


def view(key):
    _reject_empty(key)  # (dpath's view reads the option through fold and walk)
    return [key]
''',
}


def test_a_setting_of_a_module_without_functions_that_a_test_changes_is_watched(pytester: pytest.Pytester,
                                                                               app: Path) -> None:
    """dpath's ``options.ALLOW_EMPTY_STRING_KEYS``, turned on by a test class for its
    tests: the calls made meanwhile belong to the changed setting, which replay does not
    have (they raised ``InvalidKeyName`` when replayed)."""
    for name, text in OPTIONS_APP.items():
        (app / name).write_text(textwrap.dedent(text))
    (app / "tests" / "test_keys.py").write_text(textwrap.dedent("""
        import keyoptions
        import keys

        def test_checked():
            assert keys.checked("a") == "a"
            assert keys.view("b") == ["b"]
            keyoptions.ALLOW_EMPTY_KEYS = True
            try:
                assert keys.checked("") == ""
                assert keys.view("") == [""]
            finally:
                keyoptions.ALLOW_EMPTY_KEYS = False
    """))
    result = _recorded_session(pytester, passed=1)
    result.stdout.fnmatch_lines(["skipped cases: module global patched: 2"])
    assert [["a"]] == [case["call"]["args"] for case in _cases(app, "keys", "checked")]
    assert [["b"]] == [case["call"]["args"] for case in _cases(app, "keys", "view")]


SETS_APP = '''
def listed(names):
    return list(names)


def each(names):
    yield from names
'''


def test_items_in_the_order_of_a_set_given_replay_in_any_order(pytester: pytest.Pytester, app: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """pathspec's ``match_files`` yields the files of the set it is given in the set's
    order, which Python does not fix: text hashes vary between runs (PYTHONHASHSEED), and
    a decoded set is built anew. Replayed, the same items in another order pass."""
    (app / "sets.py").write_text(textwrap.dedent(SETS_APP))
    (app / "tests" / "test_sets.py").write_text(textwrap.dedent("""
        import sets

        NAMES = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}

        def test_sets():
            assert sorted(sets.listed(NAMES)) == sorted(NAMES)
            assert sorted(sets.each(frozenset(NAMES))) == sorted(NAMES)
            assert sets.listed(["b", "a"]) == ["b", "a"]
    """))
    monkeypatch.setenv("PYTHONHASHSEED", "1")
    _recorded_session(pytester, passed=1)
    (app / "tests" / "test_sets.py").unlink()
    run_tool(pytester)  # the replay test file
    monkeypatch.setenv("PYTHONHASHSEED", "2")
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3, skipped=1)
    # (a list keeps its order: compared in order)
    data = app / "tests/test-data/sets/listed-00.json"
    text = data.read_text().replace('["b", "a"]', '["a", "b"]', 1)
    assert text != data.read_text()
    data.write_text(text)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2, failed=1, skipped=1)


FACTORY_APP = '''
class Factory:
    def get(self, label="now"):
        return f"made {label}"


_factory = Factory()


def get(label="now"):
    return _factory.get(label)
'''


def test_a_method_of_a_module_level_object_patched_by_a_test_is_watched(pytester: pytest.Pytester,
                                                                       app: Path) -> None:
    """arrow's ``mocker.patch("arrow.api._factory.get", return_value="result")``: the call
    made meanwhile returned the mock's value, and replay has the real method."""
    (app / "factory.py").write_text(textwrap.dedent(FACTORY_APP))
    (app / "tests" / "test_factory.py").write_text(textwrap.dedent("""
        from unittest import mock

        import factory

        def test_get(monkeypatch):
            # (arrow's first call of api.get is so; mock takes the attribute off the object
            # again, where pytest < 9's monkeypatch leaves the bound method on it)
            with mock.patch.object(factory._factory, "get", lambda label: "result"):
                assert factory.get("b") == "result"
            assert factory.get("a") == "made a"
            with monkeypatch.context() as patch:
                patch.setattr(factory.Factory, "get", lambda self, label: "other")
                assert factory.get("c") == "other"
            assert factory.get("d") == "made d"
    """))
    result = _recorded_session(pytester, passed=1)
    result.stdout.fnmatch_lines(["skipped cases: module global patched: 2"])
    assert [["a"], ["d"]] == [case["call"]["args"] for case in _cases(app, "factory", "get")]


SHAPES_APP = '''
def area(shape):
    return shape.width * shape.height


def double(number):
    return 2 * number
'''

CHECKS_MODULE = '''
import shapes


class Box:
    def __init__(self, width, height):
        self.width, self.height = width, height


def test_area():
    assert 6 == shapes.area(Box(2, 3))


def test_double():
    assert 8 == shapes.double(4)
'''


def test_a_test_file_given_by_name_is_a_test_module(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """``pytest checks.py`` (jsonpatch's ``pytest tests.py``): a file pytest collects is a
    test module whatever its name. Its classes' values are not recorded (replay runs
    without the test suite) and the module is not instrumented as the project's code."""
    pytester.makepyfile(shapes=textwrap.dedent(SHAPES_APP), checks=textwrap.dedent(CHECKS_MODULE))
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider", "checks.py").assert_outcomes(passed=2)
    data = pytester.path / "tests" / "test-data"
    assert [8] == [case["outcome"]["returned"] for case in json.loads((data / "shapes/double-00.json").read_text())["cases"]]
    assert [] == list((data / "shapes").glob("area-*.json"))
    assert not (data / "checks").exists()


CHDIR_SCRIPT = '''
import os
import sys
import tempfile

from cleanup_trace import Recorder

sys.path.insert(0, "tests")
with Recorder():
    import shapes
    import support  # the suite's helpers (tests/support.py), as babel's tests/messages/utils.py
    os.chdir(tempfile.mkdtemp())  # as a test changing directory does
    print(shapes.area(support.Box(2, 3)), shapes.double(4))
'''


def test_test_code_is_told_from_the_directory_recording_started_in(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """A test that changes directory does not make the suite's helpers look like the
    project's code: their classes' values are still not recorded."""
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "support.py").write_text(
        "class Box:\n    def __init__(self, width, height):\n        self.width, self.height = width, height\n")
    result = run_script(pytester, clean_env, shapes=textwrap.dedent(SHAPES_APP), script=textwrap.dedent(CHDIR_SCRIPT))
    result.stdout.fnmatch_lines(["6 8"])
    data = pytester.path / "tests" / "test-data" / "shapes"
    assert [8] == [case["outcome"]["returned"] for case in json.loads((data / "double-00.json").read_text())["cases"]]
    assert [] == list(data.glob("area-*.json"))


ORDERED_APP = '''
def shown(mapping):
    return repr(mapping)
'''

ORDERED_SCRIPT = '''
from cleanup_trace import Recorder

with Recorder():
    import ordered
    print(ordered.shown({1: 2, "a": 3}), ordered.shown({"a": 3, 1: 2}))
'''


def test_a_call_given_a_dict_its_data_file_would_reorder_is_not_recorded(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """Its text keys would come first at replay (munch's ``Munch.__repr__``)."""
    run_script(pytester, clean_env, ordered=textwrap.dedent(ORDERED_APP), script=textwrap.dedent(ORDERED_SCRIPT))
    [data] = (pytester.path / "tests" / "test-data" / "ordered").glob("shown-*.json")
    assert ["{'a': 3, 1: 2}"] == [case["outcome"]["returned"] for case in json.loads(data.read_text())["cases"]]


RESOURCES_PACKAGE = '''
import os
import pathlib

HERE = os.path.dirname(os.path.abspath(__file__))


def data_file(name):
    return os.path.join(HERE, "data", name)


def data_path(name):
    return pathlib.Path(HERE) / "data" / name


def read(path):
    with open(path) as handle:
        return handle.read()


def main():
    print(read(data_file("a.txt")), read(data_path("b.txt")), data_file("a.txt") == str(data_path("a.txt")))
    print(read(HERE + os.sep + "data" + os.sep + "a.txt"), len(data_file("")) > len(HERE))
'''


def test_paths_inside_a_package_replay_where_the_package_is_now(
        pytester: pytest.Pytester, app: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """babel's ``resolve_locale_filename`` returns a path into its own package: recorded in
    one checkout, replayed from another (a clone, CI, the installed copy), it named the
    first. Texts and pathlib paths inside your packages are stored relative to them."""
    package = app / "resources"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(RESOURCES_PACKAGE))
    (package / "data" / "a.txt").write_text("alpha")
    (package / "data" / "b.txt").write_text("beta")
    run_tool(pytester, "resources").stdout.fnmatch_lines(["alpha beta True", "alpha True"])
    data = app / "tests" / "test-data" / "resources"
    stored = "".join(path.read_text() for path in data.glob("*.json"))
    assert str(app) not in stored and "cleanup_trace.package_paths.load" in stored
    assert 2 == len(json.loads((data / "data_file-00.json").read_text())["cases"])  # "a.txt", ""
    moved = tmp_path_factory.mktemp("clone") / "project"
    shutil.copytree(app, moved, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(app / "resources")  # replay finds only the moved copy
    replay = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests"], cwd=moved,
                            env=dict(os.environ, PYTHONPATH=str(moved)), capture_output=True, text=True)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "passed" in replay.stdout and "failed" not in replay.stdout


MODULES_PACKAGE = '''
import os

HERE = os.path.dirname(os.path.abspath(__file__))
_known = {}


def info(path):
    return _known[path]  # (mako's ``_get_module_info``: a KeyError naming the path)


def main():
    for name in ("a.py", "b.py"):
        try:
            info(os.path.join(HERE, name))
        except KeyError as error:
            print("missing", os.path.basename(str(error).strip("'")))
'''


def test_an_error_naming_a_file_of_the_package_replays_where_the_package_is_now(
        pytester: pytest.Pytester, app: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The argument is stored relative to the package; the message naming it is stored
    with the package's directory marked, and compared with the directory it has now."""
    (app / "modules").mkdir()
    (app / "modules" / "__init__.py").write_text(textwrap.dedent(MODULES_PACKAGE))
    run_tool(pytester, "modules").stdout.fnmatch_lines(["missing a.py", "missing b.py"])
    [case, _] = json.loads((app / "tests/test-data/modules/info-00.json").read_text())["cases"]
    assert {"type": "builtins.KeyError", "message": "'<package modules>/a.py'"} == case["outcome"]["raised"]
    moved = tmp_path_factory.mktemp("clone") / "project"
    shutil.copytree(app, moved, ignore=shutil.ignore_patterns("__pycache__"))
    replay = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "tests", "-k", "info"],
                            cwd=moved, env=dict(os.environ, PYTHONPATH=str(moved)), capture_output=True, text=True)
    assert replay.returncode == 0 and "2 passed" in replay.stdout, replay.stdout + replay.stderr


SIZES_APP = '''
import os


def size(path):
    return os.path.getsize(path)


def main():
    print(size(os.path.join("data", "a.txt")))
    try:
        size(os.path.join("data", "none.txt"))
    except OSError as error:
        print(type(error).__name__)
'''


@pytest.mark.usefixtures("debug_log")
def test_a_call_naming_a_path_relative_to_the_current_directory_is_not_recorded(
        pytester: pytest.Pytester, app: Path) -> None:
    """mako's ``make_path("./setup.cfg")``, a file a test made after changing directory:
    replay runs elsewhere. A relative path naming nothing is just a text."""
    (app / "sizes.py").write_text(textwrap.dedent(SIZES_APP))
    (app / "data").mkdir()
    (app / "data" / "a.txt").write_text("abc")
    result = run_tool(pytester, "sizes")
    result.stdout.fnmatch_lines(["3", "FileNotFoundError"])
    result.stderr.fnmatch_lines(["*call.skipped function=sizes.size reason='names a path relative to the current "
                                 "directory' detail='data/a.txt (where the run was): replay runs elsewhere'*"])
    cases = json.loads((app / "tests/test-data/sizes/size-00.json").read_text())["cases"]
    assert [["data/none.txt"]] == [case["call"]["args"] for case in cases]


WHERE_APP = '''
import os
from pathlib import Path


def env_file():
    return os.path.join(os.getcwd(), ".env")  # (python-dotenv's ``enumerate_env``)


def config_file():
    return Path.cwd() / "setup.cfg"


def joined(name):
    return os.path.join("base", name)


def settings():
    with open("settings.ini") as handle:  # (radon's ``FileConfig.toml_config``: "pyproject.toml")
        return handle.read()


def file_uri(path):
    return "file://" + os.path.abspath(path)  # (w3lib's ``path_to_file_uri``)


def resolved(path):
    return str(Path(path).resolve())


def main():
    print(env_file().endswith(".env"), config_file().name, joined("x"), settings())
    print(file_uri("test.txt").endswith("/test.txt"), file_uri("/srv/a.txt"),
          resolved("b.txt").endswith("/b.txt"), resolved("/srv/b.txt"))
'''


@pytest.mark.usefixtures("debug_log")
def test_a_call_reading_the_current_directory_is_not_recorded(pytester: pytest.Pytester, app: Path) -> None:
    """Its outcome names where the run was; replay runs elsewhere."""
    (app / "where.py").write_text(textwrap.dedent(WHERE_APP))
    (app / "settings.ini").write_text("on")
    result = run_tool(pytester, "where")
    result.stdout.fnmatch_lines(["True setup.cfg base/x on"])
    result.stderr.fnmatch_lines(["*call.skipped function=where.settings reason='reads a path relative to the current "
                                 "directory' detail=\"'settings.ini': where the run was, replay runs elsewhere\"*"])
    result.stderr.fnmatch_lines(["*call.skipped function=where.env_file reason='reads the current directory' "
                                 "detail='through os.getcwd: where the run was, replay runs elsewhere'*"])
    result.stderr.fnmatch_lines(["*call.skipped function=where.config_file reason='reads the current directory'*"])
    # A relative path made absolute reads it too; an absolute one does not.
    result.stdout.fnmatch_lines(["True file:///srv/a.txt True /srv/b.txt"])
    result.stderr.fnmatch_lines(["*call.skipped function=where.file_uri reason='reads the current directory' "
                                 "detail='a relative path given to os.path.abspath: where the run was, replay runs "
                                 "elsewhere'*"])
    data = app / "tests" / "test-data" / "where"
    assert ["file_uri-00.json", "joined-00.json", "resolved-00.json"] == sorted(path.name for path in data.glob("*.json"))
    for name, path in (("file_uri", "/srv/a.txt"), ("resolved", "/srv/b.txt")):
        assert [[path]] == [case["call"]["args"] for case in json.loads((data / f"{name}-00.json").read_text())["cases"]]


HASHES_APP = '''
def digest(text):
    import backend  # loaded at the first call (eth_hash loading pycryptodome)
    return backend.checksum(text)


def main():
    print(digest("a"), digest("bc"))
'''

BACKEND_MODULE = '''
import subprocess
import sys

# What pycryptodome's import does through platform.architecture(): run a program.
KIND = subprocess.run([sys.executable, "-c", "print(64)"], capture_output=True, text=True).stdout.strip()


def checksum(text):
    return f"{KIND}:{sum(map(ord, text))}"
'''


def test_a_process_started_by_a_module_s_import_is_not_the_call_s_effect(pytester: pytest.Pytester,
                                                                        app: Path) -> None:
    """The call that happened to import a library first is recorded, and replays: the
    import does the same in the replay process."""
    (app / "hashes.py").write_text(textwrap.dedent(HASHES_APP))
    (app / "backend.py").write_text(textwrap.dedent(BACKEND_MODULE))
    run_tool(pytester, "hashes").stdout.fnmatch_lines(["64:97 64:197"])
    cases = json.loads((app / "tests/test-data/hashes/digest-00.json").read_text())["cases"]
    assert [["a"], ["bc"]] == [case["call"]["args"] for case in cases]
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "digest").assert_outcomes(passed=2)


def test_a_generator_collected_while_the_tool_writes_does_not_deadlock(pytester: pytest.Pytester, app: Path) -> None:
    """A recorded generator left half-read in a reference cycle ends when the garbage
    collector runs, wherever that is: once it was inside the writer's flush, under its
    lock, and ending the case there waited on that lock for ever (ecdsa's suite hung).
    A case ending inside the tool's own work is dropped; the others are written."""
    pytester.makepyfile(runner=textwrap.dedent("""
        import gc

        from cleanup_trace import Recorder

        recorder = Recorder()
        recorder.start()
        recorder.write_at_flush()
        import app

        class Holder:
            pass

        holder = Holder()
        holder.itself = holder
        holder.numbers = app.squares(5)
        next(holder.numbers)
        del holder
        print(app.fib(6))
        write = recorder.writer._write

        def write_after_collecting(*arguments):
            gc.collect()  # as if a collection started here
            return write(*arguments)

        recorder.writer._write = write_after_collecting
        recorder.flush()
        recorder.stop()
        print("done")
    """))
    result = pytester.run(sys.executable, "runner.py", timeout=60)
    assert ["8", "done"] == result.outlines
    assert (app / "tests/test-data/app/fib-00.json").exists()
    assert not (app / "tests/test-data/app/squares-00.json").exists()


SUBMODULE_APP = '''
import os.path
import urllib.parse


def present(path):
    return os.path.exists(path)


def host(url):
    return urllib.parse.urlsplit(url).hostname
'''


def test_a_call_made_while_a_test_patches_a_submodule_function_is_not_recorded(pytester: pytest.Pytester,
                                                                                 app: Path) -> None:
    """``mock.patch("os.path.exists", return_value=True)`` (pyjwt's tests patch
    ``urllib.request.urlopen``): the function names the module, then its submodule, then
    the function; the submodule's function is watched like the module's own."""
    (app / "paths.py").write_text(textwrap.dedent(SUBMODULE_APP))
    (app / "tests" / "test_paths.py").write_text(textwrap.dedent("""
        from unittest import mock

        import paths

        def test_paths():
            with mock.patch("os.path.exists", return_value=True):
                assert paths.present("/no/such/file")
            with mock.patch("urllib.parse.urlsplit"):
                assert paths.host("http://example.org/") is not None
            assert not paths.present("/no/such/file/either")
            assert paths.host("http://example.com/") == "example.com"
    """))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    present = json.loads((app / "tests/test-data/paths/present-00.json").read_text())
    assert [["/no/such/file/either"]] == [case["call"]["args"] for case in present["cases"]]
    host = json.loads((app / "tests/test-data/paths/host-00.json").read_text())
    assert [["http://example.com/"]] == [case["call"]["args"] for case in host["cases"]]


def test_an_included_module_pytest_collects_as_a_test_file_is_recorded(pytester: pytest.Pytester,
                                                                       clean_env: pytest.MonkeyPatch) -> None:
    """``python_files = *.py`` (boolean.py's configuration, for its doctests) makes pytest
    collect a library's own modules as test files, and rewrite their asserts. Named by
    PYTESTCLEANUP_INCLUDE_MODULES, they are the user's code: instrumented, their objects
    stored, and the cases replay. Its real test module stays test code."""
    package = pytester.path / "shapes"
    package.mkdir()
    (package / "__init__.py").write_text("from shapes.core import Square, area\n")
    (package / "core.py").write_text(textwrap.dedent('''
        class Square:
            """A square.

            >>> Square(2).side
            2
            """
            def __init__(self, side):
                self.side = side

            def __eq__(self, other):
                return type(other) is Square and other.side == self.side

            def grown(self):
                return Square(self.side + 1)


        def area(square):
            assert square.side >= 0, "a side is never negative"
            return square.side * square.side
    '''))
    (package / "test_core.py").write_text(textwrap.dedent('''
        from shapes import Square, area

        def test_area():
            assert area(Square(3).grown()) == 16
    '''))
    # (voluptuous keeps its tests in ``voluptuous/tests/tests.py``: test code by its directory)
    (package / "tests").mkdir()
    (package / "tests" / "__init__.py").write_text("")
    (package / "tests" / "checks.py").write_text(textwrap.dedent('''
        from shapes import Square

        def helper(side):
            return Square(side)

        def test_helper():
            assert helper(2).grown() == Square(3)
    '''))
    pytester.makefile(".ini", pytest="[pytest]\npython_files = *.py\naddopts = --doctest-modules\n")
    clean_env.setenv("PYTESTCLEANUP_INCLUDE_MODULES", "shapes*")
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider", "shapes")
    result.assert_outcomes(passed=3)
    recorded = sorted(path.name for path in (pytester.path / "tests/test-data/shapes.core").glob("*.json"))
    assert ["Square.__eq__-00.json", "Square.__init__-00.json", "Square.grown-00.json", "area-00.json"] == recorded
    assert not (pytester.path / "tests/test-data/shapes.test_core").exists()
    assert not (pytester.path / "tests/test-data/shapes.tests.checks").exists()
    run_tool(pytester)  # the scaffold
    outcomes = pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests").parseoutcomes()
    assert "failed" not in outcomes and outcomes["passed"] >= 3


FRAMES_APP = '''
class Frame:
    def __init__(self, stream_id):
        self.stream_id = stream_id

    def __repr__(self):
        return f"Frame({self.stream_id}): {self._body_repr()}"

    def _body_repr(self):
        return repr(self.serialize_body())

    def serialize_body(self):
        return b"body"


def main():
    print(repr(Frame(1)))
    original = Frame.serialize_body
    Frame.serialize_body = lambda self: b"patched"  # a test's monkeypatch.setattr(Frame, ...)
    print(repr(Frame(2)))
    Frame.serialize_body = original
    print(repr(Frame(3)))
'''


@pytest.mark.usefixtures("debug_log")
def test_calls_made_while_a_test_patches_a_method_of_the_class_are_not_recorded(pytester: pytest.Pytester,
                                                                                app: Path) -> None:
    """hyperframe's tests patch ``Frame.serialize_body``, which ``__repr__`` reaches through
    ``_body_repr``: those calls belong to the patch, which replay does not have."""
    (app / "frames.py").write_text(textwrap.dedent(FRAMES_APP))
    result = run_tool(pytester, "frames")
    assert ["Frame(1): b'body'", "Frame(2): b'patched'", "Frame(3): b'body'"] == [
        line for line in result.outlines if not line.startswith("written")]
    result.stderr.fnmatch_lines(["*call.skipped function=frames.Frame.__repr__ reason='module global patched' "
                                 "detail='frames.serialize_body is not what its module defined*"])
    for name in ("Frame.__repr__", "Frame._body_repr"):
        cases = json.loads((app / f"tests/test-data/frames/{name}-00.json").read_text())["cases"]
        assert [1, 3] == [case["call"]["args"][0]["stream_id"] for case in cases], name
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=9, skipped=1)


PARSER_APP = '''
import gc


class Parser:
    def __init__(self):
        self.buffer = []
        self._events = self._events_gen()  # resumed by one call after another

    def _events_gen(self):
        while True:
            while self.buffer:
                yield self.buffer.pop(0)
            yield None  # more data needed

    def receive(self, data):
        self.buffer.extend(data)

    def events(self):
        found = []
        for event in self._events:
            if event is None:
                break
            found.append(event)
        return found


def countdown(n):
    while n:
        yield n
        n -= 1


def main():
    parser = Parser()
    for chunk in ([1, 2], [], [3]):
        parser.receive(chunk)
        print(parser.events())
    del parser
    gc.collect()  # (the parser and its generator hold each other: it ends here, left open)
    print(list(countdown(3)))
'''


@pytest.mark.usefixtures("debug_log")
def test_a_generator_its_object_keeps_and_resumes_call_after_call_is_not_recorded(pytester: pytest.Pytester,
                                                                                  app: Path) -> None:
    """wsproto's ``self._parse_more = self._parse_more_gen()``: what it yields depends on
    the bytes received between its steps; replay runs it from the object as it started."""
    (app / "feed.py").write_text(textwrap.dedent(PARSER_APP))
    result = run_tool(pytester, "feed")
    assert ["[1, 2]", "[]", "[3]", "[3, 2, 1]"] == [line for line in result.outlines if not line.startswith("written")]
    result.stderr.fnmatch_lines(["*call.skipped function=feed.Parser._events_gen "
                                 "reason='generator kept by the object it reads'*"])
    data = app / "tests" / "test-data" / "feed"
    assert not (data / "Parser._events_gen-00.json").exists()
    assert (data / "countdown-00.json").exists()
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3, skipped=1)



DEFAULT_BOX_APP = '''
class Box(dict):
    """Answers any name with a new box it keeps (python-box's ``default_box``)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self.setdefault(name, Box())


def size(box):
    return len(box)


def main():
    settings = Box(name="demo")
    settings.note = "an attribute beside the items"
    sizes = []
    for n in range(4):
        settings["k%d" % n] = n
        sizes.append(size(settings))
    print("sizes:", sizes, "keys:", sorted(settings))
'''


def test_a_dict_making_an_item_for_any_name_asked_is_stored_unchanged(pytester: pytest.Pytester) -> None:
    """Storing a ``Box``-like dict asks it for no attribute: jsonpickle's path asked it for
    ``_jsonpickle_exclude`` (the program's box gained an item so named and its calls were
    refused); now the program sees what it sees unrecorded and its calls replay."""
    pytester.makepyfile(default_boxes=textwrap.dedent(DEFAULT_BOX_APP))
    result = run_tool(pytester, "default_boxes")
    assert result.ret == 0, result.stderr.str()
    result.stdout.fnmatch_lines(["sizes: [2, 3, 4, 5] keys: ['k0', 'k1', 'k2', 'k3', 'name']"])
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-k", "size").assert_outcomes(passed=4)
