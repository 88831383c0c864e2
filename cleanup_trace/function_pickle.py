"""Functions that cannot be named (closures, lambdas, local functions) pickled by value
with the standard library's C pickler.

dill pickles them through the pure-Python pickler: about 2 ms for one of voluptuous's
validators, 130 ms for a pyparsing parse action holding its grammar, paid at every
recorded case that holds one. Here the C pickler does the walking and a
``reducer_override`` takes over only where it cannot go alone: functions by value (code
marshalled, globals by module name, closure cells), code objects, cells and modules.
Anything else it refuses (a class made inside a function, one of the script's
``__main__``, a ``staticmethod`` object...) raises :class:`pickle.PicklingError`, and the
caller hands the function to dill, which stores such things by value.

The result loads with :func:`pickle.loads` (or dill's loader): only this module's
rebuilding functions are named in it. Code is marshalled, which is specific to the Python
version: a payload names the version that wrote it and refuses to load on another one.
"""
from __future__ import annotations

import builtins
import io
import marshal
import pickle
import sys
import types
from typing import Any, Callable, Optional

_VERSION = tuple(sys.version_info[:2])


class WrongPython(Exception):
    """A function stored by value on one Python version, loaded on another."""


def dumps(function: types.FunctionType, by_reference: Callable[[Any], bool],
          named: Callable[[Any], Optional[tuple]] = lambda obj: None) -> tuple[bytes, frozenset]:
    """``function`` pickled by value, and the modules loading it imports.

    ``by_reference(f)`` tells which functions are found by module and name when loaded;
    ``named(obj)`` which other objects are, as ``(module, dotted name)`` (sentinels
    compared with ``is``: a copy would be another object). Raises
    :class:`pickle.PicklingError` (or what ``__reduce__`` of a value raises) for what only
    dill can store.
    """
    buffer = io.BytesIO()
    pickler = _FunctionPickler(buffer, by_reference, named)
    pickler.dump(function)
    return buffer.getvalue(), frozenset(pickler.modules)


def loads(data: bytes) -> Any:
    return pickle.loads(data)


class _Namespace:
    """Stands for a module's ``__dict__`` in a pickle: a dict would be stored by value
    (the C pickler never asks ``reducer_override`` about exact dicts)."""

    __slots__ = ("module",)

    def __init__(self, module: str) -> None:
        self.module = module

    def __reduce__(self) -> Any:
        return _namespace_of, (self.module,)


class _FunctionPickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, by_reference: Callable[[Any], bool],
                 named: Callable[[Any], Optional[tuple]]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.by_reference = by_reference
        self.named = named
        self.modules: set = set()
        self.namespaces: dict = {}  # module name -> its one _Namespace (memoised once)
        self.closure_cells: set = set()  # ids of the cells a function's state fills

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is types.FunctionType:
            module = obj.__module__
            if module == __name__:
                return NotImplemented  # the rebuilding functions below
            if module != "__main__" and self.by_reference(obj):
                self.modules.add(module)
                target = _named(obj)
                if target is obj:
                    return NotImplemented  # the pickler's own lookup by name
                # It requires the name to lead to this very object: an instrumented
                # module holds the recording wrapper, a class the classmethod.
                return _by_name, (module, obj.__qualname__, getattr(target, "__func__", None) is obj)
            return self._function_by_value(obj)
        if isinstance(obj, type):
            module = obj.__module__
            if module == "__main__" or "<locals>" in obj.__qualname__:
                # by value only: dill's job (the replay's __main__ is pytest)
                raise pickle.PicklingError(f"class {module}.{obj.__qualname__} cannot be found by name")
            self.modules.add(module)
            return NotImplemented
        if kind is types.CodeType:
            return _load_code, (_VERSION, _marshalled(obj))
        if kind is types.CellType:
            if id(obj) not in self.closure_cells:
                raise pickle.PicklingError("a cell outside a function's closure")
            return _empty_cell, ()
        if kind is types.ModuleType:
            self.modules.add(obj.__name__)
            return _import, (obj.__name__,)
        found = self.named(obj)
        if found is not None:
            self.modules.add(found[0])
            return _by_name, (found[0], found[1], False)
        return NotImplemented

    def _function_by_value(self, function: types.FunctionType) -> Any:
        namespace: Any = function.__globals__
        module = sys.modules.get(function.__module__ or "")
        if module is not None and function.__module__ != "__main__" and namespace is getattr(module, "__dict__", None):
            name = function.__module__
            namespace = self.namespaces.get(name)
            if namespace is None:
                namespace = self.namespaces[name] = _Namespace(name)
            self.modules.add(name)
        # (Any other namespace is stored by value: the caller passes functions whose
        # globals were cut down to what they read.)
        cells = function.__closure__ or ()
        contents = []
        for index, cell in enumerate(cells):
            self.closure_cells.add(id(cell))
            try:
                contents.append((index, cell.cell_contents))
            except ValueError:  # a cell not filled yet stays empty
                pass
        # Everything that may lead back to the function itself goes in the state, which
        # the pickler writes once the function is memoised: a local function calling
        # itself holds itself in its closure.
        state = {
            "__defaults__": function.__defaults__,
            "__kwdefaults__": function.__kwdefaults__,
            "__qualname__": function.__qualname__,
            "__module__": function.__module__,
            "__doc__": function.__doc__,
            "__annotations__": function.__annotations__,
            "__dict__": function.__dict__,
            "closure": contents,
        }
        type_params = getattr(function, "__type_params__", None)
        if type_params:
            state["__type_params__"] = type_params
        return (_make_function, (function.__code__, namespace, function.__name__, cells),
                state, None, None, _set_function_state)


