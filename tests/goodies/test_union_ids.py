"""fixture_union: idstyles, explicit ids, duplicates, nesting, branches."""
from __future__ import annotations

import pytest

HEADER = '''
import pytest
from cleanup_trace.goodies import fixture, fixture_union, param_fixture, NOT_USED

@fixture
def a():
    return "A"

b = param_fixture("b", [1])
'''


@pytest.mark.parametrize(
    "args, expected",
    [
        ("", "test_u[/a] test_u[/b-1]"),
        ("idstyle='compact'", "test_u[/a] test_u[/b-1]"),
        ("idstyle='explicit'", "test_u[my_u/a] test_u[my_u/b-1]"),
        ("idstyle=None", "test_u[a] test_u[b-1]"),
        ("idstyle='nostyle'", "test_u[a] test_u[b-1]"),
        ("idstyle=str", "test_u[my_u/0/a] test_u[my_u/1/b-1]"),
        ("ids=lambda o: str(o)", "test_u[my_u/0/a] test_u[my_u/1/b-1]"),
        ("ids=['c=A', 'c=B']", "test_u[c=A] test_u[c=B-1]"),
        ("ids=('g%d' % i for i in __import__('itertools').count())", "test_u[g0] test_u[g1-1]"),
    ],
)
def test_idstyles(runner, args, expected):
    """Each idstyle/ids flavour gives the documented union id part."""
    src = HEADER + '''
u = fixture_union("my_u", [a, b], %s)

def test_u(my_u):
    assert my_u in ("A", 1)
''' % args
    assert expected.split() == runner.ids(src)


def test_pytest_param_id_and_marks(runner):
    """pytest.param around an alternative: its id wins, its marks apply."""
    src = HEADER + '''
u = fixture_union("u", [pytest.param(a, id="A"), pytest.param(b, marks=pytest.mark.skip)], ids=["x", "y"])

def test_u(u):
    pass
'''
    assert [("test_u[A]", "passed"), ("test_u[y-1]", "skipped")] == runner.outcomes(src)


def test_duplicate_alternatives(runner):
    """Duplicated alternatives warn, stay separate, get pytest suffixes."""
    src = HEADER + '''
import warnings
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    u = fixture_union("u", [a, b, a])
MESSAGES = [str(x.message) for x in w]

def test_u(u):
    assert MESSAGES == ["Creating a fixture union 'u' where two alternatives are the same fixture 'a'."]
'''
    expected = [("test_u[/a0]", "passed"), ("test_u[/b-1]", "passed"), ("test_u[/a1]", "passed")]
    assert expected == runner.outcomes(src)


def test_nested_unions(runner):
    """A union of a union keeps both id parts."""
    src = '''
from cleanup_trace.goodies import fixture, fixture_union, param_fixture

@fixture
def fa():
    return "fa"

fb = param_fixture("fb", [1, 2])
u = fixture_union("u", [fa, fb])
v = fixture_union("v", ["fa", u], idstyle="explicit")

def test_v(v):
    assert v in ("fa", 1, 2)
'''
    expected = ["test_v[v/fa]", "test_v[v/u-/fa]", "test_v[v/u-/fb-1]", "test_v[v/u-/fb-2]"]
    assert expected == [n for n, o in runner.outcomes(src) if o == "passed"]


def test_fixture_outside_union_crossed(runner):
    """A fixture needed outside the union is crossed with every branch."""
    src = '''
from cleanup_trace.goodies import fixture_union, param_fixture

a = param_fixture("a", ["x", "y"])
b = param_fixture("b", [1, 2])
c = fixture_union("c", [a, b], idstyle="explicit")

def test_foo(c, a):
    pass
'''
    expected = ["test_foo[c/a-x]", "test_foo[c/a-y]", "test_foo[c/b-1-x]", "test_foo[c/b-1-y]",
                "test_foo[c/b-2-x]", "test_foo[c/b-2-y]"]
    assert expected == runner.ids(src)


def test_two_unions(runner):
    """Two unions in one test: 14 tests, each union split in turn."""
    src = '''
from cleanup_trace.goodies import fixture_union, param_fixture

a = param_fixture("a", ["x", "y"])
b = param_fixture("b", [1, 2])
c = fixture_union("c", [a, b])
d = fixture_union("d", [b, a], idstyle="explicit")

def test_foo(c, a, d):
    pass
'''
    expected = [
        "test_foo[/a-x-d/b-1]", "test_foo[/a-x-d/b-2]", "test_foo[/a-x-d/a]",
        "test_foo[/a-y-d/b-1]", "test_foo[/a-y-d/b-2]", "test_foo[/a-y-d/a]",
        "test_foo[/b-1-x-d/b]", "test_foo[/b-1-x-d/a]", "test_foo[/b-1-y-d/b]", "test_foo[/b-1-y-d/a]",
        "test_foo[/b-2-x-d/b]", "test_foo[/b-2-x-d/a]", "test_foo[/b-2-y-d/b]", "test_foo[/b-2-y-d/a]",
    ]
    assert expected == runner.ids(src)


def test_custom_id_and_skip_mark_on_branch(runner):
    """A skip mark on an alternative skips its whole branch; custom id used."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture_union, param_fixture

a = param_fixture("a", [1, 22])
b = param_fixture("b", [3])
u = fixture_union("u", [pytest.param(a, id="A"), pytest.param(b, marks=pytest.mark.skip)])

def test_foo(u):
    pass
'''
    expected = [("test_foo[A-1]", "passed"), ("test_foo[A-22]", "passed"), ("test_foo[/b-3]", "skipped")]
    assert expected == runner.outcomes(src)


@pytest.mark.parametrize(
    "call, message",
    [
        ("fixture_union('u', a)", "TypeError: fixture_union: the `fixtures` argument should be a tuple, set or list"),
        ("fixture_union('u', [])", "ValueError: Empty fixture unions are not permitted"),
        ("fixture_union('u', [a], idstyle='foo')", "ValueError: Unknown style: 'foo'"),
        ("fixture_union('u', [a], ids=['x', 'y'])",
         "ValueError: Explicit list or generator of `ids` provided has a different length (2) than the number of argvalues (1)."),
    ],
)
def test_creation_errors(runner, call, message):
    """Invalid unions fail at import with the documented messages."""
    src = HEADER + "\n%s\n\ndef test_x():\n    pass\n" % call
    results, rec = runner.run(src)
    reports = [r for r in rec.getreports("pytest_collectreport") if r.failed]
    assert 1 == len(reports)
    assert message in str(reports[0].longrepr)
