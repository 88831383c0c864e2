"""The AST transformer: add one recording decorator, innermost, to every function.

Pure: ``rewrite_module(source, filename, module_name) -> ast.Module``, testable on
source strings without importing anything. Decisions made here cost nothing at run time:

* two statements go after the docstring and ``from __future__`` imports: they bind the
  module's decorator (:func:`cleanup_trace.runtime.module_instrumenter`) to a name
  containing ``@`` that user code can never write (pytest binds ``@py_builtins``); a
  ``del`` at the end of the module removes it, so the module's namespace is the user's;
* the decorator is appended *last* to ``decorator_list``, so it is applied first and
  records the function's own inputs and outputs, whatever outer decorators do;
* ``__hash__`` methods (their values differ from one process to the next),
* functions that look at their caller's frame (``sys._getframe``, ``inspect.stack``...),
  functions nested in functions, lambdas, ``@overload`` stubs,
  ``__init_subclass__``/``__class_getitem__`` (implicit classmethods) and
  ``singledispatch``/``singledispatchmethod`` ``register`` implementations are skipped;
* a module containing the opt-out marker comment is left alone;
* property setters and deleters carry a role, since they share the getter's qualname.
"""
from __future__ import annotations

import ast
from typing import Union

TRANSFORM_VERSION = 3
# Private-looking (a leading underscore, a dunder) so that code listing a module's public
# names skips it, and containing "@" so that no user name can clash. Deleted again at the
# end of the module body: only the module's own ``def`` statements need it.
HELPER_NAME = "__cleanup_trace@__"
RUNTIME_MODULE = "cleanup_trace.runtime"
OPT_OUT_MARKER = "# cleanup_trace: skip-file"

_IMPLICIT_CLASSMETHODS = frozenset({"__init_subclass__", "__class_getitem__"})
# Calls that look at the caller's frame: a wrapper adds a frame, so such a function
# would see the tool instead of its caller (``sys._getframe(1).f_globals['__name__']``).
_FRAME_INSPECTORS = frozenset({"_getframe", "currentframe", "stack", "extract_stack", "getouterframes",
                               "_getframemodulename"})
_ROLES = {"setter": "setter", "deleter": "deleter"}

FunctionNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]


def _decorator_name(node: ast.expr) -> str:
    """Dotted name of a decorator expression (``a.b`` for ``@a.b`` and ``@a.b(...)``)."""
    if isinstance(node, ast.Call):
        node = node.func
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def skip_reason(node: FunctionNode, may_inspect_frames: bool = True) -> str | None:
    """Why a function is not instrumented, or ``None`` when it is.

    ``may_inspect_frames=False`` (the module's text names no frame-inspecting call) skips
    the walk of the function's body: most modules pay nothing for that rule.
    """
    if node.name in _IMPLICIT_CLASSMETHODS:
        return "implicit classmethod"
    if node.name == "__hash__":
        # Hash values are per process (str hashing is randomised, object hashes come
        # from id()): a recorded one would not replay.
        return "hash values differ between processes"
    if may_inspect_frames and _inspects_frames(node):
        return "looks at its caller's frame"
    for decorator in node.decorator_list:
        name = _decorator_name(decorator)
        last = name.rpartition(".")[2]
        if last == "overload":
            return "typing.overload stub"
        if last == "register" and isinstance(decorator, (ast.Attribute, ast.Call)):
            # ``@fun.register`` / ``@fun.register(int)``: the implementation is reached
            # only through the dispatch registry, never by its qualified name.
            return "singledispatch implementation"
    return None


def _inspects_frames(node: FunctionNode) -> bool:
    for inner in ast.walk(node):
        if isinstance(inner, ast.Call):
            function = inner.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if name in _FRAME_INSPECTORS:
                return True
    return False


def _role(node: FunctionNode) -> str:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Attribute) and decorator.attr in _ROLES:
            return _ROLES[decorator.attr]
    return ""


