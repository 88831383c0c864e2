"""The examples of the user documentation page, with their exact ids."""
from __future__ import annotations

UNPACK_FIXTURE = '''
import pytest
from cleanup_trace.goodies import unpack_fixture, fixture

@fixture
@pytest.mark.parametrize("o", ['hello', 'world'])
def c(o):
    return o, o[0]

a, b = unpack_fixture("a,b", c)

def test_function(a, b):
    assert a[0] == b
'''


def test_unpack_fixture_seed(runner):
    """unpack_fixture over a parametrized @fixture: one test per param."""
    expected = [("test_function[hello]", "passed"), ("test_function[world]", "passed")]
    assert expected == runner.outcomes(UNPACK_FIXTURE)


def test_unpack_into_seed(runner):
    """@fixture(unpack_into=...) gives the same tests as unpack_fixture."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture

@fixture(unpack_into="a,b")
@pytest.mark.parametrize("o", ['hello', 'world'])
def c(o):
    return o, o[0]

def test_function(a, b):
    assert a[0] == b
'''
    expected = [("test_function[hello]", "passed"), ("test_function[world]", "passed")]
    assert expected == runner.outcomes(src)


def test_union_unpack_into_seed(runner):
    """fixture_union(unpack_into=...) unpacks the active alternative."""
    src = '''
import pytest
from cleanup_trace.goodies import fixture, fixture_union

@fixture
@pytest.mark.parametrize("o", ['hello', 'world'])
def c(o):
    return o, o[0]

@fixture
@pytest.mark.parametrize("o", ['yeepee', 'yay'])
def d(o):
    return o, o[0]

fixture_union("c_or_d", [c, d], unpack_into="a, b")

def test_function(a, b):
    assert a[0] == b
'''
    expected = [
        ("test_function[/c-hello]", "passed"),
        ("test_function[/c-world]", "passed"),
        ("test_function[/d-yeepee]", "passed"),
        ("test_function[/d-yay]", "passed"),
    ]
    assert expected == runner.outcomes(src)


def test_param_fixtures_seed(runner):
    """param_fixture and param_fixtures ids of the doc page."""
    src = '''
import pytest
from cleanup_trace.goodies import param_fixtures, param_fixture

my_parameter = param_fixture("my_parameter", [1, 2, 3, 4])

@pytest.fixture
def fixture_uses_param(my_parameter):
    return my_parameter

def test_uses_param(my_parameter, fixture_uses_param):
    assert my_parameter == fixture_uses_param

arg1, arg2 = param_fixtures("arg1, arg2", [(1, 2), (3, 4)])

@pytest.fixture
def fixture_uses_param2(arg2):
    return arg2

def test_uses_param2(arg1, arg2, fixture_uses_param2):
    assert arg1 + 1 == arg2 == fixture_uses_param2
'''
    expected = [
        "test_uses_param[1]", "test_uses_param[2]", "test_uses_param[3]", "test_uses_param[4]",
        "test_uses_param2[1-2]", "test_uses_param2[3-4]",
    ]
    assert expected == [name for name, outcome in runner.outcomes(src) if outcome == "passed"]


def test_basic_union_seed(runner, pytester):
    """The doc's fixture_union: 3 tests, alternatives never crossed."""
    src = '''
from cleanup_trace.goodies import fixture, fixture_union

@fixture
def first():
    return 'hello'

@fixture(params=['a', 'b'])
def second(request):
    return request.param

c = fixture_union('c', [first, second])

def test_basic_union(c):
    print("VALUE=%s" % c)
'''
    results, rec = runner.run(src, "-s")
    expected = [
        ("test_basic_union[/first]", "passed"),
        ("test_basic_union[/second-a]", "passed"),
        ("test_basic_union[/second-b]", "passed"),
    ]
    assert expected == results


PRINTS = '''
import pytest
from cleanup_trace.goodies import parametrize, fixture, fixture_ref, lazy_value

@pytest.fixture
def world_str():
    return 'world'

def whatfun():
    return 'what'

@fixture
@parametrize('who', [world_str, 'you'])
def greetings(who):
    return 'hello ' + who

@parametrize('main_msg', ['nothing',
                          fixture_ref(world_str),
                          lazy_value(whatfun),
                          "1",
                          fixture_ref(greetings)], %s)
@pytest.mark.parametrize('ending', ['?', '!'])
def test_prints(main_msg, ending):
    print(main_msg + ending)
    assert main_msg in ('nothing', 'world', 'what', '1', 'hello world', 'hello you')
'''


def test_prints_seed_default_style(runner):
    """@parametrize with fixture_ref/lazy_value, default idstyle."""
    expected = [
        "test_prints[nothing-?]", "test_prints[nothing-!]",
        "test_prints[world_str-?]", "test_prints[world_str-!]",
        "test_prints[whatfun-?]", "test_prints[whatfun-!]",
        "test_prints[1-?]", "test_prints[1-!]",
        "test_prints[greetings-world_str-?]", "test_prints[greetings-world_str-!]",
        "test_prints[greetings-you-?]", "test_prints[greetings-you-!]",
    ]
    results = runner.outcomes(PRINTS % "auto_refs=False")
    assert [(e, "passed") for e in expected] == results


def test_prints_seed_explicit_style(runner):
    """idstyle="explicit" shows the union alternatives, P2:4 for the group."""
    expected = [
        "test_prints[main_msg/nothing-?]", "test_prints[main_msg/nothing-!]",
        "test_prints[main_msg/world_str-?]", "test_prints[main_msg/world_str-!]",
        "test_prints[main_msg/P2:4-whatfun-?]", "test_prints[main_msg/P2:4-whatfun-!]",
        "test_prints[main_msg/P2:4-1-?]", "test_prints[main_msg/P2:4-1-!]",
        "test_prints[main_msg/greetings-world_str-?]", "test_prints[main_msg/greetings-world_str-!]",
        "test_prints[main_msg/greetings-you-?]", "test_prints[main_msg/greetings-you-!]",
    ]
    results = runner.outcomes(PRINTS % 'idstyle="explicit"')
    assert [(e, "passed") for e in expected] == results
