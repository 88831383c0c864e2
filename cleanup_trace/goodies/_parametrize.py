"""``@parametrize``: ``pytest.mark.parametrize`` plus fixture references,
lazy values, ``**kwargs`` style, ``idgen`` and ``idstyle``.

Without fixture references it is exactly a ``pytest.mark.parametrize`` mark.
With them, a fixture union is generated: one alternative per fixture
reference, per tuple containing references, and per run of plain values; the
decorated function is wrapped to receive the union's value under the
original argnames.
"""
from __future__ import annotations

import inspect
import itertools
import warnings
from typing import Any, Callable, List, Optional, Sequence, Tuple

import pytest

from . import _compat
from ._exceptions import InvalidIdTemplateException, InvalidParamsList
from ._ids import EMPTY_ID, id_to_str, render_value, render_values, resolve_ids
from ._lazy import LazyValue, resolve
from ._names import caller_namespace, unique_name
from ._refs import fixture_ref
from ._sentinels import NOT_USED
from ._union import UnionFixtureAlternative, UnionIdMakers, create_union
from ._wrapping import REQUEST, make_wrapper, new_function, request_is_inactive, signature_params

__all__ = ["parametrize", "AUTO"]


class _AutoIdgen(object):
    def __repr__(self) -> str:
        return "AUTO"


#: ``idgen=AUTO``: ids like ``a=1-b=x``.
AUTO = _AutoIdgen()
_DEFAULT = object()  # idgen not given: AUTO for **kwargs style, else pytest's ids


# ------------------------------------------------------------------ inputs


def _split_names(argnames: Any) -> List[str]:
    if isinstance(argnames, str):
        return [n.strip() for n in argnames.replace(" ", "").split(",") if n.strip()]
    if isinstance(argnames, (list, tuple)) and all(isinstance(n, str) for n in argnames):
        return list(argnames)
    raise TypeError("argnames should be a string or a list/tuple of strings, got %r" % (argnames,))


def _as_list(argvalues: Any) -> list:
    try:
        return list(argvalues)
    except Exception:
        raise InvalidParamsList(argvalues)


def _param_parts(value: Any) -> Tuple[Any, tuple, Optional[str], bool]:
    """(value, marks, id, was_param) with ``pytest.param`` unwrapped."""
    parts = _compat.pytest_param_parts(value)
    if parts is None:
        return value, (), None, False
    values, marks, pid = parts
    inner = values[0] if len(values) == 1 else tuple(values)
    return inner, tuple(marks), pid, True


def _combine_kwargs_style(names: List[str], values: Optional[list], args: dict) -> Tuple[List[str], list]:
    """``@parametrize(a=[..], **{"b,c": [..]})``: the cartesian product of the
    positional set then each keyword entry (first varies slowest)."""
    groups: List[Tuple[List[str], list]] = []
    if names:
        groups.append((names, values or []))
    for key, vals in args.items():
        groups.append((_split_names(key), _as_list(vals)))
    all_names = [n for g, _ in groups for n in g]
    combined = []
    for combo in itertools.product(*(vals for _, vals in groups)):
        flat: list = []
        marks: list = []
        for (g_names, _), raw in zip(groups, combo):
            inner, m, pid, _was = _param_parts(raw)
            if pid is not None:
                raise ValueError(
                    "It is not possible to specify a sub-param id when using the new"
                    " parametrization style. Either use the traditional style or customize all"
                    " ids at once in `idgen`"
                )
            marks.extend(m)
            if len(g_names) == 1:
                flat.append(inner)
            else:
                flat.extend(inner)
        if len(all_names) == 1:
            combined.append(pytest.param(flat[0], marks=marks) if marks else flat[0])
        else:
            combined.append(pytest.param(*flat, marks=marks) if marks else tuple(flat))
    return all_names, combined


def _auto_ref(value: Any) -> Any:
    """Fixture objects in argvalues become ``fixture_ref`` (auto_refs=True)."""
    if _compat.is_fixture(value):
        return fixture_ref(value)
    parts = _compat.pytest_param_parts(value)
    if parts is not None:
        values, marks, pid = parts
        new = [_auto_ref(v) for v in values]
        if any(a is not b for a, b in zip(new, values)):
            return pytest.param(*new, marks=marks, id=pid)
        return value
    if type(value) is tuple and any(_compat.is_fixture(v) for v in value):
        return tuple(fixture_ref(v) if _compat.is_fixture(v) else v for v in value)
    return value


