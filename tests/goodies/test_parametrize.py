"""@parametrize: inputs, ids, fixture_ref unions, lazy values, errors."""
from __future__ import annotations

import pytest

BASIC4 = '''
import pytest
from cleanup_trace.goodies import parametrize, fixture, fixture_ref, param_fixture

@fixture
def a():
    return 1, None

b = param_fixture("b", [1, 2])

@fixture
def c():
    return "a", "aa"

@parametrize("arg1,arg2", [(1, None), (2, "a"), fixture_ref(a), fixture_ref(c, id="aaa"), (3, fixture_ref(b))], %s)
def test_x(arg1, arg2):
    pass
'''


@pytest.mark.parametrize(
    "style, expected",
    [
        ("idstyle='explicit'", ["(arg1,arg2)/P0:2-1-None", "(arg1,arg2)/P0:2-2-a", "(arg1,arg2)/a",
                                "(arg1,arg2)/aaa", "(arg1,arg2)/3-b-1", "(arg1,arg2)/3-b-2"]),
        ("idstyle='compact'", ["/P0:2-1-None", "/P0:2-2-a", "/a", "/aaa", "/3-b-1", "/3-b-2"]),
        ("idstyle=None", ["1-None", "2-a", "a", "aaa", "3-b-1", "3-b-2"]),
    ],
)
def test_fixture_ref_basic4_ids(runner, style, expected):
    """The id table of fixture_ref alternatives for each idstyle."""
    assert ["test_x[%s]" % e for e in expected] == runner.ids(BASIC4 % style)


STR_STYLE = '''
from cleanup_trace.goodies import parametrize, fixture, param_fixture

@fixture
def fa():
    return "fa"

fb = param_fixture("fb", [1, 2])

@parametrize("x", [0, 1, fa, 2, fb], %s)
def test_x(x):
    assert x in (0, 1, 2, "fa")
'''


@pytest.mark.parametrize(
    "args, expected",
    [
        ("idstyle=str", ["x/P0:2/-0", "x/P0:2/-1", "x/P2F/fa", "x/P3/2", "x/P4F/fb-1", "x/P4F/fb-2"]),
        ('ids=lambda v: "ID(%s)" % (v,)', ["ID(0)", "ID(1)", "ID(fa)", "ID(2)", "ID(fb)-1", "ID(fb)-2"]),
        ("ids=('g%d' % i for i in __import__('itertools').count())", ["g0", "g1", "g2", "g3", "g4-1", "g4-2"]),
    ],
)
def test_str_style_and_ids(runner, args, expected):
    """idstyle=str, an ids callable (gets fixture_ref) and an ids generator."""
    results = runner.outcomes(STR_STYLE % args)
    assert [("test_x[%s]" % e, "passed") for e in expected] == results


def test_kwargs_style_and_idgen(runner):
    """**args style: AUTO ids; idgen template; lazy tuple items."""
    src = '''
import pytest
from cleanup_trace.goodies import parametrize, lazy_value, fixture

@fixture
def fa():
    return 3

def valtuple():
    return 1, 2

@parametrize(a=[1, 2], b=["x"])
def test_auto(a, b):
    pass

@parametrize(a=[1, fa])
def test_ref(a):
    assert a in (1, 3)

@parametrize("a", [1, 2], idgen="A{a}")
def test_tpl(a):
    pass

@parametrize("a,b", [lazy_value(valtuple), lazy_value(valtuple, id="hello"), (1, lazy_value(valtuple))])
def test_lazy_tuple(a, b):
    assert a in (1,)

@parametrize("a,b", [lazy_value(valtuple)], idgen="a={a}-b={b}")
def test_lazy_idgen(a, b):
    assert (1, 2) == (a, b)

@parametrize(foo=("bar",))
class TestFoo:
    def test_foo(self, foo):
        assert "bar" == foo
'''
    expected = [
        "test_auto[a=1-b=x]", "test_auto[a=2-b=x]", "test_ref[1]", "test_ref[fa]",
        "test_tpl[A1]", "test_tpl[A2]",
        "test_lazy_tuple[valtuple]", "test_lazy_tuple[hello]", "test_lazy_tuple[1-valtuple]",
        "test_lazy_idgen[a=valtuple[0]-b=valtuple[1]]", "TestFoo::test_foo[foo=bar]",
    ]
    assert expected == runner.ids(src)


