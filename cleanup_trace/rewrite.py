"""The AST transformer: add one recording decorator, innermost, to every function.

Pure: ``rewrite_module(source, filename, module_name) -> ast.Module``, testable on
source strings without importing anything. Decisions made here cost nothing at run time:

* two statements go after the docstring and ``from __future__`` imports: they bind the
  module's decorator (:func:`cleanup_trace.runtime.module_instrumenter`) to a name
  containing ``@`` that user code can never write (pytest binds ``@py_builtins``); a
  call at the end of the module (``finished()``) removes it, so the module's namespace is
  the user's, and notes the globals as the module defined them (a call made while a test
  has patched one of them is not recorded); the names the module's own functions rebind
  (``global x``) are passed along, as their changes are the module's own doing;
* the decorator is appended *last* to ``decorator_list``, so it is applied first and
  records the function's own inputs and outputs, whatever outer decorators do; for a
  plain function it is ``<helper>.inline(key)``, which registers the function, whose body
  is rewritten to record inside (:mod:`cleanup_trace.inline`: the function stays the
  user's object); generators and coroutines get the wrapping decorator;
* ``__hash__`` methods (their values differ from one process to the next),
* functions that look at their caller's frame (``sys._getframe``, ``inspect.stack``...),
  functions nested in functions, lambdas, ``@overload`` stubs, ``@contextmanager`` generators,
  ``__init_subclass__``/``__class_getitem__`` (implicit classmethods) and
  ``singledispatch``/``singledispatchmethod`` ``register`` implementations are skipped;
* a module containing the opt-out marker comment is left alone;
* property setters and deleters carry a role, since they share the getter's qualname;
* calls that read the clock or an entropy source (``datetime.now()``, ``time.time()``,
  ``uuid4()``...) in an instrumented function's body go through ``CLOCK_HOOK`` first: the
  recorded calls running when one happens are not kept (replay runs at another moment);
  so do reads of the exception being handled (``sys.exc_info()``) outside the function's
  own ``except`` blocks: the recorded calls that started inside a caller's handler
  are not kept (replay has no exception being handled);
* a function calling ``next()`` on a counter the module or one of its classes keeps
  (``_ids = itertools.count()``) calls ``CLOCK_HOOK`` first thing, at every call: what
  it returns depends on the calls before it (the number drawn, or a memo of earlier
  numbers: pyparsing's ``_make_bookmark``), replay starts the counter afresh; so does
  a function reading a module's ``threading.local()`` (the runtime looks at what it
  holds in the thread at that moment) or setting its attributes;
* reads of the traceback of an exception the function did not catch itself
  (``error.__traceback__``, ``traceback.format_exception(error)``) go through
  ``CLOCK_HOOK``: a stored exception keeps none.
"""
from __future__ import annotations

import ast
import bisect
import contextlib
import functools
import gc
import re
from typing import Iterator, NamedTuple, Optional, Union

from cleanup_trace import inline

TRANSFORM_VERSION = 24
# Private-looking (a leading underscore, a dunder) so that code listing a module's public
# names skips it, and containing "@" so that no user name can clash. Deleted again at the
# end of the module body: only the module's own ``def`` statements need it.
HELPER_NAME = "__cleanup_trace@__"
# Called where a function reads the clock: a builtin the runtime adds (no user name can
# clash, and the module's namespace stays the user's), see runtime.clock_read.
CLOCK_HOOK = "__cleanup_trace@clock__"
RUNTIME_MODULE = "cleanup_trace.runtime"
OPT_OUT_MARKER = "# cleanup_trace: skip-file"

_IMPLICIT_CLASSMETHODS = frozenset({"__init_subclass__", "__class_getitem__"})
_CONTEXT_MANAGER_DECORATORS = frozenset({"contextmanager", "asynccontextmanager"})
# Decorators that compile the function anew from its source, on a class or a ``def``
# (typeguard's ``@typechecked`` adds its type checks so): they refuse a function that
# carries a ``__wrapped__``, as the recording wrapper does, and leave it without what they
# add (inflect's suite expects ``TypeCheckError``). Such functions are not instrumented.
RECOMPILING_DECORATORS = frozenset({"typechecked"})
# Calls that look at the caller's frame: a wrapper adds a frame, so such a function
# would see the tool instead of its caller (``sys._getframe(1).f_globals['__name__']``).
# Names no other API uses are matched whatever they are called on; the common ones
# (``stack``) only as what the module imported (``np.stack``, ``self.stack`` are not).
_FRAME_INSPECTOR_NAMES = frozenset({"_getframe", "currentframe", "extract_stack", "getouterframes",
                                    "_getframemodulename"})
_FRAME_INSPECTOR_CALLS = frozenset({"inspect.stack", "traceback.format_stack", "traceback.print_stack",
                                    "traceback.walk_stack"})