def _has_ref(value: Any) -> bool:
    inner, _, _, _ = _param_parts(value)
    if isinstance(inner, fixture_ref):
        return True
    return type(inner) is tuple and any(isinstance(v, fixture_ref) for v in inner)


# --------------------------------------------------------------------- ids


def _idgen_id(idgen: Any, names: Sequence[str], values: Sequence[Any]) -> str:
    params = dict(zip(names, values))
    if idgen is AUTO:
        return "-".join("%s=%s" % (n, render_value(v, n, 0)) for n, v in params.items())
    if isinstance(idgen, str):
        try:
            return idgen.format(**params)
        except Exception as e:
            raise InvalidIdTemplateException(idgen, params, e)
    return str(idgen(**params))


def _values_tuple(names: Sequence[str], inner: Any) -> tuple:
    if len(names) == 1:
        return (inner,)
    if isinstance(inner, LazyValue):
        return tuple(inner.as_tuple_items(len(names)))
    if isinstance(inner, fixture_ref):
        return tuple(inner[i] for i in range(len(names)))
    return tuple(inner)


# ------------------------------------------------------------ plain marks


def _plain_mark(names, argvalues, indirect, ids, idgen, scope) -> Any:
    """No fixture reference: a regular parametrize mark (lazies kept)."""
    explicit = None
    if idgen is not None:
        explicit = []
        for raw in argvalues:
            inner, _, pid, _ = _param_parts(raw)
            explicit.append(pid if pid is not None else _idgen_id(idgen, names, _values_tuple(names, inner)))
    elif ids is not None and not callable(ids):
        explicit = [id_to_str(i) for i in resolve_ids(ids, argvalues)]
    new_values = []
    for i, raw in enumerate(argvalues):
        inner, marks, pid, was_param = _param_parts(raw)
        lazy_marks = inner.get_marks() if isinstance(inner, LazyValue) else ()
        if len(names) > 1 and isinstance(inner, LazyValue):
            # A lazy value standing for the whole tuple: one lazy item per name.
            lid = pid
            if lid is None and explicit is None and not callable(ids):
                lid = inner.get_id()
            new_values.append(pytest.param(*inner.as_tuple_items(len(names)), id=lid, marks=marks + lazy_marks))
        elif lazy_marks:
            new_values.append(pytest.param(*(_values_tuple(names, inner)), id=pid, marks=marks + lazy_marks))
        else:
            new_values.append(raw)
    final_ids: Any = ids if callable(ids) else explicit
    # A comma-joined string (not a list) keeps pytest's single-name semantics.
    return pytest.mark.parametrize(",".join(names), new_values, indirect=indirect, ids=final_ids, scope=scope)


# ---------------------------------------------------------- union version


class _ParamAlternative(UnionFixtureAlternative):
    """A union alternative generated by @parametrize; ``str`` shows where in
    the argvalues it comes from (used by ``idstyle=str``)."""

    def __init__(self, union_name, alternative_name, index, names_str, base_id, tag):
        super().__init__(union_name, alternative_name, index)
        self.names_str = names_str
        self.base_id = base_id
        self.tag = tag

    def get_alternative_id(self) -> str:
        return self.base_id

    def __str__(self) -> str:
        return "%s/%s/%s" % (self.names_str, self.tag, self.base_id)


def _style_id(idstyle: Any, alt: _ParamAlternative, group: bool) -> str:
    if idstyle is None or idstyle == "nostyle":
        return EMPTY_ID if group else alt.base_id
    if idstyle == "compact":
        return "/" + alt.base_id
    if idstyle == "explicit":
        return "%s/%s" % (alt.names_str, alt.base_id)
    if callable(idstyle):
        return idstyle(alt)
    return UnionIdMakers.get(idstyle)(alt)  # raises "Unknown style"


