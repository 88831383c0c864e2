"""@fixture, unpack_fixture, param_fixture(s), ignore_unused, hook=."""
from __future__ import annotations

import pytest


def test_fixture_two_marks_product(runner):
    """Several marks: first (bottom) mark is the outer loop; lazy ids."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture, parametrize, lazy_value

def lv():
    return 5

@fixture
@parametrize("a", [1, lazy_value(lv)])
@parametrize("b,c", [(1, 2), pytest.param(3, 4, id="X")])
def f(a, b, c):
    return a, b, c

def test_f(f):
    assert f[0] in (1, 5)
'''
    expected = ["test_f[1-2-1]", "test_f[1-2-lv]", "test_f[X-1]", "test_f[X-lv]"]
    assert [(e, "passed") for e in expected] == runner.outcomes(src)


def test_fixture_double_pytest_mark(runner):
    """Two stacked pytest.mark.parametrize on a module fixture."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture

@fixture
@pytest.mark.parametrize("x", ["one", "two"])
@pytest.mark.parametrize("y", ["one", "two"])
def f(x, y):
    return x + y

def test_one(f):
    pass
'''
    assert ["test_one[one-one]", "test_one[one-two]", "test_one[two-one]", "test_one[two-two]"] == runner.ids(src)


def test_fixture_params_ids_generator(runner):
    """params= is accepted; a generator of ids is consumed to len(params)."""
    src = '''
from itertools import count
from cleanup_trace.goodies import fixture

@fixture(params=[10, 20], ids=("q%d" % i for i in count()))
def f(request):
    return request.param

def test_f(f):
    assert f in (10, 20)
'''
    assert [("test_f[q0]", "passed"), ("test_f[q1]", "passed")] == runner.outcomes(src)


def test_fixture_explicit_ids_and_param_id(runner):
    """pytest.param(id=) overrides its slot of the mark's ids."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture

@fixture
@pytest.mark.parametrize("a,b", [pytest.param(5, 6, id="a")], ids=["ignored_id"])
def f(a, b):
    return a + b

def test_f(f):
    assert f == 11
'''
    assert [("test_f[a]", "passed")] == runner.outcomes(src)


@pytest.mark.parametrize(
    "decl, message",
    [
        ('@fixture(params=[1])\n@pytest.mark.parametrize("v", [1])\ndef g(v):\n    return v',
         "With `fixture` you cannot mix usage of the keyword argument `params` and of the pytest.mark.parametrize marks"),
        ('@fixture\n@pytest.mark.parametrize("w", [1])\ndef g(v):\n    return v',
         "parameter 'w' not found in fixture signature 'g(v)'"),
    ],
)
def test_fixture_errors(runner, decl, message):
    """Invalid combinations fail at import with the spec's messages."""
    src = "import pytest\nfrom cleanup_trace.goodies import fixture\n\n%s\n\ndef test_x():\n    pass\n" % decl
    results, rec = runner.run(src)
    failed = [r for r in rec.getreports("pytest_collectreport") if r.failed]
    assert message in str(failed[0].longrepr)


def test_fixture_name_scope_yield_and_request_last(runner):
    """name=, scope=, yield teardown; request is appended after self."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture

EVENTS = []

@fixture(name="renamed", scope="module")
@pytest.mark.parametrize("v", [1, 2])
def some_func(v):
    EVENTS.append("setup%d" % v)
    yield v
    EVENTS.append("teardown%d" % v)

class TestC:
    @fixture
    @pytest.mark.parametrize("w", [3])
    def meth(self, w):
        return (type(self).__name__, w)

    def test_meth(self, meth):
        assert ("TestC", 3) == meth

def test_a(renamed):
    assert renamed in (1, 2)

def test_z():
    assert ["setup1", "teardown1", "setup2"] == EVENTS
'''
    results = runner.outcomes(src)
    assert ["passed"] * 4 == [o for _, o in results]


def test_fixture_indirect(runner):
    """A test can parametrize a @fixture indirectly (raw value, one mark)."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture, parametrize

@fixture
@parametrize("x", [1])
def my_fix(x):
    return x * 10

@parametrize(b=[0], my_fix=[2], indirect=["my_fix"])
def test_foo_indirect(b, my_fix):
    assert 20 == my_fix
'''
    assert [("test_foo_indirect[b=0-my_fix=2]", "passed")] == runner.outcomes(src)


def test_unpack_fixture_details(runner):
    """in_cls=True, extra items ignored, missing item -> IndexError."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture, unpack_fixture

@fixture(scope="module")
def c():
    return 1, 2, 3

x, y = unpack_fixture("x, y", c)
p, q, r, s = unpack_fixture(["p", "q", "r", "s"], "c")

class TestIn:
    m, n = unpack_fixture("m,n", c, in_cls=True)

    def test_in(self, m, n):
        assert (1, 2) == (m, n)

def test_xy(x, y):
    assert (1, 2) == (x, y)

def test_missing(s):
    pass
'''
    results, rec = runner.run(src)
    assert [("TestIn::test_in", "passed"), ("test_xy", "passed"), ("test_missing", "failed")] == results
    assert "IndexError" in str(rec.getreports("pytest_runtest_logreport")[-2].longrepr)


