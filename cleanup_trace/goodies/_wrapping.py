"""Build functions with a chosen signature around user functions.

pytest reads fixture/test arguments with ``inspect.signature``, which honours
``__signature__``; so a ``*args, **kwargs`` wrapper carrying the wanted
signature is enough (no source generation). The wrapper keeps the flavour of
the wrapped function (plain, generator, coroutine, async generator) because
pytest and async plugins decide how to call a fixture from that flavour.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, List, Optional, Sequence, Tuple

from ._sentinels import NOT_USED

Prepared = Optional[Tuple[tuple, dict]]  # None means "inactive: give NOT_USED"

REQUEST = "request"


def check_names(names: Sequence[str]) -> None:
    """Fixture names end up as parameter names: they must be identifiers."""
    for n in names:
        if not isinstance(n, str) or not n.isidentifier():
            raise SyntaxError("%r is not a valid fixture/parameter name" % (n,))


def parameters(names: Sequence[str]) -> List[inspect.Parameter]:
    check_names(names)
    return [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]


def add_request_last(params: List[inspect.Parameter]) -> Tuple[List[inspect.Parameter], bool]:
    """``params`` with ``request`` added last if absent (issue #182: ``self``
    must stay first). Returns (new params, whether it was added)."""
    if any(p.name == REQUEST for p in params):
        return list(params), False
    out = list(params)
    kinds = {p.kind for p in out}
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    if inspect.Parameter.VAR_POSITIONAL in kinds or inspect.Parameter.KEYWORD_ONLY in kinds:
        kind = inspect.Parameter.KEYWORD_ONLY
    req = inspect.Parameter(REQUEST, kind)
    if out and out[-1].kind is inspect.Parameter.VAR_KEYWORD:
        out.insert(len(out) - 1, req)
    else:
        out.append(req)
    return out, True


def without(params: Sequence[inspect.Parameter], names: Sequence[str]) -> List[inspect.Parameter]:
    drop = set(names)
    return [p for p in params if p.name not in drop]


def signature_params(func: Callable[..., Any]) -> List[inspect.Parameter]:
    return list(inspect.signature(func).parameters.values())


def make_wrapper(
    template: Callable[..., Any],
    params: Sequence[inspect.Parameter],
    prepare: Callable[[tuple, dict], Prepared],
    call: Optional[Callable[..., Any]] = None,
    name: Optional[str] = None,
) -> Callable[..., Any]:
    """A function with signature ``params`` that calls ``call`` (default:
    ``template``) with the arguments ``prepare`` returns, or gives ``NOT_USED``
    without calling anything when ``prepare`` returns None."""
    target = call if call is not None else template

    if inspect.isasyncgenfunction(template):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            prepared = prepare(args, kwargs)
            if prepared is None:
                yield NOT_USED
                return
            async for value in target(*prepared[0], **prepared[1]):
                yield value

    elif inspect.iscoroutinefunction(template):

        async def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            prepared = prepare(args, kwargs)
            if prepared is None:
                return NOT_USED
            return await target(*prepared[0], **prepared[1])

    elif inspect.isgeneratorfunction(template):

        def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            prepared = prepare(args, kwargs)
            if prepared is None:
                yield NOT_USED
                return
            return (yield from target(*prepared[0], **prepared[1]))

    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
            prepared = prepare(args, kwargs)
            if prepared is None:
                return NOT_USED
            return target(*prepared[0], **prepared[1])

    wrapper.__name__ = name or template.__name__
    wrapper.__qualname__ = getattr(template, "__qualname__", wrapper.__name__)
    if name is not None and name != template.__name__:
        wrapper.__qualname__ = name
    wrapper.__module__ = getattr(template, "__module__", None)
    wrapper.__doc__ = getattr(template, "__doc__", None)
    wrapper.__signature__ = inspect.Signature(list(params))  # type: ignore[attr-defined]
    wrapper.__wrapped__ = template  # type: ignore[attr-defined]
    return wrapper


def new_function(
    name: str,
    argnames: Sequence[str],
    body: Callable[[dict], Any],
    module: Optional[str] = None,
) -> Callable[..., Any]:
    """A plain function ``name(*argnames)`` returning ``body(kwargs)`` (used
    for fixtures generated from scratch: unions, unpacked items...)."""
    params = parameters(argnames)

    def generated(*args: Any, **kwargs: Any) -> Any:
        # pytest passes fixture arguments by name; a positional argument can
        # only be the bound ``self`` of an ``in_cls=True`` fixture: ignored.
        return body(kwargs)

    generated.__name__ = name
    generated.__qualname__ = name
    if module is not None:
        generated.__module__ = module
    generated.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return generated


def request_is_inactive(request: Any) -> bool:
    """True when a union branch does not need the fixture of ``request``."""
    return getattr(request, "param", None) is NOT_USED