class _Instrumenter(ast.NodeTransformer):
    def __init__(self, may_inspect_frames: bool = True) -> None:
        self.may_inspect_frames = may_inspect_frames
        self.instrumented: list[str] = []
        self.skipped: list[tuple[str, str]] = []
        self._scope: list[str] = []

    def _decorator(self, node: FunctionNode) -> ast.expr:
        # ``@<instrumenter>``, or ``@<instrumenter>.setter``/``.deleter`` for property roles.
        decorator: ast.expr = ast.Name(id=HELPER_NAME, ctx=ast.Load())
        role = _role(node)
        if role:
            decorator = ast.Attribute(value=decorator, attr=role, ctx=ast.Load())
        # Locations of the original ``def`` keep tracebacks and co_firstlineno unchanged.
        target = node.decorator_list[-1] if node.decorator_list else node
        return ast.fix_missing_locations(ast.copy_location(decorator, target))

    def _visit_function(self, node: FunctionNode) -> FunctionNode:
        qualname = ".".join(self._scope + [node.name])
        reason = skip_reason(node, self.may_inspect_frames)
        if reason:
            self.skipped.append((qualname, reason))
        else:
            node.decorator_list.append(self._decorator(node))
            self.instrumented.append(qualname)
        # Nested functions are not importable, so not replayable: not descended into.
        return node

    visit_FunctionDef = _visit_function  # type: ignore[assignment]
    visit_AsyncFunctionDef = _visit_function  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        self._scope.append(node.name)
        try:
            self.generic_visit(node)
        finally:
            self._scope.pop()
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.Lambda:
        return node


def _insert_position(body: list[ast.stmt]) -> int:
    position = 0
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        position = 1
    while position < len(body):
        statement = body[position]
        if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
            position += 1
        else:
            break
    return position


def rewrite_module(source: str | bytes, filename: str, module_name: str) -> tuple[ast.Module, list[str]]:
    """Parse ``source`` and instrument it; return the tree and the instrumented qualnames.

    A module carrying ``OPT_OUT_MARKER`` is returned parsed but unchanged.
    """
    tree = ast.parse(source, filename=filename)
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    if OPT_OUT_MARKER in text:
        return tree, []
    instrumenter = _Instrumenter(may_inspect_frames=any(name in text for name in _FRAME_INSPECTORS))
    instrumenter.visit(tree)
    if not instrumenter.instrumented:
        return tree, []
    position = _insert_position(tree.body)
    anchor = tree.body[position] if position < len(tree.body) else tree.body[-1]
    # import cleanup_trace.runtime as <HELPER_NAME>
    # <HELPER_NAME> = <HELPER_NAME>.module_instrumenter(<module name>)
    helper_import = ast.Import(names=[ast.alias(name=RUNTIME_MODULE, asname=HELPER_NAME)])
    bind = ast.Assign(
        targets=[ast.Name(id=HELPER_NAME, ctx=ast.Store())],
        value=ast.Call(func=ast.Attribute(value=ast.Name(id=HELPER_NAME, ctx=ast.Load()),
                                          attr="module_instrumenter", ctx=ast.Load()),
                       args=[ast.Constant(module_name)], keywords=[]))
    for statement in (helper_import, bind):
        ast.copy_location(statement, anchor)
        ast.fix_missing_locations(statement)
    tree.body[position:position] = [helper_import, bind]
    forget = ast.Delete(targets=[ast.Name(id=HELPER_NAME, ctx=ast.Del())])
    ast.copy_location(forget, tree.body[-1])
    ast.fix_missing_locations(forget)
    tree.body.append(forget)
    return tree, instrumenter.instrumented


def compile_instrumented(source: str | bytes, filename: str, module_name: str):
    """Source to code object with instrumentation (raises on any transform failure)."""
    tree, _ = rewrite_module(source, filename, module_name)
    return compile(tree, filename, "exec", dont_inherit=True)