# Calls whose result depends on the moment or on entropy. The global ``random`` generator
# is not here: its state is stored with each case and restored at replay.
CLOCK_ATTRIBUTES = frozenset({"now", "utcnow", "today"})  # whatever the receiver
VOLATILE_CALLS = frozenset({
    "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
    "time.perf_counter_ns", "time.process_time", "time.process_time_ns", "time.thread_time",
    "time.thread_time_ns", "uuid.uuid1", "uuid.uuid4", "os.urandom", "os.getrandom",
    "random.SystemRandom", "email.utils.make_msgid",
})
# The current directory: where the run was, not where replay runs (python-dotenv's
# ``enumerate_env`` returns ``os.path.join(os.getcwd(), ".env")``).
CURRENT_DIRECTORY_CALLS = frozenset({"os.getcwd", "os.getcwdb", "pathlib.Path.cwd"})
# Calls that read the current directory when the path they are given is relative
# (w3lib's ``path_to_file_uri("test.txt")``): the path goes through ``CLOCK_HOOK``,
# which tells the recorded calls running only when it is relative.
RELATIVE_PATH = "a relative path given to "
RELATIVE_PATH_CALLS = frozenset({"os.path.abspath", "os.path.realpath"})
# ... and the methods of a path object doing so (``Path("x").resolve()``): the object
# goes through the hook (anything else with such a method is let through there).
RELATIVE_PATH_METHODS = frozenset({"resolve", "absolute"})
VOLATILE_CALLS = VOLATILE_CALLS | CURRENT_DIRECTORY_CALLS
# Also taken as a value, to be called later under another name (ecdsa's ``randrange``:
# ``if entropy is None: entropy = os.urandom``): the attribute read goes through the hook.
_VOLATILE_ATTRIBUTES = frozenset(name.rpartition(".")[2] for name in VOLATILE_CALLS)
_VOLATILE_MODULES = ("secrets.",)
# The methods a ``random.Random`` draws with. Called on an object (pyotp's
# ``random = SystemRandom()`` in a module of its own, ``random.choice(chars)``), the call
# goes through ``CLOCK_HOOK``, which tells the recorded calls running only when the
# object is a ``random.SystemRandom`` (entropy, no state to store). The random module's
# own functions draw from the global generator, whose state is stored: not hooked.
RANDOM_METHODS = frozenset({
    "random", "uniform", "randint", "randrange", "choice", "choices", "sample", "shuffle", "getrandbits",
    "randbytes", "triangular", "gauss", "normalvariate", "lognormvariate", "expovariate", "vonmisesvariate",
    "gammavariate", "betavariate", "paretovariate", "weibullvariate", "binomialvariate"})
SYSTEM_RANDOM_METHOD = "a method of a random.SystemRandom: "
# Calls that read the exception being handled. Outside an ``except`` block of the
# function's own that is its caller's exception, which replay does not have
# (jinja2's ``rewrite_traceback_stack()``): they go through ``CLOCK_HOOK`` as well.
HANDLED_EXCEPTION_CALLS = frozenset({"sys.exc_info", "sys.exception", "traceback.format_exc",
                                     "traceback.print_exc"})
# The traceback of an exception the function did not catch itself: a stored exception
# keeps none, so what the call makes of it (pyparsing's ``explain_exception`` lists the
# frames) differs at replay. Reads of ``__traceback__`` and these calls, outside the
# function's own ``except`` blocks, go through ``CLOCK_HOOK``.
TRACEBACK_ATTRIBUTE = "__traceback__"
# ``sys.stdin`` read in a function: what the call reads there is the run's standard input
# (a test's ``StringIO`` in its place), which replay does not have. Told to CLOCK_HOOK.
STDIN_READ = "sys.stdin"
TRACEBACK_CALLS = frozenset({"traceback.format_exception", "traceback.print_exception", "traceback.format_tb",
                             "traceback.extract_tb", "traceback.print_tb", "traceback.walk_tb",
                             "traceback.TracebackException", "traceback.TracebackException.from_exception",
                             "inspect.getinnerframes"})
_EXCEPTION_READING_CALLS = HANDLED_EXCEPTION_CALLS | TRACEBACK_CALLS
# A bare ``raise`` outside the function's own ``except`` blocks raises the exception its
# caller handles (``def reraise(): raise``): told at every call's start, when the call
# started inside a handler (replay has none: the raise would be a RuntimeError).
RERAISE = "a bare raise"
HANDLED_EXCEPTION_READS = HANDLED_EXCEPTION_CALLS | {RERAISE}
# (where the text shows one: ``raise`` ending its statement)
_BARE_RAISE = re.compile(r"raise[ \t]*(?:[\r\n;#]|\Z)")
# What a function drawing from a counter kept at module or class level tells
# ``CLOCK_HOOK`` when it starts, followed by the counter's name.
SHARED_COUNTER = "next() of the shared counter "
_COUNTER_FACTORIES = frozenset({"itertools.count"})
# What a function reading a module's ``threading.local()`` tells ``CLOCK_HOOK`` when it
# starts, followed by ``module:name``: the runtime looks at what the thread-local holds
# then (a locale activated, a context pushed by an earlier call: replay has none).
THREAD_LOCAL = "thread-local state "
# ... and one setting or deleting its attributes tells this: never recorded, nor what runs
# around it (replayed, it would change what the cases after it see).
THREAD_LOCAL_CHANGE = "changes thread-local state "
_THREAD_LOCAL_FACTORIES = frozenset({"threading.local", "_threading_local.local"})
# Read the clock only when called with at most this many positional arguments and
# without the named keyword (``time.strftime(fmt)`` does, ``time.strftime(fmt, t)`` not).
_CLOCK_BY_DEFAULT = {
    "time.localtime": (0, ""), "time.gmtime": (0, ""), "time.ctime": (0, ""), "time.asctime": (0, ""),
    "time.strftime": (1, ""), "email.utils.formatdate": (0, "timeval"),
    "gzip.compress": (2, "mtime"), "gzip.GzipFile": (4, "mtime"),
}
# Write a timestamp only when writing: (position, keyword) of their ``mode`` argument.
_CLOCK_WHEN_WRITING = {"gzip.GzipFile": (1, "mode")}

# What a function's text must show for its body to be walked at all: the call of one of
# these names (or of a name the module imported them as), or ``secrets.``. Most
# functions show none, and most of the transform's time would be those walks.
_HINT_NAMES = frozenset(
    {name.rpartition(".")[2] for name in
     _FRAME_INSPECTOR_CALLS | VOLATILE_CALLS | set(_CLOCK_BY_DEFAULT) | HANDLED_EXCEPTION_CALLS | TRACEBACK_CALLS}
    | _FRAME_INSPECTOR_NAMES | CLOCK_ATTRIBUTES | {"hash", "id"}
    | {name.rpartition(".")[2] for name in RELATIVE_PATH_CALLS} | RELATIVE_PATH_METHODS | RANDOM_METHODS)


