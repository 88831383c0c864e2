"""--with-reorder, xdist, and no effect on runs that do not use goodies."""
from __future__ import annotations

import pytest

REORDER = '''
import pytest

@pytest.fixture(scope="module", params=[1, 2])
def m(request):
    return request.param

def test_a(m):
    pass

def test_b(m):
    pass
'''


@pytest.mark.parametrize(
    "args, expected",
    [
        ((), ["test_a[1]", "test_b[1]", "test_a[2]", "test_b[2]"]),
        (("--with-reorder", "normal"), ["test_a[1]", "test_b[1]", "test_a[2]", "test_b[2]"]),
        (("--with-reorder", "skip"), ["test_a[1]", "test_a[2]", "test_b[1]", "test_b[2]"]),
        (("--with-reorder", "skip", "-k", "not test_a"), ["test_b[1]", "test_b[2]"]),
    ],
)
def test_with_reorder(runner, args, expected):
    """'skip' restores the collection order; deselection still applies."""
    assert expected == [n for n, _ in runner.outcomes(REORDER, *args)]


def test_with_reorder_wrong_value(subprocess_pytester):
    """Any other value is an error raised at configure time."""
    subprocess_pytester.makepyfile(test_mod="def test_x():\n    pass\n")
    result = subprocess_pytester.runpytest_subprocess("-p", "no:cacheprovider", "--with-reorder", "foo")
    expected = "ValueError: [pytest-cases] Wrong --with_reorder option: foo. Allowed values: ('normal', 'skip')"
    assert expected in result.stderr.str()


def test_xdist_same_ids(subprocess_pytester):
    """Under pytest-xdist (-n 2) union ids and outcomes are the same."""
    pytest.importorskip("xdist")
    subprocess_pytester.makepyfile(test_mod='''
from cleanup_trace.goodies import fixture, fixture_union, parametrize, param_fixture

b = param_fixture("b", [1, 2])

@fixture
def a():
    return "A"

u = fixture_union("u", [a, b])

@parametrize("x", [0, a, b])
def test_x(x, u):
    pass
''')
    def outcomes(*extra):
        result = subprocess_pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:asyncio", "-v", *extra)
        return sorted(
            (line.split("::")[1].split(" ")[0], "PASSED")
            for line in result.outlines if "PASSED" in line and "::" in line
        )

    serial = outcomes("-p", "no:xdist")
    assert 10 == len(serial)
    assert "test_x[b-1-/b]" in [name for name, _ in serial]
    assert serial == outcomes("-n", "2")


def test_no_goodies_no_change(runner):
    """A suite that never uses goodies keeps pytest's ids and order."""
    src = '''
import pytest

@pytest.fixture(params=["x", "y"])
def f(request):
    return request.param

@pytest.mark.parametrize("a", [1, 2])
def test_t(a, f):
    pass
'''
    assert ["test_t[x-1]", "test_t[x-2]", "test_t[y-1]", "test_t[y-2]"] == runner.ids(src)


def test_closure_tree_pure():
    """split_closure: depth first, one child per union alternative."""
    from cleanup_trace.goodies._closure import split_closure

    deps = {"c": ["a", "b"], "a": ["r"], "b": [], "r": [], "t": ["c", "a"]}
    alts = {"c": ["a", "b"]}
    root = split_closure(["c", "a"], lambda n: deps.get(n, []), alts.get)
    assert [["c", "a", "r"], ["c", "b", "a", "r"]] == root.leaves()
