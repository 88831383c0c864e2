"""Recording inside a plain function's own body: the AST half (pure, no runtime import).

A wrapper around a function is another object with a frame of its own: ``type(f)`` is
not ``function`` any more (tabulate's and typeguard's tests check it), a frame is added
under every recorded call (markdown's nesting test counts them under
``sys.setrecursionlimit(120)``), ``f.__code__`` is not the code of the frames it runs.
So a plain function (neither a generator nor a coroutine: their laziness is what the
wrapper keeps) records from inside its body instead, and stays the user's object::

    def f(a, b=1, *rest, c, **options):
        '''docstring'''
        @call = <OPEN_HOOK>('module:3')       # None unless this function records now
        if @call is not None:
            @call = <ENTER_HOOK>(@call, (a, b), rest, {'c': c}, options)
        try:
            ...the body, each ``return f(x)`` as
            @value = f(x)
            return @value if @call is None else <RETURN_HOOK>(@call, @value)
            return None if @call is None else <RETURN_HOOK>(@call, None)  (added)
        except BaseException:
            if @call is not None:
                <RAISE_HOOK>(@call)
            raise
        finally:
            if @call is not None:
                <LEAVE_HOOK>(@call)

The hooks are builtins the runtime adds (the module's namespace stays the user's); the
two locals' names hold "@", which no source can write (pytest's assertion rewriting names
its locals so). OPEN_HOOK is ``dict.get`` of the open gates: a function whose recording is
over costs one builtin call and two tests per call. The last return or exception seen
wins: a ``finally`` of the function's own that returns, raises or ``continue``s overrides
what came before, as it does for the caller. The added statements sit on the ``def``
line, which runs at import anyway: no line number of the body moves.
"""
from __future__ import annotations

import ast
import copy
from typing import Optional, Union

OPEN_HOOK = "__cleanup_trace@open__"
ENTER_HOOK = "__cleanup_trace@enter__"
RETURN_HOOK = "__cleanup_trace@return__"
RAISE_HOOK = "__cleanup_trace@raise__"
LEAVE_HOOK = "__cleanup_trace@leave__"
CALL_LOCAL = "@cleanup_trace_call"
VALUE_LOCAL = "@cleanup_trace_value"  # a returned value, computed before the test
HOOK_NAMES = (OPEN_HOOK, ENTER_HOOK, RETURN_HOOK, RAISE_HOOK, LEAVE_HOOK)

# Calls that read a function's local namespace whole (without arguments): they would
# list the tool's local too.
_NAMESPACE_READERS = frozenset({"locals", "vars", "dir"})
# Scopes of their own: a ``return`` or ``yield`` there is not the function's.
_OWN_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def refusal(node: ast.AST, in_class: bool) -> Optional[str]:
    """Why ``node`` records through a wrapper instead of inline (``None``: inline)."""
    if not isinstance(node, ast.FunctionDef):
        return "a coroutine function"
    if in_class and any(argument.arg.startswith("__") and not argument.arg.endswith("__")
                        for argument in node.args.kwonlyargs):
        return "a keyword-only parameter whose name its class mangles"
    pending: list = list(node.body)
    while pending:
        inner = pending.pop()
        if isinstance(inner, (ast.Yield, ast.YieldFrom)):
            return "a generator function"
        if type(inner) is ast.Call and type(inner.func) is ast.Name and inner.func.id in _NAMESPACE_READERS \
                and not inner.args and not inner.keywords:
            return "reads its local namespace whole"
        if isinstance(inner, _OWN_SCOPES):
            # (their decorators and defaults are evaluated in this scope)
            pending.extend(getattr(inner, "decorator_list", ()))
            arguments = getattr(inner, "args", None)
            if isinstance(arguments, ast.arguments):
                pending.extend(arguments.defaults)
                pending.extend(default for default in arguments.kw_defaults if default is not None)
            continue
        pending.extend(ast.iter_child_nodes(inner))
    return None


def _name(identifier: str, store: bool = False) -> ast.Name:
    return ast.Name(id=identifier, ctx=ast.Store() if store else ast.Load())


def _call_local_is(operator: ast.cmpop) -> ast.Compare:
    return ast.Compare(left=_name(CALL_LOCAL), ops=[operator], comparators=[ast.Constant(None)])


def _hook(name: str, *arguments: ast.expr) -> ast.Call:
    return ast.Call(func=_name(name), args=list(arguments), keywords=[])