_NEWLINE = re.compile("\r\n?|\n")  # what ast counts as a line end
_GLOBAL_STATEMENT = re.compile(r"global\s")
# Where code relies on an object's identity: ``x is T``, ``T is not x``, ``{T: 'T'}``
# (a dict keyed by it). A stored copy of such an object is another object. The name
# before ``is`` is read backwards from each ``is``: a pattern starting with that name
# would be tried at every word of the module (twice the time of the rest).
# The patterns of this module start with a literal wherever they can, and the word
# boundary before it is tested on each match (``_word_offsets``): ``re`` finds a literal
# start with a fast search, while a leading ``\b`` or lookbehind makes it try the pattern
# at every character (``\bglobal\s`` over python-stdnum's 338 modules: 25 ms, against
# 0.6 ms for ``global\s``).
# (the name after ``is`` in a lookahead: a match inside a word, as in ``this is T``,
# must not take the text of the next one)
_IDENTITY_IS = re.compile(r"is(?:(?=(?:\s+not)?\s+([^\W\d]\w*))|\b)")
_IDENTITY_KEY = re.compile(r"[{,]\s*([^\W\d]\w*)\s*:(?!=)")
# (matched at the start of the reversed text before ``is``: a search for a name and
# spaces at the end of that text tries it at each character)
_NAME_BEFORE_REVERSED = re.compile(r"\s+(\w*[^\W\d])")


def _after_word_boundary(text: str, offset: int) -> bool:
    """Whether ``offset`` starts a word: what a leading ``\b`` tests before a word character."""
    if not offset:
        return True
    before = text[offset - 1]
    return not (before.isalnum() or before == "_")  # (``\w`` of a str pattern)


def _word_offsets(pattern: "re.Pattern[str]", text: str) -> list[int]:
    """Where ``pattern`` (words, no leading ``\b``) matches at the start of a word."""
    return [match.start() for match in pattern.finditer(text) if _after_word_boundary(text, match.start())]


def _line_numbers(text: str, offsets: list[int]) -> list[int]:
    """The line of each (ascending) offset, as ast numbers lines."""
    if not offsets:
        return []
    if "\r" in text:  # a lone CR ends a line too
        newlines = [match.start() for match in _NEWLINE.finditer(text)]
        return [bisect.bisect_left(newlines, offset) + 1 for offset in offsets]
    lines, line, counted = [], 1, 0
    for offset in offsets:  # count only up to the hits: most of a big module is never scanned twice
        line += text.count("\n", counted, offset)
        counted = offset
        lines.append(line)
    return lines


def _statements(tree: ast.Module, lines: Optional[list[int]] = None) -> Iterator[ast.stmt]:
    """Every statement of ``tree`` in source order, wherever it sits (function and class
    bodies, branches, handlers, match cases), never the expressions that make up most of
    a tree. Given ``lines`` (sorted), only the top-level statements and those inside a
    statement whose lines hold one of them: most of a module's statements are in
    functions that import nothing (python-stdnum: half of them)."""
    pending: list = list(reversed(tree.body))
    while pending:
        node = pending.pop()
        yield node
        first = getattr(node, "lineno", None)
        if lines is not None and first is not None:  # (a match case has no location: looked into)
            at = bisect.bisect_left(lines, first)
            if at == len(lines) or lines[at] > (node.end_lineno or first):
                continue
        for field in ("cases", "handlers", "finalbody", "orelse", "body"):
            inner = getattr(node, field, None)
            if isinstance(inner, list):
                pending.extend(reversed(inner))


_IMPORT_WORD = re.compile(r"import\b")


def rebound_globals(tree: ast.Module, text: str) -> list[str]:
    """Names the module's functions declare ``global``: rebinding them is its own doing."""
    # (most modules: no walk at all; ``in`` first: the pattern tried at every character
    # of python-stdnum's 338 modules took 23 ms)
    if "global" not in text or not _word_offsets(_GLOBAL_STATEMENT, text):
        return []
    return sorted({name for node in _statements(tree) if isinstance(node, ast.Global) for name in node.names})


def identity_names(tree: ast.Module, text: str) -> list[str]:
    """Module-level names the module's code uses by identity (see ``_IDENTITY_IS``):
    the objects bound to them are stored by name while unchanged (``T = TType()``)."""
    found = {match.group(1) for match in _IDENTITY_KEY.finditer(text)}
    for match in _IDENTITY_IS.finditer(text):
        if not _after_word_boundary(text, match.start()):
            continue
        if match.group(1):
            found.add(match.group(1))
        before = _NAME_BEFORE_REVERSED.match(text[max(0, match.start() - 80):match.start()][::-1])
        if before:
            found.add(before.group(1)[::-1])
    if not found:
        return []
    bound = set()
    for node in tree.body:  # top-level statements only: what the module binds
        if isinstance(node, ast.Assign):
            bound.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            bound.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            bound.update(alias.asname or alias.name for alias in node.names)
    return sorted(found & bound)


class SharedState(NamedTuple):
    """Names the module binds to state that lives beyond any call."""

    counters: frozenset  # ``_ids = itertools.count()``, module or top-level class level
    thread_locals: frozenset  # ``_local = threading.local()``, module level


_NO_SHARED_STATE = SharedState(frozenset(), frozenset())


