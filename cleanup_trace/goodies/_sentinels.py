"""``NOT_USED`` / ``USED``: what a fixture receives as ``request.param`` when a
fixture union branch does (not) need it."""
from __future__ import annotations

__all__ = ["NOT_USED", "USED"]


class _Marker(object):
    """A named singleton; its repr is the one pytest-cases users know."""

    __slots__ = ("_repr",)

    def __init__(self, text: str) -> None:
        self._repr = text

    def __repr__(self) -> str:
        return self._repr

    __str__ = __repr__

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        # Keep identity across pickling (pytest-xdist sends nothing of this,
        # but user code may pickle fixture values).
        return "NOT_USED" if self is NOT_USED else "USED"


NOT_USED = _Marker("pytest_cases.NOT_USED")
USED = _Marker("pytest_cases.USED")
