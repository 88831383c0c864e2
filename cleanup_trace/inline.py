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
        if @call:
            @call = <ENTER_HOOK>(@call, (a, b), rest, {'c': c}, options)
        try:
            ...the body, each ``return f(x)`` as
            @value = f(x)
            return <RETURN_HOOK>(@call, @value) if @call else @value
            return <RETURN_HOOK>(@call, None) if @call else None  (added, unless the
                                                   body ends with a return or raise)
        finally:
            if @call:
                <LEAVE_HOOK>(@call)

The hooks are builtins the runtime adds (the module's namespace stays the user's); the
two locals' names hold "@", which no source can write (pytest's assertion rewriting names
its locals so). OPEN_HOOK is ``dict.get`` of the open gates: a function whose recording is
over has that call taken out of its code (``bodies.without_gate_call``): a few tests of
a local per call remain. The added statements sit on the ``def`` line, which runs at
import anyway: no line number of the body moves.

A call that reached no RETURN_HOOK raised: LEAVE_HOOK, in the ``finally``, takes the
exception on its way out (``sys.exc_info()``, which a ``finally`` run by an exception
sees on every Python from 3.9 to 3.13). Only where something of the function's own can
still raise after a ``return`` ran, a ``finally`` or a ``with`` block (whose exit runs
after it), does the body get a handler as well, whose RAISE_HOOK notes the exception
leaving it (the last return or exception seen wins, as it does for the caller)::

        except BaseException:
            if @call:
                <RAISE_HOOK>(@call)
            raise

An ``except`` clause is 13 nodes of a rewritten function's 74 (python-stdnum), read by
``compile`` at every import; most functions have neither ``finally`` nor ``with``.

``@call`` holds ``None``, a function (the open gate) or a list of four: it is tested for
truth, one node where ``is not None`` takes four. Every added node is read again by
``compile`` at each import: they made up more than half of a rewritten module's tree.
"""
from __future__ import annotations

import ast
import re
from typing import Optional

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


# What a function's lines must show for its body to be walked by :func:`refusal`.
HINT_WORDS = ("yield", "locals", "vars", "dir")
# (a text holding none of them is not scanned; the word boundary before each match is
# tested by the caller: a leading ``\b`` would make ``re`` try the pattern at every character)
HINT = re.compile(rf"(?:{'|'.join(HINT_WORDS)})\b")


def refusal(node: ast.AST, in_class: bool, hinted: bool = True) -> Optional[str]:
    """Why ``node`` records through a wrapper instead of inline (``None``: inline).
    ``hinted``: its lines show one of the words of ``HINT`` (else its body is not walked:
    most functions show none)."""
    if not isinstance(node, ast.FunctionDef):
        return "a coroutine function"
    if in_class and any(argument.arg.startswith("__") and not argument.arg.endswith("__")
                        for argument in node.args.kwonlyargs):
        return "a keyword-only parameter whose name its class mangles"
    if not hinted:
        return None
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


# One context object for all names (as the parser itself shares them): made once, not per name.
_LOAD, _STORE = ast.Load(), ast.Store()


def location_of(node: ast.AST) -> dict:
    """``node``'s location, as keywords for a node made to stand where it stands."""
    return {"lineno": node.lineno, "col_offset": node.col_offset,  # type: ignore[attr-defined]
            "end_lineno": node.end_lineno, "end_col_offset": node.end_col_offset}  # type: ignore[attr-defined]