def shared_state(tree: ast.Module, text: str, imported: dict[str, str]) -> SharedState:
    """The counters a call of ``next()`` advances, and the thread-locals whose attributes
    earlier calls in the thread set (a locale, a context stack)."""
    if "count" not in text and "local" not in text:
        return _NO_SHARED_STATE
    counters, thread_locals = set(), set()
    for node in tree.body:
        for statement in node.body if isinstance(node, ast.ClassDef) else (node,):
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
                factory = _dotted_call(statement.value.func, imported)
                names = {target.id for target in statement.targets if isinstance(target, ast.Name)}
                if factory in _COUNTER_FACTORIES:
                    counters |= names
                elif factory in _THREAD_LOCAL_FACTORIES and statement is node:
                    thread_locals |= names
    return SharedState(frozenset(counters), frozenset(thread_locals)) if counters or thread_locals \
        else _NO_SHARED_STATE


def _counter_advanced(call: ast.Call, counters: frozenset[str]) -> str:
    """The counter's name for ``next(_ids)``, ``next(self._ids)``, ``next(Model._ids)``."""
    if not counters or not isinstance(call.func, ast.Name) or call.func.id != "next" or not call.args:
        return ""
    target = call.args[0]
    name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
    return name if name in counters else ""


def _hint_offsets(text: str, imported: dict[str, str], shared: SharedState = _NO_SHARED_STATE) -> list[int]:
    """Where ``text`` shows a hint (``_HINT_NAMES``), ascending; the walks find what it is."""
    aliases = frozenset(alias for alias, target in imported.items()
                        if target.rpartition(".")[2] in _HINT_NAMES or target.startswith(_VOLATILE_MODULES))
    modules = frozenset(alias for alias, target in imported.items() if f"{target}." in _VOLATILE_MODULES)
    calls_reversed, words, word_pattern, attributes = _hint_patterns(
        aliases, modules, bool(shared.counters), shared.thread_locals)
    # A call: ``name(`` read backwards from each ``(`` of the reversed text, which starts
    # the pattern with a literal (see ``_IDENTITY_IS``): all the hints of python-stdnum's
    # modules in 12 ms, where one pattern of every hint, tried at each letter, took 57 ms.
    end = len(text)
    offsets = [end - match.end() for match in calls_reversed.finditer(text[::-1])]
    offsets += [match.start() for match in attributes.finditer(text)]
    if any(word in text for word in words):  # (most modules show none of them)
        offsets += _word_offsets(word_pattern, text)
    offsets += _word_offsets(_BARE_RAISE, text)
    return sorted(offsets)


@functools.lru_cache(maxsize=256)  # (most modules import none of these names: one set for all)
def _hint_patterns(aliases: frozenset, imported_modules: frozenset, counters: bool,
                   thread_locals: frozenset) -> tuple:
    """The patterns of ``_hint_offsets``: the calls (to match the reversed text), the words
    held or looked up uncalled and their pattern, the attribute reads."""
    names = set(_HINT_NAMES) | aliases
    if counters:
        names.add("next")
    reversed_names = "|".join(sorted(re.escape(name[::-1]) for name in names if name))
    calls_reversed = re.compile(rf"\(\s*(?:{reversed_names})(?!\w)")
    # also held or looked up by name, uncalled: the modules, the frame inspectors
    words = tuple(sorted({"secrets"} | imported_modules | _FRAME_INSPECTOR_NAMES
                         | {TRACEBACK_ATTRIBUTE, "stdin"} | thread_locals))
    word_pattern = re.compile(rf"(?:{'|'.join(map(re.escape, words))})\b")
    taken = "|".join(sorted(map(re.escape, _VOLATILE_ATTRIBUTES)))  # ``entropy = os.urandom``
    return calls_reversed, words, word_pattern, re.compile(rf"\.\s*(?:{taken})\b")


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


def imported_names(tree: ast.Module, text: Optional[str] = None) -> dict[str, str]:
    """What each name bound by an import in ``tree`` stands for: ``{"dt": "datetime",
    "now": "time.time"}`` for ``import datetime as dt`` and ``from time import time as now``
    (and for ``now = time.time`` at module level).

    Only statements are visited (imports are statements, wherever they sit), never the
    expressions that make up most of a tree; given the module's ``text``, only the
    top-level ones and those inside a statement whose lines show the word ``import``.
    Relative imports are left out (they are the module's own package, never a clock).
    """
    names: dict[str, str] = {}
    module_level = set(map(id, tree.body))
    lines = None if text is None else _line_numbers(text, _word_offsets(_IMPORT_WORD, text))
    for node in _statements(tree, lines):  # in source order: later imports win
        if type(node) is ast.Assign and id(node) in module_level and len(node.targets) == 1 \
                and type(node.targets[0]) is ast.Name and isinstance(node.value, (ast.Name, ast.Attribute)):
            # ``_now = datetime.now  # hook point for unit tests`` (webob): the alias
            # stands for what it names, as an imported name does.
            dotted = _dotted_call(node.value, names)
            if dotted:
                names[node.targets[0].id] = dotted
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom):
            if node.module and not node.level:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted_call(function: ast.expr, imported: dict[str, str]) -> str:
    """``datetime.date.today`` for ``dt.date.today`` with ``import datetime as dt``; "" when
    the call does not start from an imported name."""
    parts = []
    while isinstance(function, ast.Attribute):
        parts.append(function.attr)
        function = function.value
    if not isinstance(function, ast.Name) or function.id not in imported:
        return ""
    parts.append(imported[function.id])
    return ".".join(reversed(parts))


def _reads_clock(call: ast.Call, dotted: str) -> bool:
    function = call.func
    if isinstance(function, ast.Attribute) and function.attr in CLOCK_ATTRIBUTES:
        return True
    if not dotted:
        return False
    if dotted in VOLATILE_CALLS or dotted.startswith(_VOLATILE_MODULES) \
            or dotted.rpartition(".")[2] in CLOCK_ATTRIBUTES:  # (an alias: ``_now = datetime.now``)
        return True
    if dotted in _CLOCK_WHEN_WRITING and not _opens_for_writing(call, *_CLOCK_WHEN_WRITING[dotted]):
        return False
    rule = _CLOCK_BY_DEFAULT.get(dotted)
    if rule is None:
        return False
    most_positional, keyword = rule
    return len(call.args) <= most_positional and not any(
        item.arg == keyword or item.arg is None for item in call.keywords)