def test_lazy_value_semantics(runner):
    """Called lazily, once per test node; marks on getter; partial ids."""
    src = '''
import functools
import pytest
from cleanup_trace.goodies import parametrize, lazy_value, is_lazy

CALLS = []
READY = []

def get(x=1):
    if not READY:
        raise RuntimeError("called at collection")
    CALLS.append(x)
    return x

@pytest.mark.skip
def skipped():
    return 0

@pytest.fixture
def raw(request):
    v = request.getfixturevalue("v")
    assert is_lazy(v)
    return v.get(request)

@pytest.fixture(autouse=True)
def ready():
    READY.append(1)

@parametrize("v", [lazy_value(functools.partial(get, 3)), lazy_value(skipped), lazy_value(get, marks=pytest.mark.xfail)])
def test_l(v, raw):
    assert v == raw == 3

@pytest.mark.parametrize("w", [lazy_value(get)])
def test_plain_mark(w):
    assert 1 == w

def test_once():
    assert [3, 1, 1] == CALLS
'''
    expected = [("test_l[get(3)]", "passed"), ("test_l[skipped]", "skipped"), ("test_l[get]", "xfailed"),
                ("test_plain_mark[get]", "passed"), ("test_once", "passed")]
    results, rec = runner.run(src)
    outcomes = []
    for name, outcome in results:
        outcomes.append((name, "xfailed" if outcome == "skipped" and "get]" in name else outcome))
    assert expected == outcomes


def test_fixture_ref_whole_tuple_and_repeat(runner):
    """A ref can stand for the whole tuple; the same ref used twice."""
    src = '''
import pytest
from cleanup_trace.goodies import parametrize, fixture, fixture_ref

@fixture
def c():
    return 3, 2

@fixture
def b():
    return 5

@parametrize("a,b2", [fixture_ref(c)])
def test_tuple(a, b2):
    assert (3, 2) == (a, b2)

@parametrize("x", [fixture_ref(b), pytest.param(fixture_ref(b))])
def test_twice(x):
    assert 5 == x
'''
    expected = [("test_tuple[c]", "passed"), ("test_twice[b0]", "passed"), ("test_twice[b1]", "passed")]
    assert expected == runner.outcomes(src)


def test_hooked_order_and_names(runner):
    """Generated fixtures: single value _P<i>, union last, hook order."""
    src = '''
from cleanup_trace.goodies import parametrize, fixture

SEEN = []

def hook(f):
    SEEN.append(f.__name__)
    return f

@fixture
def fa():
    return 0

@parametrize("x", [1, fa, 2], hook=hook)
def test_hooked(x):
    pass

def test_check():
    assert ["test_hooked_x_P0", "test_hooked_x_P2", "test_hooked_x"] == SEEN
'''
    assert ["passed"] * 4 == [o for _, o in runner.outcomes(src)]


@pytest.mark.parametrize(
    "decl, message",
    [
        ('@parametrize("v", fixture_ref(fa))\ndef test_g(v):\n    pass',
         "InvalidParamsList: Invalid parameters list (`argvalues`) in pytest parametrize. `list(argvalues)` returned an error."),
        ('@parametrize("v", [1])\ndef test_g(w):\n    pass', "parameter 'v' not found in test function signature 'test_g(w)'"),
        ('@parametrize("v", [1], ids=["a"], idgen="{v}")\ndef test_g(v):\n    pass', "Only one of `ids` and `idgen` should be provided"),
        ('@parametrize(v=[pytest.param(1, id="x")])\ndef test_g(v):\n    pass',
         "It is not possible to specify a sub-param id when using the new parametrization style"),
        ('@parametrize("v", [fa], indirect=True)\ndef test_g(v):\n    pass',
         "Setting `indirect=True` is not yet supported when at least a `fixure_ref` is present in the `argvalues`."),
        ('@parametrize("v", [fa])\nclass TestG:\n    pass',
         "@parametrize can not be used to decorate a Test class when the argvalues contain at least one reference to a fixture."),
        ('x = fixture_ref(lambda: 1)', "The provided fixture function does not seem to be a fixture"),
    ],
)
def test_parametrize_errors(runner, decl, message):
    """Invalid uses fail at import with the spec's messages."""
    src = '''
import warnings
import pytest
from cleanup_trace.goodies import parametrize, fixture, fixture_ref
warnings.simplefilter("ignore")

@fixture
def fa():
    return 1

%s
''' % decl
    results, rec = runner.run(src)
    failed = [r for r in rec.getreports("pytest_collectreport") if r.failed]
    assert message in str(failed[0].longrepr)
