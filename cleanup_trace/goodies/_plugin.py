"""pytest plugin of the fixture goodies (entry point ``cleanup_trace_goodies``).

Cheap to import and inert for runs that never create a fixture union or a
lazy value: every hook first checks a process-wide flag set by the goodies'
constructors (test modules are imported in each xdist worker, so the flags
are right there too). The only unconditional effect is the
``--with-reorder`` option, whose default does nothing.
"""
from __future__ import annotations

from typing import Any, Generator, List

import pytest

from ._registry import STATE

REORDER_CHOICES = ("normal", "skip")
REORDER_KEY = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pytest-cases ordering", "pytest-cases ordering")
    group.addoption(
        "--with-reorder",
        action="store",
        dest="with_reorder",
        default="normal",
        metavar="{normal,skip}",
        help="'normal' (default) lets pytest and plugins reorder the collected tests;"
        " 'skip' restores the order the tests had before any reordering.",
    )


def pytest_configure(config: pytest.Config) -> None:
    value = config.getoption("with_reorder", default="normal")
    if value not in REORDER_CHOICES:
        raise ValueError(
            "[pytest-cases] Wrong --with_reorder option: %s. Allowed values: %s"
            % (value, REORDER_CHOICES)
        )
    config.stash[REORDER_KEY] = value


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: List[pytest.Item]
) -> Generator[None, Any, Any]:
    if config.stash.get(REORDER_KEY, "normal") != "skip":
        return (yield)
    original = list(items)
    result = yield
    # Keep what the other implementations removed (deselection) removed,
    # but undo their reordering.
    kept = {id(item) for item in items}
    known = {id(item) for item in original}
    items[:] = [item for item in original if id(item) in kept] + [
        item for item in items if id(item) not in known
    ]
    return result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> Generator[None, Any, Any]:
    if not STATE.unions_created:
        return (yield)
    from . import _generate

    if not _generate.has_union(metafunc):
        return (yield)
    steps = _generate.start_recording(metafunc)
    try:
        result = yield
    finally:
        _generate.stop_recording(metafunc)
    _generate.apply_steps(metafunc, steps)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, Any, Any]:
    result = yield
    if STATE.lazies_created:
        from ._lazy import is_lazy, resolve

        funcargs = getattr(item, "funcargs", None)
        if funcargs:
            for name, value in list(funcargs.items()):
                if is_lazy(value) or (type(value) is tuple and any(is_lazy(v) for v in value)):
                    funcargs[name] = resolve(value, item)
    return result


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> Any:
    if STATE.lazies_created:
        from ._lazy import is_lazy

        if is_lazy(val):
            return val.get_id()  # type: ignore[attr-defined]
    return None
