"""Instrument, in place, included modules that were imported before recording started.

The import hook cannot rewrite a module that is already imported, and importing it again
would make new classes (the objects made before would no longer be their instances). Yet
pytest imports some libraries before any plugin runs (``packaging``, ``iniconfig``, the
library whose warning class ``filterwarnings`` names), and ``with Recorder():`` is often
opened after the user's ``import``. For such a module the tool does at recording start
what the rewritten module would have done at import:

* the module's source is rewritten as at import, and compiled, but not run;
* each function the rewrite instruments gets the rewritten code of its body
  (``function.__code__``: the clock and entropy hooks, and for a plain function the
  recording itself, see :mod:`cleanup_trace.inline`), the function object itself is
  kept, so every reference to it sees the new body: it records wherever it is held;
* a generator or coroutine function, or one whose code differs from the file's (edited
  since the import), gets a recording wrapper instead, in its place in the module and in
  its class (inside the ``staticmethod``/``classmethod``/``property`` holding it), and
  in every module that imported it by name (``from lib.utils import f``);
* the module's globals are noted as the module defined them (a patched global is told
  apart as with a module imported under the hook).

Where the helper process of :mod:`cleanup_trace.prewarm` runs, it makes the rewrites
of these modules from the first on while the recording's start makes them from the
last back (see ``_made_from_both_ends``); they are instrumented in their order all the
same.

Whether a function's code is still the file's is told by compiling the file as it is now,
or, for a file last changed before the process started (known on Linux), by the shape of
its functions (parameters, names, constants, lines): an edit keeping all of those, in a
file whose date was set back after its import, is not seen.

What keeps a reference of its own to a wrapped function is not changed: a bound method
taken at import (``encode = _default.encode``), a registry holding the function, a
decorator's closure (``lru_cache``, ``contextmanager``): calls through them are not
recorded, never wrong.
"""
from __future__ import annotations

import dis
import functools
import importlib.util
import inspect
import os
import sys
import types
import weakref
from typing import Any, Callable, Optional

from cleanup_trace import bodies, inline, locate, rewrite, runtime
from cleanup_trace._log import log

# Modules already instrumented in place: the objects (a module may be replaced in
# sys.modules), weakly (the id of a module gone may be a new module's).
_done: weakref.WeakSet = weakref.WeakSet()


def _is_done(module: Any) -> bool:
    return module in _done  # (False for an object that takes no weak reference)


def _mark_done(module: Any) -> None:
    try:
        _done.add(module)
    except TypeError:  # (not a module: its instrumenting fails, and says so)
        pass

_PROPERTY_ROLES = (("fget", ""), ("fset", "setter"), ("fdel", "deleter"))


def sources(names: list) -> list:
    """``(file, name)`` of the modules ``names`` whose source :func:`instrument_in_place`
    will rewrite (a module under two names once, by the first), for a helper to rewrite
    them meanwhile (see prewarm)."""
    found = []
    seen = set()
    for name in names:
        module = sys.modules.get(name)
        if module is None or id(module) in seen or _is_done(module):
            continue
        seen.add(id(module))  # (all alive meanwhile: held by sys.modules)
        try:
            if _holds_its_own_code(module, name):
                found.append((_source_file(module), name))
        except Exception:  # (an object in sys.modules without a namespace: left to instrument_in_place)
            continue
    return found


def _source_file(module: types.ModuleType) -> str:
    return getattr(getattr(module, "__spec__", None), "origin", None) or module.__file__