def _opens_for_writing(call: ast.Call, position: int, keyword: str) -> bool:
    """``mode`` given as a literal that writes (w, a, x); any other mode is a guess: read."""
    mode: Optional[ast.expr] = call.args[position] if len(call.args) > position else None
    for item in call.keywords:
        if item.arg == keyword:
            mode = item.value
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(c in mode.value for c in "wax")


_TESTS = (ast.Compare, ast.BoolOp, ast.UnaryOp)  # (``not``: a test too; ``-id(x)``, rare)


def _holds_an_address(returned: ast.expr) -> bool:
    """Does a returned expression hold ``id(...)`` outside a test of it, in decimal?
    (In hexadecimal, ``hex(id(self))`` or ``f"{id(self):x}"``, replay compares texts
    with such addresses made alike: cerberus' errors show theirs.)"""
    pending = [returned]
    while pending:
        node = pending.pop()
        if isinstance(node, _TESTS) or isinstance(node, ast.Subscript):  # (a look-up by it: ``memo[id(x)]``)
            continue
        if type(node) is ast.Call and type(node.func) is ast.Name and node.func.id == "hex":
            continue
        if type(node) is ast.FormattedValue and isinstance(node.format_spec, ast.JoinedStr) \
                and ast.unparse(node.format_spec).rstrip("'\"").endswith(("x", "X")):
            continue
        if type(node) is ast.Call and type(node.func) is ast.Name and node.func.id == "id":
            return True
        pending.extend(ast.iter_child_nodes(node))
    return False


class _Findings:
    """What one walk of a function's body found (nested functions and lambdas included:
    the function calls them)."""

    def __init__(self, node: FunctionNode, imported: dict[str, str], walk: bool,
                 shared: SharedState = _NO_SHARED_STATE) -> None:
        self.inspects_frames = False
        self.counters = shared.counters
        thread_locals = shared.thread_locals
        # (call, what it reads): the clock, entropy, or the exception its caller handles
        self.hooked_calls: list[tuple[ast.Call, str]] = []
        # ``error.__traceback__`` read outside the function's own handlers, ``sys.stdin``,
        # a path object asked for its absolute form
        self.hooked_reads: list[tuple[ast.Attribute, str]] = []
        # (call, what it reads): ``os.path.abspath(path)``, told when ``path`` is relative
        self.hooked_arguments: list[tuple[ast.Call, str]] = []
        self._called: set = set()  # ids of the called expressions (``os.urandom`` of ``os.urandom(8)``)
        self.counter_drawn = ""  # the source told at every call, when it draws from one
        self.thread_local = ""  # the module's thread-local it reads, told at every call
        self.thread_local_changed = ""  # ... or one whose attributes it sets or deletes
        self.returns_a_hash = False  # ``return hash(...)``, as ``__hash__`` methods do
        # ``return f"<{name} {id(self)}>"`` (tenacity's ``RetryCallState.__repr__``): an
        # address in the result, not a test of one (``id(x) in seen``)
        self.returns_an_address = False
        self.reraises = False  # a bare ``raise`` outside its own handlers
        if not walk:  # its lines show no hint: nothing to find
            return
        pending: list = [(node, False)]  # (node, inside a handler of the function's own)
        while pending:
            inner, handling = pending.pop()
            if isinstance(inner, (ast.Try, getattr(ast, "TryStar", ast.Try))):
                # (A ``finally`` reached without an exception reads its caller's.)
                pending.extend((child, handling) for child in inner.body + inner.orelse + inner.finalbody)
                pending.extend((child, True) for child in inner.handlers)
                continue
            pending.extend((child, handling) for child in ast.iter_child_nodes(inner))
            if type(inner) is ast.Return and type(inner.value) is ast.Call and \
                    type(inner.value.func) is ast.Name and inner.value.func.id == "hash":
                self.returns_a_hash = True
            elif type(inner) is ast.Return and inner.value is not None and not self.returns_an_address:
                self.returns_an_address = _holds_an_address(inner.value)
            elif isinstance(inner, ast.Call):
                self._look_at(inner, imported, handling)
            elif type(inner) is ast.Raise and inner.exc is None and not handling:
                self.reraises = True
            elif type(inner) is ast.Name:
                if inner.id in thread_locals and not self.thread_local:
                    self.thread_local = inner.id
            elif type(inner) is ast.Attribute and not isinstance(inner.ctx, ast.Load) and \
                    type(inner.value) is ast.Name and inner.value.id in thread_locals:
                self.thread_local_changed = inner.value.id
            elif isinstance(inner, ast.Attribute) and inner.attr == TRACEBACK_ATTRIBUTE:
                if not handling and isinstance(inner.ctx, ast.Load):
                    self.hooked_reads.append((inner, TRACEBACK_ATTRIBUTE))
            elif type(inner) is ast.Attribute and inner.attr == "stdin" and isinstance(inner.ctx, ast.Load) \
                    and type(inner.value) is ast.Name and imported.get(inner.value.id) == "sys":
                self.hooked_reads.append((inner, STDIN_READ))
            elif type(inner) is ast.Attribute and inner.attr in _VOLATILE_ATTRIBUTES and id(inner) not in self._called \
                    and isinstance(inner.ctx, ast.Load) and (taken := _dotted_call(inner, imported)) in VOLATILE_CALLS:
                self.hooked_reads.append((inner, taken))
            elif isinstance(inner, ast.Attribute) and inner.attr in _FRAME_INSPECTOR_NAMES or \
                    isinstance(inner, ast.Constant) and isinstance(inner.value, str) and \
                    inner.value in _FRAME_INSPECTOR_NAMES:
                # ``getframe = getattr(sys, "_getframe", None)``, ``f = sys._getframe``:
                # called later under another name, it still looks at the caller's frame.
                self.inspects_frames = True

    def _look_at(self, call: ast.Call, imported: dict[str, str], handling: bool) -> None:
        function = call.func
        self._called.add(id(function))  # (a call is met before the expressions inside it)
        dotted = _dotted_call(function, imported)
        if not self.inspects_frames:
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if name in _FRAME_INSPECTOR_NAMES or dotted in _FRAME_INSPECTOR_CALLS:
                self.inspects_frames = True
        if _reads_clock(call, dotted) or (dotted in _EXCEPTION_READING_CALLS and not handling):
            self.hooked_calls.append((call, dotted or ast.unparse(function)))
        elif dotted in RELATIVE_PATH_CALLS:
            if call.args and not isinstance(call.args[0], ast.Starred):
                self.hooked_arguments.append((call, RELATIVE_PATH + dotted))
        elif not dotted and type(function) is ast.Attribute and function.attr in RELATIVE_PATH_METHODS \
                and not call.args:
            self.hooked_reads.append((function, f"{RELATIVE_PATH}Path.{function.attr}"))
        elif type(function) is ast.Attribute and function.attr in RANDOM_METHODS and not dotted.startswith("random."):
            self.hooked_calls.append((call, SYSTEM_RANDOM_METHOD + (dotted or ast.unparse(function))))
        else:
            counter = _counter_advanced(call, self.counters)
            if counter and not self.counter_drawn:
                self.counter_drawn = SHARED_COUNTER + counter


