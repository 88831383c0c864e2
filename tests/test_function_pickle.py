"""Functions pickled by value with the C pickler (cleanup_trace.function_pickle), and the
serialiser's fallback to dill for what only dill stores."""
from __future__ import annotations

import pickle
import sys
import types

import pytest

from cleanup_trace import function_pickle, serialise


def _never_by_name(function: object) -> bool:
    return False


def _round_trip(function: types.FunctionType, by_reference=_never_by_name) -> types.FunctionType:
    data, _ = function_pickle.dumps(function, by_reference)
    return pickle.loads(data)


def _counter_pair():
    count = 0

    def bump(step=1, *, twice=False):
        "Adds to the shared count."
        nonlocal count
        count += step * (2 if twice else 1)
        return count

    def read():
        return count

    return bump, read


def test_a_closure_keeps_its_defaults_names_and_attributes() -> None:
    bump, _ = _counter_pair()
    bump.marker = "kept"
    copy = _round_trip(bump)
    assert copy is not bump
    assert (copy.__name__, copy.__qualname__, copy.__doc__) == (bump.__name__, bump.__qualname__, bump.__doc__)
    assert copy.__defaults__ == (1,) and copy.__kwdefaults__ == {"twice": False} and copy.marker == "kept"
    assert copy.__module__ == __name__ and copy.__globals__ is sys.modules[__name__].__dict__  # by name
    assert [1, 5] == [copy(), copy(2, twice=True)]


def test_closures_sharing_a_cell_still_share_it() -> None:
    bump, read = _counter_pair()
    bump(3)
    data, _ = function_pickle.dumps(_pair_holder(bump, read), _never_by_name)
    bump_copy, read_copy = pickle.loads(data)()
    assert 3 == read_copy()
    bump_copy(4)
    assert 7 == read_copy() and 3 == read()  # the copies share one cell, not the originals'


def _pair_holder(first, second):
    return lambda: (first, second)


def test_a_local_function_calling_itself_and_an_empty_cell() -> None:
    def countdown(n):
        return [] if n == 0 else [n] + countdown(n - 1)

    def later():
        return not_yet  # noqa: F821 - filled after the function is made

    copy = _round_trip(countdown)
    assert [3, 2, 1] == copy(3) and copy.__closure__[0].cell_contents is copy
    empty = _round_trip(later)
    with pytest.raises(NameError):
        empty()
    not_yet = 1  # noqa: F841


class Shapes:
    sides = 4

    @classmethod
    def square(cls, size):
        return size * cls.sides


def test_a_function_found_by_name_through_a_classmethod_or_a_wrapper() -> None:
    raw = Shapes.__dict__["square"].__func__
    by_name = {raw}
    copy = _round_trip(_pair_holder(raw, len), lambda function: function in by_name)()[0]
    assert copy is raw  # the classmethod's own function, not the bound method


def test_modules_named_and_a_class_only_dill_can_store() -> None:
    class Local:
        pass

    def uses_local():
        return Local

    _, modules = function_pickle.dumps(_pair_holder(pytest.approx, Shapes), serialise._importable)
    assert {__name__, pytest.approx.__module__} <= modules
    with pytest.raises(pickle.PicklingError, match="cannot be found by name"):
        function_pickle.dumps(uses_local, _never_by_name)


FACTORIES = """
def scaler(factor):
    return lambda value: value * factor


_MISSING = object()


def defaulting(default=_MISSING):
    return lambda: default  # the cell holds the sentinel


def local_class_getter():
    class Local:
        pass

    return lambda: Local
"""