# Code objects never change: each is marshalled once (with the code, kept alive while
# its entry is: an id is not reused meanwhile), and a payload already loaded gives its
# code again. parsy's parsers hold closures of a few dozen functions, pickled at every
# value storing one (146 pickles a run) and loaded again by the decoding check (98).
_CODES_KEPT = 2048
_marshalled_codes: dict = {}  # id(code) -> (code, its marshal bytes)
_loaded_codes: dict = {}  # marshal bytes -> a code object loaded from them


def _marshalled(code: types.CodeType) -> bytes:
    known = _marshalled_codes.get(id(code))
    if known is not None and known[0] is code:
        return known[1]
    data = marshal.dumps(code)
    if len(_marshalled_codes) >= _CODES_KEPT:
        _marshalled_codes.clear()  # (code made at run time, exec's: bounded)
    _marshalled_codes[id(code)] = (code, data)
    return data


def forget_codes() -> None:
    """Let the code objects marshalled or loaded go (the recording is over)."""
    _marshalled_codes.clear()
    _loaded_codes.clear()


def _named(function: types.FunctionType) -> Any:
    """What the function's module and qualified name lead to now."""
    target: Any = sys.modules[function.__module__]
    for part in function.__qualname__.split("."):
        target = getattr(target, part)
    return target


# What a payload names when loaded: keep these names and signatures.

def _by_name(module: str, qualname: str, through_func: bool) -> Any:
    target: Any = _import(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target.__func__ if through_func else target


def _load_code(version: tuple, data: bytes) -> types.CodeType:
    if tuple(version) != _VERSION:
        raise WrongPython(f"a function stored by value on Python {version[0]}.{version[1]} cannot be rebuilt "
                          f"on Python {_VERSION[0]}.{_VERSION[1]}: record again with this Python")
    code = _loaded_codes.get(data)
    if code is None:
        code = marshal.loads(data)
        if len(_loaded_codes) >= _CODES_KEPT:
            _loaded_codes.clear()
        _loaded_codes[data] = code
    return code


def _namespace_of(module: str) -> dict:
    return _import(module).__dict__


def _import(module: str) -> types.ModuleType:
    __import__(module)
    return sys.modules[module]


def _empty_cell() -> types.CellType:
    return types.CellType()


def _make_function(code: types.CodeType, namespace: dict, name: str, cells: tuple) -> types.FunctionType:
    if "__builtins__" not in namespace:  # a namespace stored by value (cut down)
        namespace["__builtins__"] = builtins.__dict__
    return types.FunctionType(code, namespace, name, None, cells or None)


def _set_function_state(function: types.FunctionType, state: dict) -> types.FunctionType:
    closure = function.__closure__ or ()
    for index, value in state.pop("closure"):
        closure[index].cell_contents = value
    attributes = state.pop("__dict__")
    for name, value in state.items():
        setattr(function, name, value)
    function.__dict__.update(attributes)
    return function


__all__ = ["dumps", "loads", "WrongPython"]
