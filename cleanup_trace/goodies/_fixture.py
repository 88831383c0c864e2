"""``@fixture``, ``ignore_unused``, ``unpack_fixture``, ``param_fixture(s)``."""
from __future__ import annotations

import inspect
from typing import Any, Callable, List, Optional, Sequence, Union

import pytest

from . import _compat
from ._fixture_params import CombinedFixtureParamValue, combined_params, split_argnames
from ._ids import resolve_ids
from ._lazy import LazyValue, resolve
from ._names import caller_namespace, register, unique_name
from ._wrapping import (
    REQUEST,
    add_request_last,
    check_names,
    make_wrapper,
    new_function,
    request_is_inactive,
    signature_params,
    without,
)
from ._sentinels import NOT_USED

__all__ = ["fixture", "ignore_unused", "unpack_fixture", "param_fixture", "param_fixtures"]


def _apply_hook(hook: Optional[Callable[[Any], Any]], func: Any) -> Any:
    return hook(func) if hook is not None else func


# ---------------------------------------------------------------- ignore_unused


def ignore_unused(fixture_func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a fixture function so it is not called (and gives ``NOT_USED``)
    when a fixture union branch does not use it. Put ``@pytest.fixture``
    above it. ``request`` is added as last parameter if missing."""
    params, added = add_request_last(signature_params(fixture_func))

    def prepare(args: tuple, kwargs: dict):
        if request_is_inactive(kwargs.get(REQUEST)):
            return None
        if added:
            kwargs = dict(kwargs)
            del kwargs[REQUEST]
        return args, kwargs

    return make_wrapper(fixture_func, params, prepare)


# --------------------------------------------------------------------- fixture


def _is_dynamic_scope(obj: Any) -> bool:
    """A callable given as ``scope`` is a pytest dynamic scope only if it
    takes ``(fixture_name, config)``; otherwise ``@fixture`` was used bare."""
    try:
        names = list(inspect.signature(obj).parameters)
    except (TypeError, ValueError):
        return False
    return names == ["fixture_name", "config"]


def fixture(
    scope: Any = "function",
    autouse: bool = False,
    name: Optional[str] = None,
    unpack_into: Any = None,
    hook: Optional[Callable[[Any], Any]] = None,
    **kwargs: Any,
) -> Any:
    """``pytest.fixture`` that also understands parametrize marks placed
    under it, ``unpack_into=``, ``hook=``, and fixture unions (the function is
    not called when the current union branch does not use it)."""
    if callable(scope) and not isinstance(scope, str) and not _is_dynamic_scope(scope):
        return _decorate(scope, "function", autouse, name, unpack_into, hook, kwargs, caller_namespace())
    namespace = caller_namespace()

    def decorator(func: Callable[..., Any]) -> Any:
        return _decorate(func, scope, autouse, name, unpack_into, hook, kwargs, namespace)

    return decorator


def _decorate(func, scope, autouse, name, unpack_into, hook, kwargs, namespace) -> Any:
    kwargs = dict(kwargs)
    fixture_name = name or func.__name__
    if unpack_into is not None:
        # Created first, by name: hook order is [unpacked..., main] and the
        # unpacked fixtures are function-scoped whatever the main scope.
        _unpack(namespace, unpack_into, fixture_name, "function", False, False, hook)

    marks = [m for m in _compat.marks_of(func) if getattr(m, "name", None) == "parametrize"]
    if marks:
        if "params" in kwargs:
            raise ValueError(
                "With `fixture` you cannot mix usage of the keyword argument `params` and of"
                " the pytest.mark.parametrize marks"
            )
        # pytest >= 8 refuses marks on fixtures: drop them all (as pytest-cases does).
        try:
            del func.pytestmark
        except AttributeError:  # pragma: no cover
            pass
        wrapper, params = _parametrized_wrapper(func, marks)
        kwargs["params"] = params
    else:
        wrapper = ignore_unused(func)
        if "ids" in kwargs and "params" in kwargs and kwargs["ids"] is not None and not callable(kwargs["ids"]):
            kwargs["params"] = list(kwargs["params"])
            kwargs["ids"] = resolve_ids(kwargs["ids"], kwargs["params"])
    wrapper = _apply_hook(hook, wrapper)
    return pytest.fixture(scope=scope, autouse=autouse, name=name, **kwargs)(wrapper)


def _parametrized_wrapper(func: Callable[..., Any], marks: Sequence[Any]):
    all_names, params = combined_params(marks)
    flat = [n for names in all_names for n in names]
    original = signature_params(func)
    known = {p.name for p in original}
    for n in flat:
        if n not in known:
            raise ValueError(
                "parameter '%s' not found in fixture signature '%s%s'"
                % (n, func.__name__, inspect.signature(func))
            )
    exposed, added = add_request_last(without(original, flat))
    n_marks = len(all_names)

    def prepare(args: tuple, kwargs: dict):
        request = kwargs[REQUEST]
        param = getattr(request, "param", None)
        if param is NOT_USED:
            return None
        if isinstance(param, CombinedFixtureParamValue):
            per_mark = param.values
        elif n_marks == 1:
            # Indirect parametrization from a test: a raw value for the only mark.
            per_mark = [(param,) if len(all_names[0]) == 1 else tuple(param)]
        else:
            if not isinstance(param, tuple) or len(param) != n_marks:
                raise TypeError(
                    "Fixture %r is parametrized by %d marks: an indirect parameter must be a"
                    " tuple with one entry per mark, got %r" % (func.__name__, n_marks, param)
                )
            per_mark = [(v,) if len(names) == 1 else tuple(v) for names, v in zip(all_names, param)]
        call_kwargs = dict(kwargs)
        if added:
            del call_kwargs[REQUEST]
        for names, values in zip(all_names, per_mark):
            for n, v in zip(names, values):
                call_kwargs[n] = resolve(v, request)
        return args, call_kwargs

    return make_wrapper(func, exposed, prepare), params


# -------------------------------------------------------------- unpack_fixture


def _argnames_list(argnames: Any) -> List[str]:
    if isinstance(argnames, str):
        return [n.strip() for n in argnames.split(",") if n.strip()]
    return list(argnames)


def _unpack(namespace, argnames, source_name, scope, autouse, in_cls, hook, **kwargs) -> list:
    names = _argnames_list(argnames)
    check_names(names)
    created = []
    for i, name in enumerate(names):
        argspec = (["self"] if in_cls else []) + [source_name, REQUEST]

        def body(kw: dict, _i: int = i) -> Any:
            if request_is_inactive(kw[REQUEST]):
                return NOT_USED
            return kw[source_name][_i]

        func = new_function(name, argspec, body, module=namespace.get("__name__"))
        func = _apply_hook(hook, func)
        fix = pytest.fixture(scope=scope, autouse=autouse, name=name, **kwargs)(func)
        if not in_cls:
            register(namespace, name, fix)
        created.append(fix)
    return created


def unpack_fixture(argnames: Any, fixture: Any, in_cls: bool = False, hook: Optional[Callable[[Any], Any]] = None) -> list:
    """One fixture per name in ``argnames`` returning the item of the same
    index of ``fixture``'s value (a fixture object or a fixture name)."""
    if isinstance(fixture, str):
        source, scope = fixture, "function"
    else:
        source, scope = _compat.fixture_name(fixture), _compat.fixture_scope(fixture)
    return _unpack(caller_namespace(), argnames, source, scope, False, in_cls, hook)


# ------------------------------------------------------------- param_fixture(s)


def _lazy_marks(argvalues: Sequence[Any]) -> list:
    """pytest only sees marks in ``pytest.param``: surface lazy-value marks."""
    out = []
    for v in argvalues:
        if isinstance(v, LazyValue) and v.get_marks():
            out.append(pytest.param(v, marks=v.get_marks()))
        else:
            out.append(v)
    return out


def _create_param_fixture(namespace, argname, argvalues, autouse, ids, scope, hook, kwargs) -> Any:
    argvalues = _lazy_marks(list(argvalues))
    if ids is not None and not callable(ids):
        ids = resolve_ids(ids, argvalues)

    def body(kw: dict) -> Any:
        return resolve(kw[REQUEST].param, kw[REQUEST])

    func = new_function(argname, [REQUEST], body, module=namespace.get("__name__"))
    func = _apply_hook(hook, func)
    fix = pytest.fixture(scope=scope, autouse=autouse, name=argname, params=argvalues, ids=ids, **kwargs)(func)
    register(namespace, argname, fix)
    return fix


def param_fixture(
    argname: str,
    argvalues: Any,
    autouse: bool = False,
    ids: Any = None,
    scope: str = "function",
    hook: Optional[Callable[[Any], Any]] = None,
    debug: bool = False,
    **kwargs: Any,
) -> Any:
    """A fixture named ``argname`` taking each of ``argvalues`` in turn."""
    if "," in argname:
        raise ValueError(
            "`param_fixture` is an alias for `param_fixtures` that can only be used for a single"
            " parameter name. Use `param_fixtures` instead - but note that it creates several"
            " fixtures."
        )
    if len(argname.strip()) == 0:
        raise ValueError("empty argname")
    return _create_param_fixture(caller_namespace(), argname.strip(), argvalues, autouse, ids, scope, hook, kwargs)


def param_fixtures(
    argnames: Any,
    argvalues: Any,
    autouse: bool = False,
    ids: Any = None,
    scope: str = "function",
    hook: Optional[Callable[[Any], Any]] = None,
    debug: bool = False,
    **kwargs: Any,
) -> Union[Any, list]:
    """One fixture per name of ``argnames``, parametrized together like
    ``@pytest.mark.parametrize(argnames, argvalues, ids=ids)``."""
    namespace = caller_namespace()
    names = list(split_argnames(argnames))
    if len(names) == 0:
        raise ValueError("empty argnames")
    if len(names) == 1:
        return _create_param_fixture(namespace, names[0], argvalues, autouse, ids, scope, hook, kwargs)

    root_name = unique_name(namespace, "%s__param_fixtures_root" % "_".join(sorted(names)))

    def body(kw: dict) -> Any:
        return tuple(kw[n] for n in names)

    root = new_function(root_name, names, body, module=namespace.get("__name__"))
    root = pytest.mark.parametrize(names, list(argvalues), ids=ids)(root)
    wrapper, params = _parametrized_wrapper(root, _compat.marks_of(root))
    del root.pytestmark
    wrapper = _apply_hook(hook, wrapper)
    root_fix = pytest.fixture(scope=scope, autouse=autouse, name=root_name, params=params, **kwargs)(wrapper)
    namespace[root_name] = root_fix
    return _unpack(namespace, names, root_name, scope, autouse, False, hook, **kwargs)
