"""Fixture goodies: a pytest-cases compatible ``fixture``/``fixture_union``/
``parametrize`` toolbox that works on current pytest.

This module only re-exports; the pytest hooks live in ``_plugin``.
"""
from ._exceptions import ExceptionCheckingError, InvalidIdTemplateException, InvalidParamsList, assert_exception
from ._fixture import fixture, ignore_unused, param_fixture, param_fixtures, unpack_fixture
from ._lazy import is_lazy, lazy_value
from ._parametrize import AUTO, parametrize
from ._refs import fixture_ref
from ._sentinels import NOT_USED
from ._union import fixture_union

__all__ = [
    "fixture",
    "unpack_fixture",
    "param_fixture",
    "param_fixtures",
    "fixture_union",
    "parametrize",
    "fixture_ref",
    "AUTO",
    "ignore_unused",
    "NOT_USED",
    "lazy_value",
    "is_lazy",
    "assert_exception",
    "ExceptionCheckingError",
    "InvalidParamsList",
    "InvalidIdTemplateException",
]