def _report_clock_read(call: ast.Call, source: str) -> None:
    """``datetime.now()`` becomes ``<CLOCK_HOOK>(datetime.now, "datetime.datetime.now")()``:
    the hook tells the recorded calls running at that moment, and returns the callable
    untouched; the callable is looked up, and its arguments evaluated, as before."""
    hook = ast.Call(func=ast.Name(id=CLOCK_HOOK, ctx=ast.Load()), args=[call.func, ast.Constant(source)],
                    keywords=[])
    call.func = ast.fix_missing_locations(ast.copy_location(hook, call.func))


def _report_attribute_read(attribute: ast.Attribute, source: str) -> None:
    """``error.__traceback__`` becomes ``<CLOCK_HOOK>(error, "__traceback__").__traceback__``
    (``sys.stdin``: ``<CLOCK_HOOK>(sys, "sys.stdin").stdin``)."""
    hook = ast.Call(func=ast.Name(id=CLOCK_HOOK, ctx=ast.Load()),
                    args=[attribute.value, ast.Constant(source)], keywords=[])
    attribute.value = ast.fix_missing_locations(ast.copy_location(hook, attribute.value))


def _report_argument_read(call: ast.Call, source: str) -> None:
    """``os.path.abspath(name)`` becomes ``os.path.abspath(<CLOCK_HOOK>(name, source))``."""
    hook = ast.Call(func=ast.Name(id=CLOCK_HOOK, ctx=ast.Load()), args=[call.args[0], ast.Constant(source)],
                    keywords=[])
    call.args[0] = ast.fix_missing_locations(ast.copy_location(hook, call.args[0]))


def _report_history_at_entry(node: FunctionNode, source: str) -> None:
    """``<CLOCK_HOOK>(None, source)`` as the first statement of the body (after the
    docstring), located on the statement it precedes: no line number moves."""
    position = 1 if node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) \
        and isinstance(node.body[0].value.value, str) else 0
    anchor = node.body[min(position, len(node.body) - 1)]
    hook = ast.Expr(value=ast.Call(func=ast.Name(id=CLOCK_HOOK, ctx=ast.Load()),
                                   args=[ast.Constant(None), ast.Constant(source)], keywords=[]))
    node.body.insert(position, ast.fix_missing_locations(ast.copy_location(hook, anchor)))


def _decorated_by(node: Union[FunctionNode, ast.ClassDef], names: frozenset) -> bool:
    """Is one of ``node``'s decorators named (its last dotted part) among ``names``?"""
    return any(_decorator_name(decorator).rpartition(".")[2] in names for decorator in node.decorator_list)


def skip_reason(node: FunctionNode, findings: Optional[_Findings] = None) -> str | None:
    """Why a function is not instrumented, or ``None`` when it is.

    ``findings`` is the walk of its body (frame inspection), made only when its lines
    show a hint of what the walk looks for: most functions pay nothing for it.
    """
    if node.name in _IMPLICIT_CLASSMETHODS:
        return "implicit classmethod"
    if node.name == "__hash__" or (findings is not None and findings.returns_a_hash):
        # Hash values are per process (str hashing is randomised, object hashes come
        # from id()): a recorded one would not replay (cerberus' ``mapping_hash``
        # returns the hash of a frozenset holding classes).
        return "hash values differ between processes"
    if findings is not None and findings.returns_an_address:
        return "returns an object's address (id()), which differs between processes"
    if findings is not None and findings.inspects_frames:
        return "looks at its caller's frame"
    if _decorated_by(node, RECOMPILING_DECORATORS):
        return "compiled anew from its source by its decorator (@typechecked): its recording would be dropped"
    for decorator in node.decorator_list:
        name = _decorator_name(decorator)
        last = name.rpartition(".")[2]
        if last == "overload":
            return "typing.overload stub"
        if last in _CONTEXT_MANAGER_DECORATORS:
            # Its generator is driven by a ``with`` block, whose statements run between
            # the yield and what follows it (packaging's ``enclosing_tokens`` checks the
            # tokens the block consumed): replay, which only iterates, has no block.
            return "a context manager's generator (a with block runs inside it)"
        if last == "register" and isinstance(decorator, (ast.Attribute, ast.Call)):
            # ``@fun.register`` / ``@fun.register(int)``: the implementation is reached
            # only through the dispatch registry, never by its qualified name.
            return "singledispatch implementation"
    return None


