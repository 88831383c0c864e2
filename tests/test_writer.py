"""The writer's own contract: what it writes when, and within which limits."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cleanup_trace import writer
from cleanup_trace.writer import DataWriter

HEADER = {"format": 1, "module": "app", "qualname": "f", "role": "", "async": False, "generator": False}


def _case(number: int) -> dict:
    return {"call": {"args": [number, "x" * 200], "kwargs": {}}, "outcome": {"returned": number}}


def test_deferred_cases_are_written_once_at_flush(tmp_path: Path) -> None:
    writer = DataWriter(tmp_path, 0)
    writer.defer()
    assert ["written"] * 3 == [writer.accept(HEADER, _case(number)) for number in range(3)]
    assert [] == list(tmp_path.rglob("*.json"))  # nothing until the flush
    writer.flush()
    (path,) = tmp_path.rglob("*.json")
    assert [0, 1, 2] == [case["outcome"]["returned"] for case in json.loads(path.read_text())["cases"]]
    assert (3, {path}) == (writer.cases_written, writer.written)
    modified = path.stat().st_mtime_ns
    writer.flush()  # nothing new: not rewritten
    assert modified == path.stat().st_mtime_ns


def test_deferred_writes_keep_the_file_size_limit(tmp_path: Path) -> None:
    eager, deferred = DataWriter(tmp_path / "eager", 2000), DataWriter(tmp_path / "deferred", 2000)
    deferred.defer()
    outcomes = [[writer.accept(HEADER, _case(number)) for number in range(10)] for writer in (eager, deferred)]
    assert outcomes[0] == outcomes[1] and "data file size limit" in outcomes[0]
    deferred.flush()
    (path,) = (tmp_path / "deferred").rglob("*.json")
    assert path.stat().st_size <= 2000
    assert path.read_text() == next((tmp_path / "eager").rglob("*.json")).read_text()


def test_a_failed_deferred_write_drops_its_cases(tmp_path: Path) -> None:
    """Nothing counted that is not on disk: the cases of a file that cannot be written are
    dropped (and may be accepted again), whatever happened."""
    blocked = tmp_path / "data"
    blocked.write_text("a file where the data directory should be")
    writer = DataWriter(blocked, 0)
    writer.defer()
    assert ["written", "written"] == [writer.accept(HEADER, _case(number)) for number in range(2)]
    writer.flush()
    assert (0, set()) == (writer.cases_written, writer.written)
    assert "written" == writer.accept(HEADER, _case(0))  # not "already in an earlier data file"
    assert 0 == writer.retract(HEADER) - 1 and 0 == writer.cases_written


def test_a_released_writer_keeps_what_is_unwritten_and_then_writes_a_new_file(tmp_path: Path) -> None:
    writer = DataWriter(tmp_path, 0)
    writer.defer()
    writer.accept(HEADER, _case(0))
    writer.flush()
    writer.accept(HEADER, _case(1))
    writer.release()  # (case 1 is not written yet: its file stays)
    writer.flush()
    (first,) = tmp_path.rglob("*.json")
    assert [0, 1] == [case["outcome"]["returned"] for case in json.loads(first.read_text())["cases"]]
    writer.release()
    assert ["already in an earlier data file", "written"] == [writer.accept(HEADER, _case(n)) for n in (1, 2)]
    writer.flush()
    assert ["f-00.json", "f-01.json"] == sorted(path.name for path in tmp_path.rglob("*.json"))
    assert [2] == [case["outcome"]["returned"]
                   for case in json.loads((first.parent / "f-01.json").read_text())["cases"]]


def test_a_modules_folder_is_listed_once_for_its_functions_first_cases(tmp_path: Path, monkeypatch) -> None:
    """The earlier files of each function are looked for at its first case: one listing
    of its module's folder serves the module's other functions for a moment; a file
    another run wrote is seen (a case already in it is not written again)."""
    earlier = DataWriter(tmp_path, 0)
    earlier.accept(dict(HEADER, qualname="g"), _case(1))
    listed = []
    monkeypatch.setattr(writer, "_listdir", lambda folder: listed.append(folder) or os.listdir(folder))
    later = DataWriter(tmp_path, 0)
    later.defer()
    outcomes = [later.accept(dict(HEADER, qualname=name), _case(1)) for name in ("f", "g", "h")]
    assert ["written", "already in an earlier data file", "written"] == outcomes and len(listed) == 1
    monkeypatch.setattr(writer, "FOLDER_LISTING_SECONDS", -1.0)
    later.accept(dict(HEADER, qualname="k"), _case(1))
    assert len(listed) == 2


def test_a_file_is_laid_out_as_indented_json_with_each_case_as_rendered() -> None:
    """The header is written by the C encoder; the layout is ``json.dumps(indent=2)``'s."""
    from cleanup_trace.writer import _CASES_SLOT, render, render_case

    header = dict(HEADER, note="é\n\"quoted\"", ratio=1.5, missing=None, nan=float("nan"))
    cases = [_case(1), {"call": {"args": [], "kwargs": {"k": [1, {"a": None}]}}, "outcome": {"raised": "E"}}]
    for chosen in ([], cases):
        body = "[\n" + ",\n".join(map(render_case, chosen)) + "\n  ]" if chosen else "[]"
        document = {key: value for key, value in sorted(dict(header, cases=_CASES_SLOT).items())}
        expected = json.dumps(document, indent=2).replace(json.dumps(_CASES_SLOT), body, 1) + "\n"
        assert render(header, chosen) == expected
        decoded = json.loads(render(header, chosen))
        assert decoded.pop("cases") == chosen and decoded.keys() == header.keys()


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES)
def test_texts_are_the_standard_encoders(value) -> None:
    """Made by one C encoder made once: the same texts as ``json``'s (the data files' layout,
    and the canonical text that tells cases apart)."""
    from cleanup_trace.serialise import dumps
    from cleanup_trace.writer import _one_line

    assert json.JSONEncoder(allow_nan=True).encode(value) == _one_line(value)
    assert json.dumps(value, sort_keys=True, allow_nan=True, separators=(",", ":")) == dumps(value)


