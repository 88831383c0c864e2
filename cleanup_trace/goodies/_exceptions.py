"""Exceptions of the goodies and the ``assert_exception`` context manager."""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Any, Callable, Iterator

__all__ = [
    "assert_exception",
    "ExceptionCheckingError",
    "InvalidParamsList",
    "InvalidIdTemplateException",
]


class InvalidParamsList(Exception):
    """``argvalues`` given to ``@parametrize`` cannot be turned into a list."""

    __slots__ = ("params",)

    def __init__(self, params: Any) -> None:
        self.params = params
        super().__init__(params)

    def __str__(self) -> str:
        return (
            "Invalid parameters list (`argvalues`) in pytest parametrize. `list(argvalues)`"
            " returned an error. Please make sure that `argvalues` is a list, tuple or"
            " iterable : %r" % (self.params,)
        )


class InvalidIdTemplateException(Exception):
    """An ``idgen`` template could not be formatted with the parameters."""

    def __init__(self, idgen: Any, params: dict, caught: BaseException) -> None:
        self.idgen = idgen
        self.params = params
        self.caught = caught
        super().__init__(idgen, params, caught)

    def __str__(self) -> str:
        return "Error generating test id using name template '%s' with parameter values %r:" " %r" % (
            self.idgen, self.params, self.caught)


class ExceptionCheckingError(AssertionError):
    """The caught exception does not satisfy ``assert_exception``'s check."""


def _make_check(expected: Any) -> Callable[[BaseException], None]:
    """The validation applied to the caught exception, chosen once up front."""
    if type(expected) is type and issubclass(expected, BaseException):

        def check(caught: BaseException) -> None:
            if not isinstance(caught, expected):
                raise ExceptionCheckingError(
                    "Caught exception %r is not an instance of expected type %r" % (caught, expected)
                )

    elif isinstance(expected, str):
        pattern = re.compile(expected)

        def check(caught: BaseException) -> None:
            if not isinstance(caught, BaseException) or pattern.match(repr(caught)) is None:
                raise ExceptionCheckingError(
                    "Caught exception %r does not match expected pattern %r" % (caught, pattern)
                )

    elif isinstance(expected, BaseException):

        def check(caught: BaseException) -> None:
            if not isinstance(caught, type(expected)) or not (caught == expected):
                raise ExceptionCheckingError(
                    "Caught exception %r does not equal expected instance %r" % (caught, expected)
                )

    elif callable(expected):

        def check(caught: BaseException) -> None:
            # Only a literal False fails: validators often return None.
            if expected(caught) is False:
                raise ExceptionCheckingError(
                    "Caught exception %r is not valid according to %r" % (caught, expected)
                )

    else:
        raise ValueError(
            "ExpectedNormal error should either be an exception type, an exception instance, or"
            " an exception validation callable"
        )
    return check


@contextmanager
def assert_exception(expected: Any) -> Iterator[None]:
    """Like ``pytest.raises`` but ``expected`` may be an exception type, a
    regex matched against ``repr(caught)``, an exception instance compared
    with ``==``, or a validation callable (only ``False`` fails)."""
    check = _make_check(expected)
    try:
        yield
    except BaseException as caught:
        check(caught)
    else:
        raise AssertionError("DID NOT RAISE any BaseException")