def instrument_in_place(names: list, helper: Any = None) -> list:
    """Instrument the modules ``names`` (imported, included, not rewritten); return those
    done. ``helper``: a :class:`cleanup_trace.prewarm.Prewarm` given :func:`sources`
    first (see _made_from_both_ends)."""
    replaced: dict = {}  # id(plain function) -> (plain function, its wrapper)
    finished = []
    made = _made_from_both_ends(names, helper) if helper is not None else {}
    for name in names:
        module = sys.modules.get(name)
        if module is None or _is_done(module):
            continue
        _mark_done(module)
        try:
            decorate = _instrument_module(name, module, replaced, made.get(name))
        except Exception as error:  # the module stays as it is: its calls go unrecorded
            log.warning("module.not_instrumented", module=name, error=f"{type(error).__name__}: {error}")
            continue
        if decorate is not None:
            finished.append((name, module, decorate))
    if replaced:
        _replace_imported_names(replaced)
    for _, module, decorate in finished:
        # The globals as the module now holds them (the wrappers in): a later change is a patch.
        decorate.finished(vars(module))
    return [name for name, _, _ in finished]


def _made_from_both_ends(names: list, helper: Any) -> dict:
    """name -> (its source, :func:`rewrite.instrumented_parts` of it) for the modules of
    ``names`` the helper was given (:func:`sources`), made by the helper from the first
    on and here from the last back, until they meet (a module made here is one the
    helper passes over). The modules are then instrumented in their order, as without
    a helper."""
    wanted = set(names)
    made = {}
    for path, name in reversed(helper.in_place):
        module = sys.modules.get(name)
        if name not in wanted or module is None or _is_done(module):
            continue
        try:
            with open(path, "rb") as handle:
                source = handle.read()
            parts = helper.parts_for(path, name, lambda: importlib.util.source_hash(source))
            made[name] = (source, parts or rewrite.instrumented_parts(source, path, name))
        except Exception:  # (made again by the instrumenting, which reports why it fails)
            continue
    return made


def _instrument_module(name: str, module: types.ModuleType, replaced: dict,
                       made: Optional[tuple] = None) -> Optional[Callable]:
    """Wrap the module's functions where they are; its decorator, or None if none was.
    ``made``: its source and the parts of its rewrite, made already."""
    if not _holds_its_own_code(module, name):
        return None
    filename = _source_file(module)
    if made is None:
        with open(filename, "rb") as handle:
            source = handle.read()
        parts = None
    else:
        source, parts = made
    qualnames, rebound, identities, keys, rewritten = _rewritten(source, filename, name, parts)
    if not qualnames:
        return None
    # The bodies as imported: a function whose code differs (the file changed since)
    # keeps its own body. Not compiled for a file last changed before this process
    # started, which its import read as it is now (bleach's 30 modules: a tenth of its
    # recording's cost); its functions' shapes are still compared.
    plain = None if _unchanged_since_start(filename) else \
        bodies.function_bodies(compile(source, filename, "exec", dont_inherit=True))
    decorate = runtime.module_instrumenter(name, rebound, identities)
    count = 0
    for qualname in dict.fromkeys(qualnames):
        owner, _, attribute = qualname.rpartition(".")
        holder = _owner(module, owner, name) if owner else module
        if holder is None:
            continue
        try:
            count += _instrument_attribute(holder, attribute, qualname, rewritten, plain, decorate, replaced, keys)
        except Exception as error:  # (a metaclass refusing the assignment): that one stays plain
            log.debug("function.not_instrumented", function=f"{name}.{qualname}",
                      error=f"{type(error).__name__}: {error}")
    return decorate if count else None


def _holds_its_own_code(module: types.ModuleType, name: str) -> bool:
    """Does the module hold a function or class it defined? Only those are instrumented
    in place (see ``_owner``, ``_is_the_function``): a module of data alone is not read,
    parsed and compiled for nothing (html5lib's 83 kB ``constants``, in bleach: 40 ms)."""
    names = {name, getattr(module, "__name__", name)}
    for value in list(vars(module).values()):
        kind = type(value)
        if kind is types.FunctionType or issubclass(kind, type):
            if getattr(value, "__module__", None) in names:
                return True
        elif kind in (staticmethod, classmethod, property):  # (at module level: rare; looked at)
            return True
    return False


