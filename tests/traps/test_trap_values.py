"""Trap family: values. Decimal, Fraction, datetime, sets, tuples, NaN, bytes, objects without __eq__."""
from __future__ import annotations

import pytest


def test_values_behave_and_replay(trap) -> None:
    """Every value type is recorded and replays equal (NaN equals NaN, tuples stay tuples)."""
    for recording in trap.run("values", min_cases=20):
        cases = recording.cases()
        expected = {"values.add_tax", "values.halve", "values.shift", "values.weekday", "values.unique",
                    "values.frozen", "values.pair", "values.as_list", "values.ratio", "values.nan_inside",
                    "values.infinite", "values.flip", "values.deep", "values.mixed_keys", "values.convert",
                    "values.wallet", "values.complex_square", "values.Money.__init__"}
        assert set() == expected - set(cases), recording.result.errlines


def test_object_without_eq_mismatch_shows_a_readable_diff(trap) -> None:
    """Changing the code changes the state of a returned object: the diff names the attribute path."""
    trap.copy_app("values")
    recording = trap.record("values", "cli")
    source = (trap.pytester.path / "values.py").read_text()
    (trap.pytester.path / "values.py").write_text(source.replace('money.amount * rate, "EUR"',
                                                                  'money.amount * rate + 1, "EUR"'))
    result = trap.replay(recording, extra=("-k", "convert"))
    result.assert_outcomes(failed=1, deselected=result.parseoutcomes()["deselected"])
    result.stdout.fnmatch_lines(["*replayed value differs from the recorded one*", "*amount: 21 != 20*"])


def test_bytearray_is_recorded(trap) -> None:
    """A bytearray argument and return value are recorded and replay green."""
    for recording in trap.run("values", function="main_bytearray", activations=("cli",)):
        assert 2 == len(recording.cases().get("values.mutable_bytes", []))
