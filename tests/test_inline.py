"""Plain functions record inside their own body (cleanup_trace.inline): what a program
sees of them is what it sees without the tool, and the cases are the calls it made."""
from __future__ import annotations

import json
import sys
import textwrap
import types
from pathlib import Path

import pytest

from cleanup_trace import inline, rewrite
from cleanup_trace.runtime import _call_form
from e2e_support import run_tool

LIB = '''
import sys
import types
import warnings

_MISSING = object()


def add(a, b=1, *, c=_MISSING):
    if c is _MISSING:
        return a + b
    return a + b + c


def unnamed_default(value, marker=object()):
    """A default nobody can name: a call leaving it out is recorded without it."""
    return "default" if marker is unnamed_default.__defaults__[0] else "given"


def gap(a, b=None, c=None):
    return (a, b, c)


def only_positional(a, b=2, /, c=3):
    return (a, b, c)


def spread(*items, **options):
    return (items, sorted(options))


def frames():  # (reads frames: not instrumented itself)
    frame, count = sys._getframe(), 0
    while frame is not None:
        count += 1
        frame = frame.f_back
    return count


def depth(n):
    """The frames under it: the same with and without recording."""
    if n:
        return depth(n - 1)
    return frames()


def caller_name():  # (its caller's caller)
    return sys._getframe(2).f_code.co_name


def asks_for_its_caller():
    return caller_name()


def warns():
    warnings.warn("careful", UserWarning, stacklevel=2)
    return 1


def finally_returns(x):
    try:
        return x
    finally:
        return x * 10


def finally_raises(x):
    try:
        return x
    finally:
        if x:
            raise KeyError(x)


def continue_in_finally(values):
    for value in values:
        try:
            return value
        finally:
            continue
    return "none"


def interrupts():
    raise KeyboardInterrupt


def raises_its_own(x):  # (no finally, no with: no handler of the tool's in its body)
    raise ValueError(x)


def raises_the_handled_one():  # (what its caller is handling)
    raise


def handles_inside(x):
    try:
        raise KeyError(x)
    except KeyError:
        pass
    return x


class ExitRaises:
    def __init__(self, x):
        self.x = x

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.x:
            raise LookupError(self.x)


def with_exit_raising(x):
    with ExitRaises(x):
        return x


def uses_locals(x):
    y = x + 1
    return sorted(locals())


class Shape:
    def __init__(self, sides):
        self.sides = sides

    def __eq__(self, other):
        return type(other) is Shape and other.sides == self.sides

    def grow(self, by=1):
        return Shape(self.sides + by)

    @classmethod
    def triangle(cls):
        return cls(3)

    @staticmethod
    def name(sides):
        return {3: "triangle", 4: "square"}.get(sides, "polygon")

    @property
    def even(self):
        return self.sides % 2 == 0


def main():
    print("types", [type(f) is types.FunctionType for f in (add, depth, Shape.grow, Shape.__dict__["triangle"].__func__,
                                                           Shape.__dict__["name"].__func__, Shape.even.fget)])
    print("code", depth.__code__ is sys.modules[__name__].depth.__code__, depth.__code__.co_firstlineno)
    print("calls", add(1), add(1, 2), add(1, c=5), unnamed_default(1), unnamed_default(1, 2), gap(1, c=3),
          only_positional(1), only_positional(1, 2, 4), spread(1, 2, x=3))
    print("depth", depth(0) - depth(5), depth(3) - depth(0))
    print("caller", asks_for_its_caller())  # main
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warns()
    print("warning", caught[0].filename == __file__, caught[0].lineno)
    print("finally", finally_returns(2), continue_in_finally([1, 2]))
    for value in (0, 4):
        try:
            print("finally", finally_raises(value))
        except KeyError as error:
            print("raised", error)
    try:
        interrupts()
    except KeyboardInterrupt:
        print("interrupted")
    try:
        raise TypeError("the caller's")
    except TypeError:  # (each call below runs while its caller handles an exception)
        for call in (lambda: raises_its_own(3), raises_the_handled_one, lambda: handles_inside(5),
                     lambda: with_exit_raising(0), lambda: with_exit_raising(7)):
            try:
                print("while handling", call())
            except Exception as error:
                print("while handling, raised", type(error).__name__, error)
    print("locals", uses_locals(1))  # (reads its namespace whole: keeps a wrapper)
    shape = Shape.triangle()
    print("shape", shape.grow().sides, shape.grow(by=2).sides, Shape.name(4), shape.even)
'''


