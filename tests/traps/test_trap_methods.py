"""Trap family: methods, descriptors, classes of every kind."""
from __future__ import annotations

import sys

import pytest

EXPECTED_FUNCTIONS = {
    "methods.Account.__init__", "methods.Account.deposit", "methods.Account.opened", "methods.Account.fee",
    "methods.Account.label", "methods.Account.label.setter", "methods.Account.__private",
    "methods.Account.doubled", "methods.Account.Audit.check", "methods.Account.Audit.Deep.level",
    "methods.Point.norm1", "methods.Point.moved", "methods.Item.total", "methods.Version.bump",
    "methods.Color.describe", "methods.Color.parse", "methods.Square.area",
    "methods.Shape.describe", "methods.Plugin.run", "methods.CsvPlugin.run", "methods.Base.greet",
    "methods.Child.greet",
} | ({"methods.Slotted.total"} if sys.version_info >= (3, 10) else set())


def test_methods_behave_and_replay(trap) -> None:
    """Instance/class/static methods, properties, slots, dataclasses, enums, ABCs, hooks."""
    for recording in trap.run("methods", min_cases=30):
        recorded = set(recording.cases())
        assert set() == EXPECTED_FUNCTIONS - recorded, recording.result.errlines
        # Implicit classmethods are never instrumented (transform-time skip).
        assert not any("__init_subclass__" in name or "__class_getitem__" in name for name in recorded)


def test_property_setter_records_the_value_before_the_call(trap) -> None:
    """The setter's recorded ``self`` is the object before assignment, the getter's after."""
    trap.copy_app("methods")
    cases = trap.record("methods", "cli").cases()
    [setter] = cases["methods.Account.label.setter"]
    assert "bob:40" == setter["call"]["args"][1]
    assert "ann" == setter["call"]["args"][0]["owner"]
    assert None is setter["outcome"]["returned"]


def test_attrs_classes_with_super(trap) -> None:
    """attrs slotted classes (attr.s(slots=True), attrs.define) keep super() working."""
    pytest.importorskip("attrs")
    for recording in trap.run("attrs_app", min_cases=6):
        assert {"attrs_app.Child.describe", "attrs_app.Base.describe", "attrs_app.Point3.norm1",
                "attrs_app.Point.norm1", "attrs_app.Point3.origin", "attrs_app.Frozen.shout"} <= set(recording.cases())


def test_slots_init_is_recorded(trap) -> None:
    """``Point.__init__`` (``__slots__``, nothing set yet) is recorded like any ``__init__``."""
    trap.copy_app("methods")
    recording = trap.record("methods", "cli")
    assert [] == [line for line in recording.events("call.skipped") if "Point.__init__" in line]
    assert "methods.Point.__init__" in recording.cases()