def _role(node: FunctionNode) -> str:
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Attribute) and decorator.attr in _ROLES:
            return _ROLES[decorator.attr]
    return ""


class _Instrumenter:
    def __init__(self, imported: dict[str, str], hint_lines: list[int],
                 shared: SharedState = _NO_SHARED_STATE, module_name: str = "", record_inside: bool = True,
                 inline_hint_lines: Optional[list[int]] = None) -> None:
        self.imported = imported
        self.record_inside = record_inside  # plain functions record in their body (see inline)
        # sorted numbers of the lines showing an ``inline.HINT`` word (None: every line may)
        self.inline_hint_lines = inline_hint_lines
        self.inline_count = 0
        self.shared = shared
        self.module_name = module_name
        self.hint_lines = hint_lines  # sorted numbers of the lines showing a hint (_hint_offsets)
        self.instrumented: list[str] = []
        self.clock_reads: list[tuple[str, str]] = []  # (function, what it reads)
        self.skipped: list[tuple[str, str]] = []
        self._scope: list[str] = []
        self._recompiled_classes = 0  # enclosing classes under a recompiling decorator

    def _hinted(self, node: FunctionNode, lines: Optional[list[int]] = None) -> bool:
        lines = self.hint_lines if lines is None else lines
        first = bisect.bisect_left(lines, node.lineno)
        return first < len(lines) and lines[first] <= (node.end_lineno or node.lineno)

    def _decorator(self, node: FunctionNode, key: str = "") -> ast.expr:
        # ``@<instrumenter>``, or ``@<instrumenter>.setter``/``.deleter`` for property roles;
        # ``@<instrumenter>.inline(key[, role])`` for a function recording in its body.
        # Located as made at the original ``def`` (tracebacks and co_firstlineno unchanged).
        target = node.decorator_list[-1] if node.decorator_list else node
        at = inline.location_of(target)
        decorator: ast.expr = ast.Name(id=HELPER_NAME, ctx=ast.Load(), **at)
        role = _role(node)
        if key:
            arguments = [ast.Constant(key, **at)] + ([ast.Constant(role, **at)] if role else [])
            decorator = ast.Call(func=ast.Attribute(value=decorator, attr="inline", ctx=ast.Load(), **at),
                                 args=arguments, keywords=[], **at)
        elif role:
            decorator = ast.Attribute(value=decorator, attr=role, ctx=ast.Load(), **at)
        return decorator

    def _visit_function(self, node: FunctionNode) -> None:
        qualname = ".".join(self._scope + [node.name])
        findings = _Findings(node, self.imported, self._hinted(node), self.shared)
        reason = skip_reason(node, findings)
        if reason is None and self._recompiled_classes:
            reason = "compiled anew from its source by its class's decorator (@typechecked): its recording would be dropped"
        key = ""
        if reason:
            self.skipped.append((qualname, reason))
        else:
            hinted = self.inline_hint_lines is None or self._hinted(node, self.inline_hint_lines)
            if self.record_inside and inline.refusal(node, bool(self._scope), hinted) is None:
                key = f"{self.module_name}:{self.inline_count}"
                self.inline_count += 1
            node.decorator_list.append(self._decorator(node, key))
            self.instrumented.append(qualname)
        # Also in functions left unwrapped: they run inside recorded calls all the same.
        for call, source in findings.hooked_calls:
            _report_clock_read(call, source)
            self.clock_reads.append((qualname, source))
        for attribute, source in findings.hooked_reads:
            _report_attribute_read(attribute, source)
            self.clock_reads.append((qualname, source))
        for call, source in findings.hooked_arguments:
            _report_argument_read(call, source)
            self.clock_reads.append((qualname, source))
        if findings.counter_drawn:
            _report_history_at_entry(node, findings.counter_drawn)
            self.clock_reads.append((qualname, findings.counter_drawn))
        if findings.reraises:
            _report_history_at_entry(node, RERAISE)
            self.clock_reads.append((qualname, RERAISE))
        if findings.thread_local_changed:
            source = f"{THREAD_LOCAL_CHANGE}{self.module_name}:{findings.thread_local_changed}"
        elif findings.thread_local:
            source = f"{THREAD_LOCAL}{self.module_name}:{findings.thread_local}"
        else:
            source = ""
        if source:
            _report_history_at_entry(node, source)
            self.clock_reads.append((qualname, source))
        if key:  # last: the hooks above run inside the recorded call
            inline.record_inside(node, key)  # type: ignore[arg-type]
        # Nested functions are not importable, so not replayable: not descended into.

    def visit(self, statements: list) -> None:
        """Every ``def`` among these statements and the ones they hold (branches, ``with``,
        ``try``, ``match``, class bodies), not inside a function: statements only, never
        the expressions that make up most of a module (no ``def`` sits in one)."""
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self._visit_function(node)
                continue
            if isinstance(node, ast.ClassDef):
                recompiled = _decorated_by(node, RECOMPILING_DECORATORS)
                self._scope.append(node.name)
                self._recompiled_classes += recompiled
                try:
                    self.visit(node.body)
                finally:
                    self._scope.pop()
                    self._recompiled_classes -= recompiled
                continue
            for field in ("body", "orelse", "handlers", "finalbody", "cases"):
                inner = getattr(node, field, None)
                if isinstance(inner, list):
                    self.visit(inner)


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


