"""The transformer as a pure function of source text: placement, names, locations, skip rules."""
from __future__ import annotations

import ast
import sys
import textwrap
import traceback
import types

import pytest

from cleanup_trace import rewrite


def rewritten(source: str, module: str = "golden", record_inside: bool = True) -> str:
    tree, _ = rewrite.rewrite_module(textwrap.dedent(source), "golden.py", module, record_inside)
    return ast.unparse(tree)


def instrumented(source: str) -> list[str]:
    return rewrite.rewrite_module(textwrap.dedent(source), "golden.py", "golden")[1]


def test_helper_import_goes_after_docstring_and_future_imports() -> None:
    """Docstring first, then ``from __future__``, then the helper import, then the code."""
    source = '''
        """Doc."""
        from __future__ import annotations
        import os

        def f(x):
            return x
    '''
    expected = textwrap.dedent('''\
        """Doc."""
        from __future__ import annotations
        import cleanup_trace.runtime as __cleanup_trace@__
        __cleanup_trace@__ = __cleanup_trace@__.module_instrumenter('golden')
        import os

        @__cleanup_trace@__
        def f(x):
            return x
        __cleanup_trace@__.finished()''')
    assert expected == rewritten(source, record_inside=False)
    assert expected.replace("@__cleanup_trace@__\n", "@__cleanup_trace@__.inline('golden:0')\n") == \
        rewritten(source).replace(INLINE_BODY.format(indent="    ", value="x"), "    return x")


# What a plain function records with in its body (see cleanup_trace.inline).
INLINE_BODY = """\
{indent}@cleanup_trace_call = __cleanup_trace@open__('golden:0')
{indent}if @cleanup_trace_call:
{indent}    @cleanup_trace_call = __cleanup_trace@enter__(@cleanup_trace_call, (x,), (), None, None)
{indent}try:
{indent}    return __cleanup_trace@return__(@cleanup_trace_call, {value}) if @cleanup_trace_call else {value}
{indent}finally:
{indent}    if @cleanup_trace_call:
{indent}        __cleanup_trace@leave__(@cleanup_trace_call)"""


def test_a_return_is_added_only_where_the_body_can_end_without_one() -> None:
    """Falling off the end returns None through RETURN_HOOK; a body whose last statement
    returns or raises cannot, and gets no added return (its nodes would be compiled at
    every import for nothing)."""
    added = "return __cleanup_trace@return__(@cleanup_trace_call, None) if @cleanup_trace_call else None"
    assert added in rewritten("def f(x):\n    print(x)\n")
    assert added in rewritten("def f(x):\n    if x:\n        return 1\n")
    assert added not in rewritten("def f(x):\n    if x:\n        return 1\n    raise ValueError(x)\n")
    assert added not in rewritten("def f(x):\n    return x\n")
    namespace: dict = {"__name__": "golden"}
    exec(rewrite.compile_instrumented("def f(x):\n    x.append(1)\n", "golden.py", "golden"), namespace)
    given: list = []
    assert namespace["f"](given) is None and given == [1]


def test_names_the_module_rebinds_itself_are_passed_to_the_runtime() -> None:
    """``global`` statements of the module's functions: rebinding those names is the
    module's own doing, not a test's patch."""
    source = '''
        _cache = None
        COUNT = 0

        def cached():
            global _cache, COUNT
            COUNT += 1
            return _cache
    '''
    assert "__cleanup_trace@__.module_instrumenter('golden', ('COUNT', '_cache'))" in rewritten(source)
    assert "module_instrumenter('golden')" in rewritten("def f():\n    return 1\n")


def test_helper_name_cannot_clash_with_user_code() -> None:
    """The helper is bound to a name containing ``@``; a user name ``cleanup_trace`` is untouched."""
    assert "@" in rewrite.HELPER_NAME
    source = "cleanup_trace = 1\ndef f():\n    return cleanup_trace\n"
    namespace: dict = {"__name__": "golden"}
    exec(rewrite.compile_instrumented(source, "golden.py", "golden"), namespace)
    assert 1 == namespace["f"]()
    # Gone once the module body has run: the namespace holds only the user's names.
    assert rewrite.HELPER_NAME not in namespace


def test_module_without_functions_is_left_alone() -> None:
    """No function, no helper import."""
    assert "x = 1" == rewritten("x = 1\n")


def test_decorator_is_innermost() -> None:
    """The recording decorator is appended last, so it is applied first."""
    source = '''
        import functools
        class K:
            @staticmethod
            @functools.lru_cache
            def f(x):
                return x
    '''
    for record_inside, recording in ((False, "__cleanup_trace@__"), (True, "__cleanup_trace@__.inline('golden:0')")):
        tree, _ = rewrite.rewrite_module(textwrap.dedent(source), "golden.py", "golden", record_inside)
        method = tree.body[-2].body[0]
        assert ["staticmethod", "functools.lru_cache", recording] == \
            [ast.unparse(decorator) for decorator in method.decorator_list]