@pytest.fixture
def lib(pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> Path:
    pytester.makepyfile(lib=textwrap.dedent(LIB))
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    return pytester.path / "tests" / "test-data" / "lib"


def cases(directory: Path, qualname: str) -> list:
    [data_file] = directory.glob(f"{qualname}-*.json")
    return json.loads(data_file.read_text())["cases"]


def test_a_recording_program_sees_its_functions_as_without_the_tool(pytester: pytest.Pytester, lib: Path) -> None:
    """``type(f)``, the frames under a call (what a recursion limit counts), the caller a
    function reads from its frame, the line a warning names: all as without the tool,
    while the functions record. (Each line of ``main`` differed with a wrapper per
    function, but for the frames read through ``sys._getframe``, whose functions are
    not instrumented.)"""
    plain = pytester.run(sys.executable, "-c", "import lib; lib.main()")
    recorded = run_tool(pytester, "lib")
    assert recorded.ret == 0, recorded.stderr.str()
    assert plain.outlines == [line for line in recorded.outlines if not line.startswith("written: ")]
    assert "types [True, True, True, True, True, True]" in recorded.outlines
    assert "depth -5 3" in recorded.outlines
    assert {"add", "Shape.grow", "Shape.triangle", "Shape.name", "Shape.even", "uses_locals"} <= {
        path.name.rpartition("-")[0] for path in lib.glob("*.json")}
    # (asks_for_its_caller returns what a callee read of its caller's caller: replayed, that
    # is the test harness. Frame readers are not recorded, their callers are: a known limit.)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests", "-k", "not asks_for_its_caller")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) > 15 and not outcomes.get("failed") and not outcomes.get("errors"), \
        result.stdout.str()


def test_the_recorded_call_is_the_one_the_caller_wrote(pytester: pytest.Pytester, lib: Path) -> None:
    """Parameters still holding their default object are left out (even a default nobody
    can name), the ones after such a gap are given by name, positional-only ones stay
    positional; the outcome is the last return or exception the body saw."""
    assert run_tool(pytester, "lib").ret == 0
    calls = {qualname: [case["call"] for case in cases(lib, qualname)]
             for qualname in ("add", "unnamed_default", "gap", "only_positional", "spread")}
    assert [{"args": [1], "kwargs": {}}, {"args": [1, 2], "kwargs": {}}, {"args": [1], "kwargs": {"c": 5}}] == \
        calls["add"]
    assert [{"args": [1], "kwargs": {}}, {"args": [1, 2], "kwargs": {}}] == calls["unnamed_default"]
    assert [{"args": [1], "kwargs": {"c": 3}}] == calls["gap"]
    assert [{"args": [1, 2], "kwargs": {}}, {"args": [1, 2, 4], "kwargs": {}}] == calls["only_positional"]
    assert [{"args": [1, 2], "kwargs": {"x": 3}}] == calls["spread"]
    outcomes = {qualname: [case["outcome"] for case in cases(lib, qualname)]
                for qualname in ("finally_returns", "finally_raises", "continue_in_finally")}
    assert [{"returned": 20}] == outcomes["finally_returns"]
    assert {"returned": 0} in outcomes["finally_raises"] and len(outcomes["finally_raises"]) == 2
    assert "KeyError" in json.dumps(outcomes["finally_raises"])
    assert [{"returned": "none"}] == outcomes["continue_in_finally"]
    # Called while their caller handles a TypeError: what left each call, not that one.
    outcomes = {qualname: json.dumps([case["outcome"] for case in cases(lib, qualname)]
                                     if list(lib.glob(f"{qualname}-*.json")) else [])
                for qualname in ("raises_its_own", "raises_the_handled_one", "handles_inside", "with_exit_raising")}
    assert "ValueError" in outcomes["raises_its_own"] and "TypeError" not in outcomes["raises_its_own"]
    # (its bare raise re-raises what its caller handles: replay has nothing to re-raise)
    assert "[]" == outcomes["raises_the_handled_one"]
    assert [{"returned": 5}] == json.loads(outcomes["handles_inside"])
    assert {"returned": 0} in json.loads(outcomes["with_exit_raising"]) and "LookupError" in outcomes["with_exit_raising"]
    assert not list(lib.glob("interrupts-*.json"))  # (KeyboardInterrupt: not an outcome)


def test_what_records_through_a_wrapper_instead() -> None:
    """Generators, coroutines and functions reading their whole local namespace keep the
    wrapper; everything else of a module records inside."""
    source = textwrap.dedent('''
        def plain(x):
            return x
        def generator(x):
            yield x
        def delegating(x):
            yield from x
        async def coroutine(x):
            return x
        def namespace(x):
            return locals()
        def nested_generator_is_its_own(x):
            def inner():
                yield x
            return inner
        class K:
            def mangled(self, *, __secret):
                return __secret
    ''')
    tree, instrumented = rewrite.rewrite_module(source, "m.py", "m")
    inside = {node.name for node in ast_functions(tree) if inline.CALL_LOCAL in ast_text(node)}
    assert {"plain", "nested_generator_is_its_own"} == inside
    assert {"plain", "generator", "delegating", "coroutine", "namespace", "nested_generator_is_its_own",
            "K.mangled"} == set(instrumented)


def ast_functions(tree):  # type: ignore[no-untyped-def]
    import ast

    return [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def ast_text(node) -> str:  # type: ignore[no-untyped-def]
    import ast

    return ast.unparse(node)


@pytest.mark.parametrize(("function", "given", "expected"), [
    (lambda a, b=1, *, c=None: None, ((5, 1), (), {"c": None}, None), ((5,), {})),
    (lambda a, b=1, c=2: None, ((5, 1, 3), (), None, None), ((5,), {"c": 3})),
    (lambda a, b=1, /, c=2: None, ((5, 1, 3), (), None, None), ((5, 1, 3), {})),
    (lambda a, b=1, c=2, d=3: None, ((5, 1, 2, 4), (), None, None), ((5,), {"d": 4})),
    (lambda a, b=1, *rest: None, ((5, 1), (7,), None, None), ((5, 1, 7), {})),
    (lambda a, **options: None, ((5,), (), None, {"x": 1}), ((5,), {"x": 1})),
    (lambda a, b=[]: None, ((5, []), (), None, None), ((5, []), {})),  # an equal list is not the default
])
def test_call_form(function: types.FunctionType, given: tuple, expected: tuple) -> None:
    shape = (function.__defaults__, function.__kwdefaults__, function.__code__.co_varnames,
             function.__code__.co_posonlyargcount)
    assert expected == _call_form(shape, *given)


def test_dormant_hooks_let_recorded_code_run_where_nothing_records() -> None:
    """A function stored by value keeps its recording body: rebuilt in a process that does
    not record, its hooks find no gate and it runs as written."""
    import subprocess

    program = textwrap.dedent('''
        import builtins, types
        from cleanup_trace import rewrite, serialise  # (serialise puts the dormant hooks in place)
        namespace = {"__name__": "m", "__builtins__": builtins}
        code = compile(rewrite.rewrite_module("def f(x):\\n    return x * 2\\n", "m.py", "m")[0], "m.py", "exec")
        function_code = next(const for const in code.co_consts if isinstance(const, types.CodeType))
        print(types.FunctionType(function_code, namespace)(21))
        print(hasattr(builtins, "__cleanup_trace@enter__"))
    ''')
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert ["42", "False"] == result.stdout.split()


HELD_APP = '''
import functools


class curry:  # (as toolz's: the function is its ``func``)
    def __init__(self, func):
        self._partial = functools.partial(func)

    @property
    def func(self):
        return self._partial.func

    def __call__(self, *args):
        return self._partial(*args)


def flip(function, a, b):
    return function(b, a)


flip = curry(flip)


@functools.lru_cache
def cached(x):
    return x


def unwrap(decorated):
    return decorated.func


def plain_of_cached():
    return cached.__wrapped__


def main():
    print(unwrap(flip) is flip.func, plain_of_cached() is cached.__wrapped__)
'''


def test_a_function_held_by_a_decorators_object_is_stored_as_that(pytester: pytest.Pytester,
                                                                   clean_env: pytest.MonkeyPatch) -> None:
    """``flip = curry(flip)``: the plain function's name leads to the curry object, which
    holds it as ``func``. Returned, it is stored as that look-up, and replay gets the very
    function (a copy by value would be another function: ``!=``)."""
    pytester.makepyfile(held=HELD_APP)
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    result = run_tool(pytester, "held")
    assert result.ret == 0 and "True True" in result.outlines, result.stderr.str()
    data = pytester.path / "tests" / "test-data" / "held"
    assert ["held", "flip", "func"] == cases(data, "unwrap")[0]["outcome"]["returned"]["py/reduce"][1]["py/tuple"]
    assert "__wrapped__" in json.dumps(cases(data, "plain_of_cached"))
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests", "-k", "unwrap or plain_of_cached") \
        .assert_outcomes(passed=2)


PLAIN_AGAIN_SCRIPT = '''
import dis
import traceback
from cleanup_trace import Recorder
from cleanup_trace.inline import OPEN_HOOK

def recording(function):
    return any(instruction.argval == OPEN_HOOK for instruction in dis.get_instructions(function))

with Recorder():
    import lib
    first = lib.gap.__code__
    print("recording at first:", recording(lib.add), recording(lib.gap))
    for value in range(200):  # budget full, then watched a while: its recording is over
        lib.add(value)
    for _ in range(400):  # one case, then nothing new for long: over too, for this run
        lib.gap(1)
    print("plain once over:", recording(lib.add), recording(lib.gap), lib.add(1, c=2), lib.gap(2))
    try:
        lib.add(None)
    except TypeError as error:  # (its exception table and line numbers as they were)
        print("raised at", traceback.extract_tb(error.__traceback__)[-1].line)
with Recorder():
    # (add's budget is full for the process; gap records again, in its recording body)
    print("recording again:", recording(lib.add), recording(lib.gap), lib.gap.__code__ is first)
'''


def test_a_function_whose_recording_is_over_runs_its_body_without_it(pytester: pytest.Pytester, lib: Path) -> None:
    """Recording over for a function (budget full, saturated): its code no longer asks
    for its gate (the same object, so every reference sees it; the rest of the body as
    it was), and it asks again when recording starts anew."""
    pytester.makepyfile(script=PLAIN_AGAIN_SCRIPT)
    result = pytester.run(sys.executable, "script.py")
    assert result.ret == 0, result.stderr.str()
    assert ["recording at first: True True", "plain once over: False False 4 (2, None, None)",
            "raised at return a + b", "recording again: False True True"] == result.outlines



def test_a_closed_body_runs_two_instructions_where_its_gate_call_was() -> None:
    """Once its recording is over, a function skips what asked for its gate in one jump
    (13 code units of a call and its caches on 3.11, 9 on 3.12 and 3.13: each ran at every
    call, twice the cost of a small function's own body), and gives what it gave."""
    import dis

    from cleanup_trace import bodies

    tree, _ = rewrite.rewrite_module("def add(a, b):\n    return a + b\n", "closed.py", "closed")
    namespace: dict = {"__name__": "closed"}
    exec(compile(tree, "closed.py", "exec"), namespace)
    add = namespace["add"]
    add.__code__ = bodies.without_gate_call(add.__code__)
    instructions = [instruction for instruction in dis.get_instructions(add) if instruction.opname != "RESUME"]
    run, at = [], 0
    while not instructions[at].opname.startswith("STORE_FAST"):  # (the store of @call)
        run.append(instructions[at].opname)
        target = instructions[at].argval if instructions[at].opname == "JUMP_FORWARD" else None
        at = next(index for index, instruction in enumerate(instructions) if instruction.offset == target) \
            if target is not None else at + 1
    assert run == (["LOAD_CONST", "NOP", "NOP"] if sys.version_info < (3, 11) else ["LOAD_CONST", "JUMP_FORWARD"])
    assert inline.CALL_LOCAL in str(instructions[at].argval)
    assert add(2, 3) == 5


CHANGED_AFTER_YIELD_APP = '''
class Node:
    def __init__(self, name):
        self.name = name

    def __eq__(self, other):
        return type(other) is Node and vars(other) == vars(self)


def walk(names):
    for node in [Node(name) for name in names]:
        yield node
        node.seen = True  # changed once the consumer has it (anytree makes children lists so)


def main():
    print([node.name for node in walk(["a", "b"])])
'''


def test_a_yielded_item_is_compared_as_it_was_when_yielded(pytester: pytest.Pytester,
                                                         clean_env: pytest.MonkeyPatch) -> None:
    """The recording stores each item when the generator yields it; replay compares each
    item as it was then too, not after the generator went on changing it."""
    pytester.makepyfile(walker=CHANGED_AFTER_YIELD_APP)
    clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / "tests"))
    assert run_tool(pytester, "walker").ret == 0
    items = cases(pytester.path / "tests" / "test-data" / "walker", "walk")[0]["outcome"]["generator"]["items"]
    assert "seen" not in json.dumps(items)
    outcomes = pytester.runpytest_subprocess("-p", "no:cacheprovider", "tests").parseoutcomes()
    assert outcomes["passed"] >= 3 and not outcomes.get("failed"), outcomes