def _rewritten(source: bytes, filename: str, name: str, made: Optional[tuple] = None) -> tuple:
    """The instrumented qualnames, the instrumenter's arguments, the inline keys and the
    rewritten bodies; ``made``: what :func:`rewrite.instrumented_parts` gave for this
    source (the helper's), else made here (with the collector held off while its tree
    lives: no tree is made from the helper's parts)."""
    code, qualnames, rebound, identities, keys = made or rewrite.instrumented_parts(source, filename, name)
    if code is None:
        return (), (), (), frozenset(), {}
    return list(qualnames), tuple(rebound), tuple(identities), frozenset(keys), bodies.function_bodies(code)


def _owner(module: types.ModuleType, path: str, module_name: str) -> Optional[type]:
    """The class ``path`` (``Outer.Inner``) as the module defined it, or None."""
    value: Any = module
    for part in path.split("."):
        value = vars(value).get(part)
        if not isinstance(value, type) or value.__module__ != module_name:
            return None
    return value if value.__qualname__ == path else None


def _instrument_attribute(holder: Any, attribute: str, qualname: str, rewritten: dict, plain: dict,
                          decorate: Callable, replaced: dict, keys: frozenset = frozenset()) -> int:
    """Instrument ``holder.attribute`` (its functions named ``qualname``): in its body, or
    by a wrapper put in its place."""
    if isinstance(holder, type):
        attribute = locate.private_name(holder, attribute)  # (``def __cache`` is stored mangled)
    value = vars(holder).get(attribute)
    inside = []  # functions recording in their body now: nothing to put in their place

    def wrapped(function: Any, role: str = "") -> Any:
        if not _is_the_function(function, qualname, holder):
            return None
        code = function.__code__
        where = (qualname, code.co_firstlineno)
        body = rewritten.get(where)
        if plain is None:  # (the file unchanged since the process started: the shapes tell)
            as_imported = body is not None and _same_shape(body, code)
        else:
            as_imported = where in plain and _same_code(plain[where], code)
        if as_imported and body.co_freevars == code.co_freevars:
            # (a key only in a plain function's body: the transformer wraps generators)
            key = next((constant for constant in body.co_consts if type(constant) is str and constant in keys), None)
            if key is not None:
                function.__code__ = body
                inside.append(decorate.inline(key, role)(function))  # type: ignore[attr-defined]
                return None
            function.__code__ = body
        wrapper = (getattr(decorate, role) if role else decorate)(function)
        replaced[id(function)] = (function, wrapper)
        return wrapper

    if type(value) is types.FunctionType:
        new = wrapped(value)
    elif type(value) in (staticmethod, classmethod):
        inner = wrapped(value.__func__)
        new = None if inner is None else type(value)(inner)
    elif type(value) is property:
        parts = {slot: getattr(value, slot) for slot, _ in _PROPERTY_ROLES}
        for slot, role in _PROPERTY_ROLES:
            inner = wrapped(parts[slot], role) if parts[slot] is not None else None
            if inner is not None:
                parts[slot] = inner
        new = None if all(parts[slot] is getattr(value, slot) for slot, _ in _PROPERTY_ROLES) \
            else property(parts["fget"], parts["fset"], parts["fdel"], value.__doc__)
    else:  # another decorator's object (lru_cache, cached_property...): its closure keeps the function
        new = None
    if new is None:
        return 1 if inside else 0
    setattr(holder, attribute, new)
    if isinstance(holder, type):  # the class's other names for it (``__radd__ = __add__``)
        for other, item in list(vars(holder).items()):
            if item is value and other != attribute:
                setattr(holder, other, new)
    return 1


def _is_the_function(function: Any, qualname: str, holder: Any) -> bool:
    """``function`` is the plain function the module's ``def`` made (not another module's,
    not a decorator's inner function standing in for it)."""
    module_name = holder.__name__ if isinstance(holder, types.ModuleType) else holder.__module__
    return (type(function) is types.FunctionType and function.__qualname__ == qualname
            and function.__module__ == module_name and function.__code__.co_name == qualname.rpartition(".")[2])