def test_property_roles() -> None:
    """Getter, setter and deleter share a qualname; the role tells them apart."""
    source = '''
        class K:
            @property
            def v(self):
                return 1
            @v.setter
            def v(self, value):
                pass
            @v.deleter
            def v(self):
                pass
    '''
    def roles(record_inside: bool) -> list[str]:
        tree = rewrite.rewrite_module(textwrap.dedent(source), "golden.py", "golden", record_inside)[0]
        return [ast.unparse(node.decorator_list[-1]) for node in tree.body[-2].body]

    assert ["__cleanup_trace@__", "__cleanup_trace@__.setter", "__cleanup_trace@__.deleter"] == roles(False)
    assert ["__cleanup_trace@__.inline('golden:0')", "__cleanup_trace@__.inline('golden:1', 'setter')",
            "__cleanup_trace@__.inline('golden:2', 'deleter')"] == roles(True)


def test_skip_rules() -> None:
    """Nested functions, lambdas, overloads, context managers, implicit classmethods, register
    implementations and __hash__ are skipped."""
    source = '''
        import contextlib
        import functools
        from typing import overload

        def outer(x):
            def inner(y):
                return y
            return inner(lambda z: z)

        square = lambda x: x * x

        @contextlib.contextmanager
        def opened(path):
            yield path

        @overload
        def g(x: int) -> int: ...
        def g(x):
            return x

        @functools.singledispatch
        def show(x):
            return x

        @show.register
        def _(x: int):
            return x

        @show.register(list)
        def _show_list(x):
            return x

        class K:
            def __init_subclass__(cls, **kwargs):
                pass
            def __class_getitem__(cls, item):
                return cls
            def __hash__(self):
                return 1
            async def fetch(self):
                return 1
            class Inner:
                def deep(self):
                    return 2

        if True:
            def conditional():
                return 3

        def mapping_hash(schema):  # (cerberus': a hash, like __hash__'s, differs per process)
            return hash(frozenset(schema))

        def hashed_keys(items):
            return {hash(item): item for item in items}

        def described(state):  # (tenacity's RetryCallState.__repr__: an address in the text)
            return f"<State {id(state)}: {state!r}>"

        def seen_before(value, seen):  # tests of an address, or look-ups by one: the same each run
            return id(value) in seen or not id(value) or seen[id(value)]

        def in_hexadecimal(state):  # (replay makes such addresses alike)
            return f"<State at {hex(id(state))} or 0x{id(state):x}>"
    '''
    assert ["outer", "g", "show", "K.fetch", "K.Inner.deep", "conditional", "hashed_keys",
            "seen_before", "in_hexadecimal"] == instrumented(source)


def test_opt_out_marker() -> None:
    """A module carrying the marker comment is returned unchanged."""
    source = "# cleanup_trace: skip-file\ndef f():\n    return 1\n"
    assert [] == instrumented(source)
    assert "def f():\n    return 1" == rewritten(source)


def test_locations_are_unchanged() -> None:
    """co_firstlineno and traceback line numbers equal those of the plain compile."""
    source = textwrap.dedent('''\
        """Doc."""


        @staticmethod
        def decorated():
            return 1


        def fails(x):

            raise ValueError(x)
    ''').replace("@staticmethod\n", "")

    def load(code: types.CodeType) -> dict:
        namespace: dict = {"__name__": "golden_locations"}
        sys.modules["golden_locations"] = types.ModuleType("golden_locations")
        try:
            exec(code, namespace)
        finally:
            del sys.modules["golden_locations"]
        return namespace

    plain = load(compile(source, "golden.py", "exec"))
    rewritten_ = load(rewrite.compile_instrumented(source, "golden.py", "golden_locations"))
    for name in ("decorated", "fails"):
        assert plain[name].__code__.co_firstlineno == rewritten_[name].__code__.co_firstlineno

    def failing_line(namespace: dict) -> list:
        with pytest.raises(ValueError) as info:
            namespace["fails"](1)
        return [(frame.name, frame.lineno) for frame in traceback.extract_tb(info.value.__traceback__)
                if frame.filename == "golden.py"]

    assert [("fails", 10)] == failing_line(plain)
    assert failing_line(plain) == failing_line(rewritten_)


def test_decorated_first_line_is_the_first_decorator() -> None:
    """With decorators, co_firstlineno is the first decorator's line, with or without the tool."""
    source = "import functools\n\n@functools.lru_cache\n@functools.wraps(len)\ndef f():\n    return 1\n"
    plain = compile(source, "golden.py", "exec")
    code = rewrite.compile_instrumented(source, "golden.py", "golden")
    first = [const.co_firstlineno for const in plain.co_consts if isinstance(const, types.CodeType)]
    assert [3] == first
    assert first == [const.co_firstlineno for const in code.co_consts if isinstance(const, types.CodeType)]


def test_syntax_error_propagates_from_the_parser() -> None:
    """The transformer does not swallow a user's SyntaxError."""
    with pytest.raises(SyntaxError):
        rewrite.rewrite_module("def f(:\n", "golden.py", "golden")