def _union_decorate(func, names, argvalues, ids, idgen, idstyle, scope, hook, namespace) -> Any:
    if inspect.isclass(func):
        raise NotImplementedError(
            "@parametrize can not be used to decorate a Test class when the argvalues contain at"
            " least one reference to a fixture."
        )
    if idstyle not in (None, "nostyle", "compact", "explicit") and not callable(idstyle):
        UnionIdMakers.get(idstyle)
    n = len(names)
    names_str = names[0] if n == 1 else "(%s)" % ",".join(names)
    base = "%s_%s" % (func.__name__, "_".join(names))
    scope = scope or "function"
    explicit = None
    if ids is not None:
        explicit = resolve_ids(ids, [_param_parts(v)[0] for v in argvalues])

    entries = [_param_parts(v) for v in argvalues]
    # Consecutive plain values are grouped into one parametrized fixture.
    runs: List[Tuple[int, int]] = []
    i = 0
    while i < len(entries):
        if _has_ref(argvalues[i]):
            runs.append((i, i))
            i += 1
            continue
        j = i
        while j + 1 < len(entries) and not _has_ref(argvalues[j + 1]):
            j += 1
        runs.append((i, j))
        i = j + 1

    def value_id(k: int) -> str:
        inner, _, pid, _ = entries[k]
        if pid is not None:
            return pid
        if explicit is not None and explicit[k] is not None:
            return id_to_str(explicit[k])
        if idgen is not None:
            return _idgen_id(idgen, names, _values_tuple(names, inner))
        if n > 1 and isinstance(inner, LazyValue):
            return inner.get_id()
        if n > 1 and type(inner) is tuple:
            return "-".join(
                v.get_name_for_id() if isinstance(v, fixture_ref) else render_value(v, nm, k)
                for nm, v in zip(names, inner)
            )
        if isinstance(inner, fixture_ref):
            return inner.get_name_for_id()
        return render_values(names, _values_tuple(names, inner), k)

    alternatives, alt_ids, alt_marks = [], [], []
    union_name = unique_name(namespace, base)
    for (i, j) in runs:
        inner, marks, pid, _ = entries[i]
        if i == j and _has_ref(argvalues[i]):
            lazy_marks = ()
            if isinstance(inner, fixture_ref):
                if n > 1:
                    inner.theoretical_size = n
                alt_name = inner.fixture
            else:
                alt_name = _product_fixture(namespace, "%s_P%d" % (base, i), names, inner, scope, hook)
            alt = _ParamAlternative(union_name, alt_name, i, names_str, value_id(i), "P%dF" % i)
            group = False
        elif i == j:
            lazy_marks = inner.get_marks() if isinstance(inner, LazyValue) else ()
            alt_name = _single_fixture(namespace, "%s_P%d" % (base, i), inner, scope, hook)
            alt = _ParamAlternative(union_name, alt_name, i, names_str, value_id(i), "P%d" % i)
            group = False
        else:
            lazy_marks = ()
            marks = ()
            group_params = []
            for k in range(i, j + 1):
                v_inner, v_marks, _, _ = entries[k]
                if isinstance(v_inner, LazyValue):
                    v_marks = tuple(v_marks) + v_inner.get_marks()
                group_params.append(pytest.param(v_inner, id=value_id(k), marks=v_marks))
            alt_name = _group_fixture(namespace, "%s_is_P%dtoP%d" % (base, i, j), group_params, scope, hook)
            alt = _ParamAlternative(union_name, alt_name, i, names_str, "P%d:%d" % (i, j + 1), "P%d:%d" % (i, j + 1))
            alt.base_id = "P%d:%d" % (i, j + 1)
            group = True
        if (pid is not None or (explicit is not None and explicit[i] is not None)) and not group:
            union_id = value_id(i)
        elif group:
            union_id = _style_id(idstyle, alt, True)
            if callable(idstyle) and idstyle is str:
                union_id = "%s/P%d:%d/" % (names_str, i, j + 1)
        else:
            union_id = _style_id(idstyle, alt, False)
        alternatives.append(alt)
        alt_ids.append(union_id)
        alt_marks.append(tuple(marks) + tuple(lazy_marks))

    union_fix = create_union(namespace, union_name, alternatives, alt_ids, alt_marks, scope, False, hook, {}, register_it=False)
    namespace[union_name] = union_fix
    return _wrap_function(func, names, union_name)


def _single_fixture(namespace, name, value, scope, hook) -> str:
    name = unique_name(namespace, name)

    def body(kw: dict) -> Any:
        if request_is_inactive(kw[REQUEST]):
            return NOT_USED
        return resolve(value, kw[REQUEST])

    func = new_function(name, [REQUEST], body, module=namespace.get("__name__"))
    if hook is not None:
        func = hook(func)
    namespace[name] = pytest.fixture(scope=scope, name=name)(func)
    return name