def rewrite_module(source: str | bytes, filename: str, module_name: str,
                   record_inside: bool = True) -> tuple[ast.Module, list[str]]:
    """Parse ``source`` and instrument it; return the tree and the instrumented qualnames.

    A module carrying ``OPT_OUT_MARKER`` is returned parsed but unchanged.
    ``record_inside=False``: every function records through a wrapper (a module
    instrumented in place, whose functions exist already: see :mod:`cleanup_trace.late`).
    """
    tree = ast.parse(source, filename=filename)
    text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
    if OPT_OUT_MARKER in text:
        return tree, []
    imported = imported_names(tree, text)
    shared = shared_state(tree, text, imported)
    hits = _hint_offsets(text, imported, shared)
    inline_hits = _word_offsets(inline.HINT, text) \
        if record_inside and any(word in text for word in inline.HINT_WORDS) else []
    instrumenter = _Instrumenter(imported, _line_numbers(text, hits), shared, module_name, record_inside,
                                 _line_numbers(text, inline_hits))
    instrumenter.visit(tree.body)
    if not instrumenter.instrumented:
        return tree, []
    position = _insert_position(tree.body)
    anchor = tree.body[position] if position < len(tree.body) else tree.body[-1]
    # import cleanup_trace.runtime as <HELPER_NAME>
    # <HELPER_NAME> = <HELPER_NAME>.module_instrumenter(<module name>[, <rebound names>[, <identity names>]])
    helper_import = ast.Import(names=[ast.alias(name=RUNTIME_MODULE, asname=HELPER_NAME)])
    rebound = rebound_globals(tree, text)
    identities = identity_names(tree, text)
    arguments: list[ast.expr] = [ast.Constant(module_name)]
    if rebound or identities:
        arguments.append(ast.Tuple(elts=[ast.Constant(name) for name in rebound], ctx=ast.Load()))
    if identities:
        arguments.append(ast.Tuple(elts=[ast.Constant(name) for name in identities], ctx=ast.Load()))
    bind = ast.Assign(
        targets=[ast.Name(id=HELPER_NAME, ctx=ast.Store())],
        value=ast.Call(func=ast.Attribute(value=ast.Name(id=HELPER_NAME, ctx=ast.Load()),
                                          attr="module_instrumenter", ctx=ast.Load()),
                       args=arguments, keywords=[]))
    for statement in (helper_import, bind):
        ast.copy_location(statement, anchor)
        ast.fix_missing_locations(statement)
    tree.body[position:position] = [helper_import, bind]
    # <HELPER_NAME>.finished(): deletes <HELPER_NAME> from the module's namespace
    forget = ast.Expr(value=ast.Call(func=ast.Attribute(value=ast.Name(id=HELPER_NAME, ctx=ast.Load()),
                                                        attr="finished", ctx=ast.Load()), args=[], keywords=[]))
    ast.copy_location(forget, tree.body[-1])
    ast.fix_missing_locations(forget)
    tree.body.append(forget)
    return tree, instrumenter.instrumented


def inline_keys(tree: ast.Module) -> frozenset:
    """The keys :func:`rewrite_module` gave the functions recording in their body (for a
    module instrumented in place, which finds each one among its function's constants)."""
    return frozenset(
        decorator.args[0].value for node in _statements(tree) if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr == "inline" and isinstance(decorator.func.value, ast.Name)
        and decorator.func.value.id == HELPER_NAME)


def instrumenter_arguments(tree: ast.Module) -> tuple[tuple, tuple]:
    """The rebound and identity names :func:`rewrite_module` passed to the module's
    instrumenter (for a module instrumented in place, whose body is not run)."""
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.targets[0], ast.Name) \
                and statement.targets[0].id == HELPER_NAME and isinstance(statement.value, ast.Call):
            given = [ast.literal_eval(argument) for argument in statement.value.args[1:]]
            return (given + [(), ()])[0], (given + [(), ()])[1]
    return (), ()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector held off while a module's tree is made and compiled.

    ``ast.parse`` and the transform make a Python object per node, and every one of them
    lives until the compile: each collection the allocations set off walks all of them
    (and, in a full one, the whole heap) to free nothing. Held off, the rewrite of
    python-stdnum's 338 modules took 313 ms instead of 406 ms in a bare process, and two
    of the eight full collections of its recorded suite ran inside it. (The tree must be
    gone before the block ends.) No code of the user's runs in the block; a collector
    the program switched off stays off (one another thread switches off during the
    block is on again after it: the price of a global switch).
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def compile_instrumented(source: str | bytes, filename: str, module_name: str):
    """Source to code object with instrumentation (raises on any transform failure)."""
    with collector_paused():
        return _compiled(source, filename, module_name)


def _compiled(source: str | bytes, filename: str, module_name: str):
    # (the tree is freed as this returns, before the collector is back: a collection with
    # the tree alive would walk it all and keep it a generation longer)
    tree, _ = rewrite_module(source, filename, module_name)
    return compile(tree, filename, "exec", dont_inherit=True)


def instrumented_parts(source: str | bytes, filename: str, module_name: str) -> tuple:
    """What a module imported before recording needs to be instrumented in place (see
    :mod:`cleanup_trace.late`): ``(code, qualnames, rebound, identities, inline keys)``,
    all of which ``marshal`` can carry (the helper of :mod:`cleanup_trace.prewarm`
    makes them too); ``code`` is None when no function is instrumented."""
    with collector_paused():
        return _parts(source, filename, module_name)


def _parts(source: str | bytes, filename: str, module_name: str) -> tuple:
    tree, qualnames = rewrite_module(source, filename, module_name)
    if not qualnames:
        return None, (), (), (), ()
    rebound, identities = instrumenter_arguments(tree)
    keys = tuple(sorted(inline_keys(tree)))
    return compile(tree, filename, "exec", dont_inherit=True), tuple(qualnames), tuple(rebound), \
        tuple(identities), keys