def _pretty_by_encoding_every_level(value, indent: str, room: int) -> str:
    """The layout's definition, plainly: one line if the one-line text fits, else one
    item per line, down to the deepest expanded level."""
    from cleanup_trace.writer import _EXPANDED_LEVELS, LINE_WIDTH

    text = json.JSONEncoder(allow_nan=True).encode(value)
    if len(text) <= room or not value or len(indent) >= 2 * _EXPANDED_LEVELS:
        return text
    inner = indent + "  "
    if type(value) is dict and all(type(key) is str for key in value):
        lines = [f"{inner}{json.dumps(key)}: "
                 f"{_pretty_by_encoding_every_level(item, inner, LINE_WIDTH - len(inner) - len(json.dumps(key)) - 3)}"
                 for key, item in value.items()]
        return "{\n" + ",\n".join(lines) + f"\n{indent}}}"
    if type(value) is list:
        lines = [inner + _pretty_by_encoding_every_level(item, inner, LINE_WIDTH - len(inner) - 1) for item in value]
        return "[\n" + ",\n".join(lines) + f"\n{indent}]"
    return text


_LAID_OUT_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=60),
    lambda children: st.lists(children, max_size=12)
    | st.dictionaries(st.text(max_size=12) | st.integers(), children, max_size=6),
    max_leaves=80)


@settings(max_examples=1000, deadline=None)
@given(_LAID_OUT_VALUES, st.integers(min_value=0, max_value=120))
def test_the_layout_skips_encoding_only_what_could_not_fit(value, room) -> None:
    """Levels surely too long for their line are expanded unencoded: the same text as
    encoding every level to find out (escaped texts, long numbers, keys of any type)."""
    from cleanup_trace.writer import _pretty

    assert _pretty_by_encoding_every_level(value, "  ", room) == _pretty(value, "  ", room)


@settings(max_examples=1000, deadline=None)
@given(_LAID_OUT_VALUES)
def test_no_value_is_surely_longer_than_its_own_text(value) -> None:
    """The walk adds up a lower bound of the one-line text's length (its keys, quotes and
    separators counted): never more than the text, whatever its escapes, numbers or keys;
    else a level that fits would be expanded."""
    assert not writer._surely_longer(value, len(writer._one_line(value)))


_STORED_VALUES = st.recursive(  # (stored forms: JSON, so text keys only)
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=60),
    lambda children: st.lists(children, max_size=12) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=60)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(["call", "outcome", "random_state", "environ", "x" * 40]), _STORED_VALUES,
                       min_size=1))
def test_a_case_laid_out_from_its_canonical_texts_is_laid_out_the_same(case) -> None:
    """The recorder hands the writer each value's compact text: what surely fits, or surely
    does not, is told by its length, and the file is the same as without it."""
    from cleanup_trace.serialise import dumps_by_key
    from cleanup_trace.writer import render_case

    _, texts = dumps_by_key(case)
    assert render_case(case) == render_case(case, {key: len(text) for key, text in texts.items()})


def test_the_layout_of_short_texts_in_a_list_that_just_fits() -> None:
    from cleanup_trace.writer import _pretty

    assert '[""]' == _pretty([""], "  ", 4) and '{"a": [""]}' == _pretty({"a": [""]}, "  ", 11)


def test_a_test_patching_the_json_module_never_sees_the_tool(tmp_path: Path) -> None:
    """``mock.patch("app.json.loads", side_effect=[...])`` patches the json module itself
    (pyjwt's suite), ``mock.patch("os.listdir")`` the os module: the tool reading existing
    data files, copying plain values or writing a file must neither consume the test's
    fakes nor be fed them."""
    from unittest import mock

    from cleanup_trace import serialise

    DataWriter(tmp_path, 0).accept(HEADER, _case(1))  # an earlier run's file, read below
    fake = mock.Mock(side_effect=AssertionError("the tool called the patched function"))
    with mock.patch("json.loads", fake), mock.patch("json.dumps", fake), mock.patch("json.load", fake), \
            mock.patch("json.dump", fake), mock.patch("os.listdir", fake), mock.patch("os.link", fake), \
            mock.patch("os.replace", fake), mock.patch("os.open", fake):
        writer = DataWriter(tmp_path, 0)
        assert "written" == writer.accept(dict(HEADER, extra={"a": [1]}), _case(2))
        assert {"args": [1, "x"]} == serialise.encode({"args": [1, "x"]}, 10, plain=True)
    assert not fake.called
    assert [1, 2] == [case["outcome"]["returned"] for path in sorted(tmp_path.rglob("*.json"))
                      for case in json.loads(path.read_text())["cases"]]


def test_a_data_folder_removed_during_the_run_is_made_again(tmp_path: Path) -> None:
    """The writer remembers the folders it made (no ``mkdir`` per file); one removed
    since (a test cleaning up) is made again, and the file is written."""
    folder = tmp_path / "test-data" / "lib"
    first = writer.claim(folder, "f", "{}\n")
    assert first == folder / "f-00.json" and first.read_text() == "{}\n"
    shutil.rmtree(folder)
    again = writer.claim(folder, "g", "[]\n")
    assert again == folder / "g-00.json" and again.read_text() == "[]\n"
    assert [again.name] == [path.name for path in folder.iterdir()]  # (no temporary left)
