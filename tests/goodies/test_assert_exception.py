"""assert_exception: the five kinds of ``expected`` and their messages."""
from __future__ import annotations

import re

import pytest

from cleanup_trace.goodies import ExceptionCheckingError, assert_exception


def test_type_instance_and_pattern_pass():
    """Type, anchored regex on repr, equal instance, validator all pass."""

    class E(Exception):
        def __eq__(self, other):
            return type(other) is E

    with assert_exception(ValueError) as target:
        raise ValueError("hello")
    assert None is target
    with assert_exception(r"Value"):
        raise ValueError("hello")
    with assert_exception(r"Keyboard"):
        raise KeyboardInterrupt()
    with assert_exception(E()):
        raise E()
    with assert_exception(lambda e: None):
        raise TypeError()


@pytest.mark.parametrize(
    "expected, raised, message",
    [
        (ValueError, TypeError("x"), "Caught exception TypeError('x') is not an instance of expected type <class 'ValueError'>"),
        (r"hello", ValueError("hello"), "Caught exception ValueError('hello') does not match expected pattern re.compile('hello')"),
        (ValueError("a"), ValueError("a"), "Caught exception ValueError('a') does not equal expected instance ValueError('a')"),
    ],
)
def test_check_failures(expected, raised, message):
    """Failed checks raise ExceptionCheckingError with the spec's message."""
    with pytest.raises(ExceptionCheckingError) as info:
        with assert_exception(expected):
            raise raised
    assert message == str(info.value)


def test_validator_false_and_no_raise():
    """Only a literal False fails a validator; no exception fails too."""
    with pytest.raises(ExceptionCheckingError, match=re.escape("is not valid according to <function")):
        with assert_exception(lambda e: False):
            raise TypeError()
    with pytest.raises(AssertionError) as info:
        with assert_exception(ValueError):
            pass
    assert "DID NOT RAISE any BaseException" == str(info.value)


def test_invalid_expected():
    """A non-callable, non-exception ``expected`` is refused up front."""
    with pytest.raises(ValueError) as info:
        with assert_exception(1):
            pass
    expected = ("ExpectedNormal error should either be an exception type, an exception instance,"
                " or an exception validation callable")
    assert expected == str(info.value)