def _group_fixture(namespace, name, params, scope, hook) -> str:
    name = unique_name(namespace, name)

    def body(kw: dict) -> Any:
        request = kw[REQUEST]
        if request_is_inactive(request):
            return NOT_USED
        return resolve(request.param, request)

    func = new_function(name, [REQUEST], body, module=namespace.get("__name__"))
    if hook is not None:
        func = hook(func)
    namespace[name] = pytest.fixture(scope=scope, name=name, params=params)(func)
    return name


def _product_fixture(namespace, name, names, values, scope, hook) -> str:
    name = unique_name(namespace, name)
    refs = []
    for v in values:
        if isinstance(v, fixture_ref) and v.fixture not in refs:
            refs.append(v.fixture)

    def body(kw: dict) -> Any:
        request = kw[REQUEST]
        if request_is_inactive(request):
            return NOT_USED
        return tuple(kw[v.fixture] if isinstance(v, fixture_ref) else resolve(v, request) for v in values)

    func = new_function(name, refs + [REQUEST], body, module=namespace.get("__name__"))
    if hook is not None:
        func = hook(func)
    namespace[name] = pytest.fixture(scope=scope, name=name)(func)
    return name


def _wrap_function(func: Callable[..., Any], names: List[str], union_name: str) -> Callable[..., Any]:
    """``func`` with ``names`` replaced by ``union_name`` (at the first one's
    position); the union value is unpacked back into ``names`` at call."""
    original = signature_params(func)
    new_params = []
    inserted = False
    for p in original:
        if p.name in names:
            if not inserted:
                new_params.append(p.replace(name=union_name, default=inspect.Parameter.empty))
                inserted = True
            continue
        new_params.append(p)

    def prepare(args: tuple, kwargs: dict):
        kwargs = dict(kwargs)
        value = kwargs.pop(union_name)
        if len(names) == 1:
            kwargs[names[0]] = value
        elif value is NOT_USED:
            kwargs.update((nm, NOT_USED) for nm in names)
        else:
            kwargs.update(zip(names, value))
        return args, kwargs

    wrapper = make_wrapper(func, new_params, prepare)
    for key, val in vars(func).items():
        if key not in ("__wrapped__", "__signature__"):
            setattr(wrapper, key, val)
    return wrapper


# --------------------------------------------------------------- decorator


def parametrize(
    argnames: Any = None,
    argvalues: Any = None,
    indirect: bool = False,
    ids: Any = None,
    idstyle: Any = None,
    idgen: Any = _DEFAULT,
    auto_refs: bool = True,
    scope: Optional[str] = None,
    hook: Optional[Callable[[Any], Any]] = None,
    debug: bool = False,
    **args: Any,
) -> Callable[[Any], Any]:
    """``pytest.mark.parametrize`` that also accepts ``fixture_ref`` /
    fixtures and ``lazy_value`` in ``argvalues``, the ``**args`` style
    (``@parametrize(a=[1, 2])``), ``idgen`` and ``idstyle``."""
    namespace = caller_namespace()
    if argnames is not None:
        names = _split_names(argnames)
        values = _as_list(argvalues)
    else:
        names, values = [], None
    if args:
        names, values = _combine_kwargs_style(names, values, args)
    elif argnames is None:
        raise ValueError("No parameters were provided to @parametrize")
    values = list(values or [])
    if auto_refs:
        values = [_auto_ref(v) for v in values]
    has_refs = any(_has_ref(v) for v in values)
    if idgen is not _DEFAULT and idgen is not None and ids is not None:
        raise ValueError("Only one of `ids` and `idgen` should be provided")
    if idgen is _DEFAULT:
        idgen = AUTO if (args and not has_refs and ids is None) else None

    if has_refs and indirect:
        warnings.warn(
            "Using `indirect=True` with fixture references in @parametrize", UserWarning, stacklevel=2
        )
        raise ValueError(
            "Setting `indirect=True` is not yet supported when at least a `fixure_ref` is present"
            " in the `argvalues`."
        )

    def decorate(func: Any) -> Any:
        if not inspect.isclass(func) and not indirect:
            known = {p.name for p in signature_params(func)}
            for name in names:
                if name not in known:
                    raise ValueError(
                        "parameter '%s' not found in test function signature '%s%s'"
                        % (name, func.__name__, inspect.signature(func))
                    )
        if not has_refs:
            return _plain_mark(names, values, indirect, ids, idgen, scope)(func)
        return _union_decorate(func, names, values, ids, idgen, idstyle, scope, hook, namespace)

    return decorate