def _same_code(first: types.CodeType, second: types.CodeType) -> bool:
    return (first.co_code == second.co_code and first.co_names == second.co_names
            and first.co_varnames == second.co_varnames and first.co_freevars == second.co_freevars)


def _same_shape(rewritten: types.CodeType, code: types.CodeType) -> bool:
    """Is ``code`` made from the source ``rewritten`` was rewritten from, as far as its
    shape tells: parameters, free variables, the names it reads (the rewritten body
    adds the hooks'), and its lines (the rewritten body adds none but the ``def`` line's)?"""
    count = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & inspect.CO_VARARGS) \
        + bool(code.co_flags & inspect.CO_VARKEYWORDS)
    lines, rewritten_lines = _lines(code), _lines(rewritten)
    return (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_freevars,
            code.co_varnames[:count]) == \
        (rewritten.co_argcount, rewritten.co_posonlyargcount, rewritten.co_kwonlyargcount, rewritten.co_freevars,
         rewritten.co_varnames[:count]) \
        and set(code.co_names) <= set(rewritten.co_names) <= set(code.co_names) | _ADDED_NAMES \
        and _constants(code) <= _constants(rewritten) and lines <= rewritten_lines \
        and rewritten_lines <= lines | {code.co_firstlineno, rewritten.co_firstlineno}


def _lines(code: types.CodeType) -> set:
    """The lines ``code`` has instructions on (``dis.findlinestarts``' lines, read from
    ``co_lines`` without its generator: bleach compares 330 functions at each start)."""
    lines = getattr(code, "co_lines", None)
    if lines is None:  # (Python 3.9)
        return {line for _, line in dis.findlinestarts(code) if line is not None}
    found = {line for _, _, line in lines()}
    found.discard(None)
    return found


# The names a rewritten body may read that its source does not name.
_ADDED_NAMES = frozenset(inline.HOOK_NAMES) | {rewrite.CLOCK_HOOK, "BaseException"}


def _constants(code: types.CodeType) -> set:
    return {(type(constant), constant) for constant in code.co_consts if not isinstance(constant, types.CodeType)}


def _unchanged_since_start(filename: str) -> bool:
    """Was ``filename`` last changed before this process started (so that the import
    read the text it holds now)? ``False`` where that is not known."""
    started = _process_start()
    try:
        return started is not None and os.stat(filename).st_mtime < started - _START_MARGIN
    except OSError:
        return False


_START_MARGIN = 2.0  # seconds: the boot time is counted in whole seconds


@functools.lru_cache(maxsize=None)
def _process_start() -> Optional[float]:
    """When this process started, from ``/proc`` (Linux); ``None`` elsewhere. (A forked
    child starts after its parent's imports: a file changed in between, its functions
    keeping their shape, passes for unchanged there.)"""
    try:
        with open("/proc/self/stat", "rb") as handle:
            ticks = int(handle.read().rpartition(b")")[2].split()[19])  # (field 22, after the name)
        with open("/proc/stat", "rb") as handle:
            booted = next(int(line.split()[1]) for line in handle if line.startswith(b"btime "))
        return booted + ticks / os.sysconf("SC_CLK_TCK")
    except Exception:
        return None


def _replace_imported_names(replaced: dict) -> None:
    """Where a module took an instrumented function by name (``from lib.utils import f``),
    give it the wrapper, as the rewritten module would have."""
    for module in list(sys.modules.values()):
        if not isinstance(module, types.ModuleType):
            continue
        try:
            namespace = object.__getattribute__(module, "__dict__")  # (a lazy module stays unloaded)
            for name, value in list(namespace.items()):
                entry = replaced.get(id(value))
                if entry is not None and entry[0] is value:
                    namespace[name] = entry[1]
        except Exception as error:  # an odd module object: its names stay as they are
            log.debug("module.names_not_replaced", module=getattr(module, "__name__", "?"),
                      error=f"{type(error).__name__}: {error}")