def _returning(value: ast.expr) -> ast.expr:
    """``value if @call is None else RETURN_HOOK(@call, value)``: ``value`` is a name or a
    constant, whose second evaluation reads the same thing."""
    return ast.IfExp(test=_call_local_is(ast.Is()), body=value,
                     orelse=_hook(RETURN_HOOK, _name(CALL_LOCAL), copy.copy(value)))


class _Returns(ast.NodeTransformer):
    """Every ``return`` of the function's own scope goes through RETURN_HOOK; a value that
    is neither a name nor a constant is computed first into VALUE_LOCAL (once: its code
    is not copied)."""

    def visit_Return(self, node: ast.Return) -> Union[ast.Return, list]:
        value = node.value if node.value is not None else ast.Constant(None)
        computed: list = []
        if not isinstance(value, (ast.Name, ast.Constant)):
            computed = [ast.copy_location(ast.Assign(targets=[_name(VALUE_LOCAL, store=True)], value=value), node)]
            value = _name(VALUE_LOCAL)
        replacement = ast.copy_location(ast.Return(value=_returning(value)), node)
        return [ast.fix_missing_locations(statement) for statement in (*computed, replacement)]

    def _own_scope(self, node: ast.AST) -> ast.AST:
        return node  # a nested function, lambda or class: its returns are its own

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = _own_scope


def _parameters(arguments: ast.arguments) -> list[ast.expr]:
    """ENTER_HOOK's arguments after the gate: positional values, ``*args`` (or ``()``),
    keyword-only values by name (or ``None``), ``**kwargs`` (or ``None``)."""
    positional = ast.Tuple(elts=[_name(argument.arg) for argument in arguments.posonlyargs + arguments.args],
                           ctx=ast.Load())
    rest: ast.expr = _name(arguments.vararg.arg) if arguments.vararg else ast.Tuple(elts=[], ctx=ast.Load())
    keywords: ast.expr = ast.Dict(keys=[ast.Constant(argument.arg) for argument in arguments.kwonlyargs],
                                  values=[_name(argument.arg) for argument in arguments.kwonlyargs]) \
        if arguments.kwonlyargs else ast.Constant(None)
    options: ast.expr = _name(arguments.kwarg.arg) if arguments.kwarg else ast.Constant(None)
    return [positional, rest, keywords, options]


def _as_list(visited: Union[ast.AST, list]) -> list:
    return visited if isinstance(visited, list) else [visited]


def record_inside(node: ast.FunctionDef, key: str) -> None:
    """Rewrite ``node``'s body in place to record its calls (see the module's doc)."""
    position = 1 if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) \
        and isinstance(node.body[0].value.value, str) else 0
    returns = _Returns()
    body = [replaced for statement in node.body[position:] for replaced in _as_list(returns.visit(statement))] \
        or [ast.Pass()]
    final_return = ast.Return(value=_returning(ast.Constant(None)))  # falling off the end returns None
    opened = ast.Assign(targets=[_name(CALL_LOCAL, store=True)], value=_hook(OPEN_HOOK, ast.Constant(key)))
    entered = ast.If(test=_call_local_is(ast.IsNot()), orelse=[], body=[
        ast.Assign(targets=[_name(CALL_LOCAL, store=True)],
                   value=_hook(ENTER_HOOK, _name(CALL_LOCAL), *_parameters(node.args)))])
    handled = ast.ExceptHandler(type=_name("BaseException"), name=None, body=[
        ast.If(test=_call_local_is(ast.IsNot()), body=[ast.Expr(value=_hook(RAISE_HOOK, _name(CALL_LOCAL)))],
               orelse=[]),
        ast.Raise(exc=None, cause=None)])
    left = ast.If(test=_call_local_is(ast.IsNot()), body=[ast.Expr(value=_hook(LEAVE_HOOK, _name(CALL_LOCAL)))],
                  orelse=[])
    guarded = ast.Try(body=body + [final_return], handlers=[handled], orelse=[], finalbody=[left])
    added = [opened, entered, guarded]
    for statement in (*added, final_return, handled):
        # On the ``def`` line: it runs at import anyway, no line of the body moves.
        statement.lineno = statement.end_lineno = node.lineno
        statement.col_offset = statement.end_col_offset = node.col_offset
    for statement in added:
        ast.fix_missing_locations(statement)
    node.body[position:] = added