class _Nodes:
    """Makes the added nodes, each located where it is made (``at``: the ``def`` line, or
    the ``return`` it replaces): no walk of the tree to fill locations in afterwards."""

    def __init__(self, at: ast.AST) -> None:
        self.at = {"lineno": at.lineno, "col_offset": at.col_offset,  # type: ignore[attr-defined]
                   "end_lineno": at.lineno, "end_col_offset": at.col_offset}  # type: ignore[attr-defined]
        # One node per name read and per ``None``, wherever it is used: ``compile`` reads a
        # node as often as the tree holds it, and nothing changes these after they are
        # made (a function's ``@call`` is read eight times; a fifth fewer nodes added).
        self._shared: dict = {}

    def make(self, node_type: type, /, **fields: object) -> ast.AST:
        """A ``node_type`` node here with ``fields`` (all of them, optional ones too), put in its
        ``__dict__`` as the constructor would: the constructor's checks of its keywords
        took twice as long, and a rewrite makes tens of thousands of nodes (python-stdnum:
        92,000 added to its 338 modules)."""
        node = node_type.__new__(node_type)  # type: ignore[call-overload]
        node.__dict__.update(self.at, **fields)
        return node

    def name(self, identifier: str, store: bool = False) -> ast.Name:
        if store:
            return self.make(ast.Name, id=identifier, ctx=_STORE)
        found = self._shared.get(identifier)
        if found is None:
            found = self._shared[identifier] = self.make(ast.Name, id=identifier, ctx=_LOAD)
        return found

    def constant(self, value: object) -> ast.Constant:
        if value is not None:
            return self.make(ast.Constant, value=value, kind=None)
        found = self._shared.get(None)
        if found is None:
            found = self._shared[None] = self.make(ast.Constant, value=None, kind=None)
        return found

    def hook(self, name: str, *arguments: ast.expr) -> ast.Call:
        return self.make(ast.Call, func=self.name(name), args=list(arguments), keywords=[])

    def when_recording(self, *statements: ast.stmt) -> ast.If:
        return self.make(ast.If, test=self.name(CALL_LOCAL), body=list(statements), orelse=[])

    def told(self, hook: str) -> ast.If:
        """``if @call: HOOK(@call)``"""
        return self.when_recording(self.make(ast.Expr, value=self.hook(hook, self.name(CALL_LOCAL))))

    def returning(self, value: ast.expr) -> ast.Return:
        """``return RETURN_HOOK(@call, value) if @call else value``: ``value`` is a name
        or a constant, whose second evaluation reads the same thing (the same node, read
        twice: see ``_shared``)."""
        chosen = self.make(ast.IfExp, test=self.name(CALL_LOCAL),
                           body=self.hook(RETURN_HOOK, self.name(CALL_LOCAL), value), orelse=value)
        return self.make(ast.Return, value=chosen)

    def parameters(self, arguments: ast.arguments) -> list:
        """ENTER_HOOK's arguments after the gate: positional values, ``*args`` (or ``()``),
        keyword-only values by name (or ``None``), ``**kwargs`` (or ``None``)."""
        positional = self.make(ast.Tuple, ctx=_LOAD,
                               elts=[self.name(argument.arg) for argument in arguments.posonlyargs + arguments.args])
        rest: ast.expr = self.name(arguments.vararg.arg) if arguments.vararg else \
            self.make(ast.Tuple, elts=[], ctx=_LOAD)
        keywords: ast.expr = self.make(ast.Dict, keys=[self.constant(argument.arg) for argument in arguments.kwonlyargs],
                                       values=[self.name(argument.arg) for argument in arguments.kwonlyargs]) \
            if arguments.kwonlyargs else self.constant(None)
        options: ast.expr = self.name(arguments.kwarg.arg) if arguments.kwarg else self.constant(None)
        return [positional, rest, keywords, options]


_STATEMENT_LISTS = ("body", "orelse", "finalbody")
# Statements whose code runs after a ``return`` inside them (a context manager's exit;
# ``try`` only with a ``finally``): it may raise, or return, instead.
_RUN_AFTER_RETURN = (ast.With, ast.AsyncWith)


def _route_returns(statements: list, after_return: list) -> list:
    """``statements`` with every ``return`` of the function's own scope going through
    RETURN_HOOK; a value that is neither a name nor a constant is computed first into
    VALUE_LOCAL (once: its code is not copied). Statements only are visited (a ``return``
    is one), never the expressions that make up most of a body; a nested function or
    class is left alone: its returns are its own. The statements whose code can run after
    a ``return`` (``finally``, ``with``) are added to ``after_return``."""
    routed: list = []
    for statement in statements:
        if type(statement) is ast.Return:
            routed.extend(_returned(statement))
            continue
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if isinstance(statement, _RUN_AFTER_RETURN) or getattr(statement, "finalbody", None):
                after_return.append(statement)
            for field in _STATEMENT_LISTS:
                inner = getattr(statement, field, None)
                if inner:
                    setattr(statement, field, _route_returns(inner, after_return))
            for part in getattr(statement, "handlers", None) or getattr(statement, "cases", None) or ():
                part.body = _route_returns(part.body, after_return)
        routed.append(statement)
    return routed


def _returned(node: ast.Return) -> list:
    nodes = _Nodes(node)
    value = node.value if node.value is not None else nodes.constant(None)
    if isinstance(value, (ast.Name, ast.Constant)):
        return [nodes.returning(value)]
    computed = nodes.make(ast.Assign, targets=[nodes.name(VALUE_LOCAL, store=True)], value=value, type_comment=None)
    return [computed, nodes.returning(nodes.name(VALUE_LOCAL))]


def record_inside(node: ast.FunctionDef, key: str) -> None:
    """Rewrite ``node``'s body in place to record its calls (see the module's doc)."""
    position = 1 if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) \
        and isinstance(node.body[0].value.value, str) else 0
    # (On the ``def`` line: it runs at import anyway, no line of the body moves.)
    nodes = _Nodes(node)
    after_return: list = []
    body = _route_returns(node.body[position:], after_return) or [nodes.make(ast.Pass)]
    if not isinstance(body[-1], (ast.Return, ast.Raise)):
        body.append(nodes.returning(nodes.constant(None)))  # falling off the end returns None
    opened = nodes.make(ast.Assign, targets=[nodes.name(CALL_LOCAL, store=True)],
                        value=nodes.hook(OPEN_HOOK, nodes.constant(key)), type_comment=None)
    entered = nodes.when_recording(nodes.make(
        ast.Assign, targets=[nodes.name(CALL_LOCAL, store=True)], type_comment=None,
        value=nodes.hook(ENTER_HOOK, nodes.name(CALL_LOCAL), *nodes.parameters(node.args))))
    handlers = [nodes.make(ast.ExceptHandler, type=nodes.name("BaseException"), name=None,
                           body=[nodes.told(RAISE_HOOK), nodes.make(ast.Raise, exc=None, cause=None)])] \
        if after_return else []
    guarded = nodes.make(ast.Try, body=body, handlers=handlers, orelse=[], finalbody=[nodes.told(LEAVE_HOOK)])
    node.body[position:] = [opened, entered, guarded]