def test_unpack_invalid_name_and_override_warning(runner):
    """Non-identifier names raise SyntaxError; overriding symbols warns."""
    src = '''
import warnings
import pytest
from cleanup_trace.goodies import fixture, unpack_fixture

@fixture
def c():
    return 1, 2

a = 5
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    unpack_fixture("a,b", c)
WARNED = [str(x.message) for x in w]

def test_x():
    with pytest.raises(SyntaxError):
        unpack_fixture("p-q", c)
    assert 1 == len(WARNED)
    assert "Overriding symbol a in module" in WARNED[0]
'''
    assert [("test_x", "passed")] == runner.outcomes(src)


def test_param_fixture_marks_ids_and_errors(runner):
    """pytest.param ids/marks, ids callable, and the argname errors."""
    src = '''
import pytest
from cleanup_trace.goodies import param_fixture

foo = param_fixture("foo", [1, pytest.param(2, id="22"), pytest.param(3, marks=pytest.mark.skip)])
pfix = param_fixture("pfix", [1, 2], ids="p{}".format)

def test_foo(foo):
    pass

def test_pfix(pfix):
    pass

def test_errors():
    with pytest.raises(ValueError) as e:
        param_fixture("a,b", [1])
    assert str(e.value).startswith("`param_fixture` is an alias for `param_fixtures` that can only be used for a single parameter name.")
    with pytest.raises(ValueError, match="empty argname"):
        param_fixture("  ", [1])
'''
    expected = [("test_foo[1]", "passed"), ("test_foo[22]", "passed"), ("test_foo[3]", "skipped"),
                ("test_pfix[p1]", "passed"), ("test_pfix[p2]", "passed"), ("test_errors", "passed")]
    assert expected == runner.outcomes(src)


def test_param_fixtures_root_name_collision(runner):
    """The hidden root fixture name gets a _1 suffix when taken."""
    src = '''
from cleanup_trace.goodies import param_fixtures

a, b = param_fixtures("b, a", [(1, 2)])
c, d = param_fixtures("a2,b2", [(3, 4)])
a_b__param_fixtures_root_x = None
e, f = param_fixtures("e, f", [(5, 6)])

def test_x(a, b):
    assert (2, 1) == (a, b)

def test_names():
    assert "a_b__param_fixtures_root" in globals()
    assert "e_f__param_fixtures_root" in globals()
'''
    assert ["passed", "passed"] == [o for _, o in runner.outcomes(src)]


def test_hook_order(runner):
    """hook= sees every generated function, in creation order."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture, param_fixture, param_fixtures, fixture_union

SEEN = []

def hook(f):
    SEEN.append(f.__name__)
    return f

@fixture(hook=hook)
@pytest.mark.parametrize("i", [1])
def foo(i):
    return i

@fixture(hook=hook, unpack_into="o,p")
def r():
    return 1, 2

p1 = param_fixture("p1", [1], hook=hook)
p2, p3 = param_fixtures("p2,p3", [(1, 2)], hook=hook)
u = fixture_union("u", [p1, p2], hook=hook)

def test_hooks():
    assert ["foo", "o", "p", "r", "p1", "p2_p3__param_fixtures_root", "p2", "p3", "u"] == SEEN
'''
    assert [("test_hooks", "passed")] == runner.outcomes(src)


def test_ignore_unused_and_not_used(runner):
    """@fixture/@ignore_unused fixtures are skipped in inactive branches;
    plain fixtures are called with request.param NOT_USED / USED."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture, fixture_union, ignore_unused, NOT_USED

CALLS = []

@pytest.fixture
def plain(request):
    CALLS.append(("plain", repr(request.param)))
    return "plain"

@pytest.fixture
@ignore_unused
def ign():
    CALLS.append(("ign",))
    return "ign"

@fixture
def goodie():
    CALLS.append(("goodie",))
    return "goodie"

u = fixture_union("u", [plain, ign, goodie])

def test_u(u):
    pass

def test_calls():
    assert [
        ("plain", "pytest_cases.USED"),
        ("plain", "pytest_cases.NOT_USED"), ("ign",),
        ("plain", "pytest_cases.NOT_USED"), ("goodie",),
    ] == CALLS
    assert "pytest_cases.NOT_USED" == repr(NOT_USED)
'''
    assert ["passed"] * 4 == [o for _, o in runner.outcomes(src)]


def test_session_fixture_of_inactive_branch_still_set_up(runner):
    """Only function-scoped fixtures are kept out of inactive branches."""
    src = '''
from cleanup_trace.goodies import fixture, fixture_union

CALLS = []

@fixture(scope="session")
def fs():
    CALLS.append("fs")
    return "fs"

@fixture
def ff():
    CALLS.append("ff")
    return "ff"

u = fixture_union("u", [fs, ff])

def test_u(u):
    pass

def test_calls():
    assert ["fs", "ff"] == CALLS
'''
    results = runner.outcomes(src, "-k", "ff or calls")
    assert [("test_u[/ff]", "passed"), ("test_calls", "passed")] == results
