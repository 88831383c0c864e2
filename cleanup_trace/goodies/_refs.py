"""``fixture_ref``: a fixture standing for a parameter value."""
from __future__ import annotations

from typing import Any, Optional

from . import _compat

__all__ = ["fixture_ref"]


class fixture_ref(object):  # noqa: N801 - public name kept from pytest-cases
    """Reference to a fixture (object or name) usable in ``@parametrize``
    argvalues: the test then receives the fixture's value."""

    __slots__ = ("fixture", "_id", "theoretical_size")

    def __init__(self, fixture: Any, id: Optional[str] = None) -> None:
        if isinstance(fixture, str):
            self.fixture = fixture
        elif _compat.is_fixture(fixture):
            self.fixture = _compat.fixture_name(fixture)
        else:
            raise ValueError(
                "The provided fixture function does not seem to be a fixture: %s. Did you"
                " properly decorate it ?" % (fixture,)
            )
        self._id = id
        # Set by @parametrize when the reference stands for a whole tuple.
        self.theoretical_size: Optional[int] = None

    def get_name_for_id(self) -> str:
        return self._id if self._id is not None else self.fixture

    def __str__(self) -> str:
        return self.get_name_for_id()

    def __repr__(self) -> str:
        return "fixture_ref<%s>" % self.fixture

    def __len__(self) -> int:
        if self.theoretical_size is None:
            raise TypeError(
                "fixture_ref %r has no length: it is only known once @parametrize used it for"
                " several argnames" % self.fixture
            )
        return self.theoretical_size

    def __getitem__(self, item: int) -> "FixtureRefItem":
        if not isinstance(item, int) or not 0 <= item < len(self):
            raise IndexError(item)
        return FixtureRefItem(self, item)


class FixtureRefItem(object):
    """Item ``item`` of the tuple a ``fixture_ref`` will provide."""

    __slots__ = ("host", "item")

    def __init__(self, host: fixture_ref, item: int) -> None:
        self.host = host
        self.item = item

    def __repr__(self) -> str:
        return "%r[%d]" % (self.host, self.item)