@pytest.fixture
def factories(tmp_path, monkeypatch):
    (tmp_path / "pickled_factories.py").write_text(FACTORIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    # as if instrumented: only the user's own local functions are stored by value
    monkeypatch.setattr(serialise, "_from_user_code", lambda function: True)
    import pickled_factories

    yield pickled_factories
    sys.modules.pop("pickled_factories", None)


def test_the_serialiser_uses_the_c_pickler_then_dill(factories) -> None:
    stored = serialise.encode(factories.scaler(3))
    assert serialise.PICKLE_LOADER in repr(stored)
    assert 12 == serialise.decode(stored)(4)
    # A class made inside a function is stored by value: dill's job.
    stored = serialise.encode(factories.local_class_getter())
    assert serialise.DILL_LOADER in repr(stored)
    assert "Local" == serialise.decode(stored)().__name__


def test_code_from_another_python_is_refused_by_name() -> None:
    with pytest.raises(function_pickle.WrongPython, match=r"stored by value on Python 2\.7 .* record again"):
        function_pickle._load_code((2, 7), b"")



def test_each_code_object_is_marshalled_and_loaded_once(monkeypatch) -> None:
    """Code objects never change: pickling the closures of one function again (parsy's
    parsers, at every value holding one) marshals its code once, and the decoding check
    loading the payload again gets the code it loaded before; the functions rebuilt keep
    their own cells. The recording's end lets the code objects go."""
    import marshal

    monkeypatch.setattr(function_pickle, "_marshalled_codes", {})
    monkeypatch.setattr(function_pickle, "_loaded_codes", {})
    dumped, loaded = [], []
    dumps, loads = marshal.dumps, marshal.loads
    monkeypatch.setattr(marshal, "dumps", lambda code: dumped.append(code) or dumps(code))
    monkeypatch.setattr(marshal, "loads", lambda data: loaded.append(data) or loads(data))
    pairs = [_counter_pair() for _ in range(3)]
    rebuilt = [_round_trip(bump) for bump, _ in pairs]
    assert len(dumped) == 1 and len(loaded) == 1
    assert rebuilt[0].__code__ is rebuilt[2].__code__ is not pairs[0][0].__code__
    assert [bump(step) for step, bump in enumerate(rebuilt, start=1)] == [1, 2, 3]  # (cells of their own)
    serialise.forget_codes()
    assert not function_pickle._marshalled_codes and not function_pickle._loaded_codes


def test_the_codes_kept_are_bounded(monkeypatch) -> None:
    """Code made at run time (``exec``) is new at each call: the tables of codes do not
    grow past their bound."""
    monkeypatch.setattr(function_pickle, "_CODES_KEPT", 4)
    monkeypatch.setattr(function_pickle, "_marshalled_codes", {})
    monkeypatch.setattr(function_pickle, "_loaded_codes", {})
    for index in range(12):
        namespace: dict = {}
        exec(f"def made(x):\n    return x + {index}", namespace)
        assert _round_trip(namespace["made"])(1) == index + 1
        assert len(function_pickle._marshalled_codes) <= 4 and len(function_pickle._loaded_codes) <= 4


def test_a_sentinel_in_a_closure_stays_itself(factories, monkeypatch) -> None:
    """A module-level sentinel compared with ``is`` (``_MISSING = object()``) held by a
    closure is pickled by name: a copy would be another object."""
    monkeypatch.setattr(serialise, "_is_user_module", lambda module: module is factories)
    stored = serialise.encode(factories.defaulting())
    assert serialise.PICKLE_LOADER in repr(stored)
    assert serialise.decode(stored)() is factories._MISSING


def test_the_pickle_module_is_imported_with_the_first_function_stored_by_value() -> None:
    """Most recording runs store no function by value: their start does not pay for the
    pickle module (1.3 to 1.8 ms); the first lambda stored brings it, and decodes."""
    import subprocess

    program = (
        "import sys\n"
        "from cleanup_trace import serialise\n"
        "assert 'pickle' not in sys.modules, 'imported with the serialiser'\n"
        "serialise.encode({'a': [1, 'text']})\n"
        "assert 'pickle' not in sys.modules, 'imported by a plain value'\n"
        "offset = 3\n"
        "stored = serialise.encode(lambda x: x + offset)\n"
        "assert serialise.PICKLE_LOADER in repr(stored)\n"
        "assert serialise.decode(stored)(4) == 7\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True, timeout=60)
