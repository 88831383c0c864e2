"""Data files laid out by the helper process (cleanup_trace.layout_service): the same
files as laid out here, whatever the helper did or did not reach."""
from __future__ import annotations

import contextlib
import os
import random
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from cleanup_trace import layout_helper, layout_service, prewarm
from cleanup_trace.serialise import dumps_by_key
from cleanup_trace.writer import DataWriter, render_case
from e2e_support import run_shop_script, wait_until_gone

pytestmark = pytest.mark.skipif(not prewarm.supported(), reason="the helper needs a POSIX system with /bin/sh")


def _value(chance: random.Random, depth: int = 0):
    """A stored value's shape: atoms, texts long and short, nested lists and dicts."""
    kind = chance.randrange(9 if depth < 5 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return chance.choice([True, False, 0, -7, 10 ** 20, 2.5, float("nan"), -0.0])
    if kind == 2:
        return "é\"\n" * chance.randrange(3) + "x" * chance.choice([0, 3, 40, 120])
    if kind == 3:
        return {"py/object": "shop.Cart", "items": [chance.randrange(10) for _ in range(chance.randrange(30))]}
    if kind == 4:
        return chance.randrange(-5, 5)
    if kind in (5, 6):
        return [_value(chance, depth + 1) for _ in range(chance.randrange(12))]
    return {f"k{index}" * chance.randrange(1, 8): _value(chance, depth + 1) for index in range(chance.randrange(8))}


def _cases(count: int, seed: int = 7) -> list:
    chance = random.Random(seed)
    return [{"call": {"args": [_value(chance) for _ in range(chance.randrange(4))], "kwargs": {}},
             "outcome": {"returned": _value(chance)}} for _ in range(count)]


def _lengths(case: dict) -> dict:
    return {key: len(text) for key, text in dumps_by_key(case)[1].items()}


@contextlib.contextmanager
def served(in_thread: bool = True) -> Iterator[layout_service.LayoutService]:
    """A service whose helper side runs in a thread of this process (``in_thread``), or
    nowhere (nothing is laid out there)."""
    requests, results = layout_service.new_files()
    service = layout_service.LayoutService(requests, results, os.getpid())
    helper = threading.Thread(target=layout_helper.lay_out, args=(requests, results, os.getpid()), daemon=True)
    if in_thread:
        helper.start()
    try:
        yield service
    finally:
        service._stop()  # (then the thread's files are closed: a process of its own keeps them)
        if in_thread:
            helper.join(timeout=10)
            assert not helper.is_alive()
        service.close()


def _wait_for(service: layout_service.LayoutService, count: int) -> None:
    """Until the helper side has laid out ``count`` cases (they are read at resolve)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = 0
        at = 0
        data = os.pread(service._results, 1 << 24, 0)
        while len(data) - at >= layout_helper.RESULT.size:
            _, length = layout_helper.RESULT.unpack_from(data, at)
            at += layout_helper.RESULT.size + (0 if length == layout_helper.FAILED else length)
            done += 1
        if done >= count:
            return
        time.sleep(0.005)
    pytest.fail("the helper side laid out too little")


def test_the_helper_lays_cases_out_as_they_are_laid_out_here() -> None:
    cases = _cases(300)
    with served() as service:
        sent = [service.send(case, _lengths(case)) for case in cases]
        assert all(pending is not None for pending in sent)
        _wait_for(service, len(cases))
        service.resolve(sent)
        assert [pending.text for pending in sent] == [render_case(case, _lengths(case)) for case in cases]
        assert service.made_there == len(cases) and service.made_here == 0


def test_what_the_helper_has_not_reached_is_laid_out_here_from_the_last_one_back() -> None:
    cases = _cases(40, seed=3)
    with served(in_thread=False) as service:  # (a helper that never comes)
        sent = [service.send(case, _lengths(case)) for case in cases]
        service.resolve(sent[10:])
        assert service.made_here == 30 and all(pending.text is None for pending in sent[:10])
        service.resolve(sent)
        assert [pending.text for pending in sent] == [render_case(case, _lengths(case)) for case in cases]
        assert service.made_there == 0 and service.made_here == 40


def test_a_case_the_helper_failed_on_is_laid_out_here() -> None:
    case = _cases(1)[0]
    with served(in_thread=False) as service:
        pending = service.send(case, _lengths(case))
        os.write(service._results, layout_helper.RESULT.pack(pending.index, layout_helper.FAILED))
        service.resolve([pending])
        assert pending.text == render_case(case, _lengths(case)) and service.made_here == 1


def test_a_value_marshal_does_not_take_is_left_to_the_layout_here() -> None:
    with served(in_thread=False) as service:
        assert service.send({"call": {"args": [object()]}}, {"call": 20}) is None


def test_a_service_closed_or_in_a_fork_child_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    case = _cases(1)[0]
    with served(in_thread=False) as service:
        monkeypatch.setattr(service, "_owner", -1)
        assert service.send(case, _lengths(case)) is None
        monkeypatch.undo()
        service.close()
        assert service.send(case, _lengths(case)) is None


def test_the_helper_side_stops_when_the_recording_process_is_gone() -> None:
    requests, results = layout_service.new_files()
    gone = 2 ** 22 + 12345  # (above the default pid_max: no such process)
    started = time.monotonic()
    layout_helper.lay_out(requests, results, gone)
    assert time.monotonic() - started < 5
    os.close(requests)
    os.close(results)


def _write_all(writer: DataWriter, cases: list) -> tuple:
    header = {"module": "shop.cart", "qualname": "Cart.total", "role": "", "format": 1}
    outcomes = []
    for case in cases:
        text, texts = dumps_by_key(case)
        outcomes.append(writer.accept(dict(header, qualname=f"Cart.total{len(text) % 3}"), case, text, texts))
    writer.flush()
    writer.finish_writes()
    return outcomes, {path.name: path.read_bytes() for path in sorted(writer.written)}


def test_a_writer_writes_the_same_files_with_the_helper_as_without(tmp_path: Path) -> None:
    cases = _cases(120, seed=11)
    without = DataWriter(tmp_path / "without", 0)
    without.defer()
    expected = _write_all(without, cases)
    with served() as service:
        helped = DataWriter(tmp_path / "with", 0)
        helped.defer()
        helped.layout = service
        assert _write_all(helped, cases) == expected and len(expected[1]) == 3
        assert service.made_there + service.made_here == expected[0].count("written") > 100


def test_the_helper_writes_the_files_of_a_flush_and_the_end_waits_for_them(tmp_path: Path) -> None:
    cases = _cases(60, seed=13)
    with served() as service:
        writer = DataWriter(tmp_path / "data", 0)
        writer.defer()
        writer.layout = service
        header = {"module": "shop.cart", "qualname": "Cart.total", "role": "", "format": 1}
        for case in cases[:30]:
            writer.accept(header, case, *dumps_by_key(case))
        writer.flush()
        assert writer.data_file_count() == 1  # (being made by the helper)
        for case in cases[30:]:
            writer.accept(header, case, *dumps_by_key(case))
        writer.flush()  # (the same file again: the helper claimed it)
        writer.finish_writes()
        assert service.writes == {} and writer.data_file_count() == 1
        (path,) = writer.written
        assert path.name == "Cart.total-00.json" and sorted(path.parent.iterdir()) == [path]
        without = DataWriter(tmp_path / "without", 0)
        without.defer()
        for case in cases:
            without.accept(header, case, *dumps_by_key(case))
        without.flush()
        assert path.read_bytes() == next(iter(without.written)).read_bytes()


def test_the_file_of_a_function_taking_no_more_cases_is_given_to_the_helper_between_tests(
        tmp_path: Path) -> None:
    """A function whose budget is full: its file goes to the helper at the next flush of
    complete files (between tests), the others' at the end; the files are the same."""
    cases = _cases(20, seed=17)
    headers = [{"module": "shop.cart", "qualname": name, "role": "", "format": 1} for name in ("full", "open")]

    def record(writer: DataWriter, early: bool) -> dict:
        for index, case in enumerate(cases):
            writer.accept(headers[index % 2], case, *dumps_by_key(case))
        writer.complete(headers[0])
        writer.flush_complete()
        if early:  # (being written by the helper, or written already)
            given = {entry[1] for entry in writer._in_flight.values()} | {path.stem for path in writer.written}
            assert writer.data_file_count() == 1 and given <= {"full", "full-00"}, given
        writer.flush()
        writer.finish_writes()
        return {path.name: path.read_bytes() for path in writer.written}

    without = DataWriter(tmp_path / "without", 0)
    without.defer()
    expected = record(without, early=False)
    assert without.data_file_count() == 2  # (no helper: both at the flush)
    with served() as service:
        helped = DataWriter(tmp_path / "with", 0)
        helped.defer()
        helped.layout = service
        assert record(helped, early=True) == expected and len(expected) == 2


def test_files_a_helper_did_not_answer_for_are_written_here_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A helper that stops answering: the end waits so long, then writes here what it was
    given; a file it made with the same text is taken as it is (no second file)."""
    from cleanup_trace import writer as writer_module

    monkeypatch.setattr(writer_module, "WRITES_WAITED_SECONDS", 0.2)
    with served(in_thread=False) as service:  # (it never answers)
        writer = DataWriter(tmp_path / "data", 0)
        writer.defer()
        writer.layout = service
        for qualname in ("Cart.total", "Cart.count"):
            header = {"module": "shop.cart", "qualname": qualname, "role": "", "format": 1}
            writer.accept(header, *_one_case(qualname))
        writer.flush()
        assert writer.data_file_count() == 2 and not writer.written
        # It made one of them, and died before saying so.
        made = writer_module.claim(tmp_path / "data" / "shop.cart", "Cart.total",
                                   writer._in_flight[0][4])
        writer.finish_writes()
    assert sorted(path.name for path in (tmp_path / "data" / "shop.cart").iterdir()) == [
        "Cart.count-00.json", "Cart.total-00.json"]
    assert made in writer.written and writer.data_file_count() == 2 and writer.cases_written == 2


def _one_file_flushed(tmp_path: Path, service: layout_service.LayoutService) -> DataWriter:
    """A writer given ``service``, one case of ``Cart.total`` accepted and flushed."""
    writer = DataWriter(tmp_path / "data", 0)
    writer.defer()
    writer.layout = service
    header = {"module": "shop.cart", "qualname": "Cart.total", "role": "", "format": 1}
    writer.accept(header, *_one_case("Cart.total"))
    writer.flush()
    return writer


def _one_case(qualname: str) -> tuple:
    case = {"call": {"args": [qualname], "kwargs": {}}, "outcome": {"returned": len(qualname)}}
    return (case, *dumps_by_key(case))


def test_a_file_near_the_size_limit_is_measured_with_its_layouts(tmp_path: Path) -> None:
    """The limit refuses the same cases with the helper as without: a file that may be
    near it takes its layouts at once to be measured."""
    cases = [{"call": {"args": ["x" * 3000, index], "kwargs": {}}, "outcome": {"returned": index}}
             for index in range(12)]
    outcomes = {}
    for helper in (False, True):
        with served(in_thread=helper) as service:
            writer = DataWriter(tmp_path / f"data-{helper}", 20_000)
            writer.defer()
            writer.layout = service if helper else None
            header = {"module": "shop.cart", "qualname": "Cart.total", "role": "", "format": 1}
            outcomes[helper] = [writer.accept(header, case, *dumps_by_key(case)) for case in cases]
            writer.flush()
            writer.finish_writes()
            outcomes[helper].append([path.read_bytes() for path in sorted(writer.written)])
    assert outcomes[True] == outcomes[False]
    assert outcomes[True].count("data file size limit") >= 5


@pytest.fixture
def real_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[prewarm.Prewarm]:
    """The rewriting helper (prewarm) of a one-module package, started with ``lay_out``;
    stopped afterwards, and gone."""
    from cleanup_trace.filters import ModuleFilter

    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("def double(value):\n    return 2 * value\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(prewarm, "_usable_cpus", lambda: 2)  # (a one-CPU runner tests it all the same)
    monkeypatch.setattr(prewarm, "MINIMUM_SOURCE_BYTES", 0)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    warm = prewarm.start(ModuleFilter(("shop*",), ("*",), project_root=str(tmp_path)), lay_out=True)
    assert warm is not None and warm.layout is not None
    try:
        yield warm
    finally:
        warm.close()
        warm.layout.close()
    wait_until_gone(warm.helper)


def test_a_real_helper_lays_out_once_its_modules_are_made(real_helper: prewarm.Prewarm) -> None:
    """A process of its own, no child of this one, which lays the cases out (and stops
    when told: see the fixture)."""
    service = real_helper.layout
    cases = _cases(50, seed=5)
    sent = [service.send(case, _lengths(case)) for case in cases]
    _wait_for(service, len(cases))
    service.resolve(sent)
    assert [pending.text for pending in sent] == [render_case(case, _lengths(case)) for case in cases]
    assert service.made_there == len(cases)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_a_flush_before_the_helper_answered_leaves_its_files_to_it(tmp_path: Path) -> None:
    """A second flush comes before the helper said it wrote the first one's file: the
    end still waits for that answer, and the file is made once."""
    with served(in_thread=False) as service:
        writer = _one_file_flushed(tmp_path, service)
        writer.flush()  # (no answer yet: nothing is taken)
        helper = threading.Thread(target=layout_helper.lay_out,
                                  args=(service._requests, service._results, os.getpid()), daemon=True)
        helper.start()
        writer.finish_writes()
        service._stop()
        helper.join(timeout=10)
    assert [path.name for path in (tmp_path / "data" / "shop.cart").iterdir()] == ["Cart.total-00.json"]
    assert writer.data_file_count() == 1


def test_a_write_job_is_done_by_the_process_that_locks_it_first(tmp_path: Path) -> None:
    """The recording side takes back the last write jobs the helper has not started; one
    the helper (another process) has locked is left to it."""
    import subprocess

    requests, results = layout_service.new_files()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         f"fcntl.lockf({requests}, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, {layout_helper.JOB_LOCKS_AT}, os.SEEK_SET)\n"
         "print('locked', flush=True)\ntime.sleep(30)\n"],
        pass_fds=(requests,), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        service = layout_service.LayoutService(requests, results, holder.pid)
        jobs = [service.write(str(tmp_path), f"f{index}", None, "{}\n") for index in range(3)]
        assert jobs == [0, 1, 2]
        assert service.take(2) and service.take(1) and not service.take(0)
        assert service.writes == {0: None} and service.written_here == 2
        service.close()
    finally:
        holder.kill()
        holder.communicate()


def test_with_a_real_helper_the_files_are_written_once_by_one_side_or_the_other(
        real_helper: prewarm.Prewarm, tmp_path: Path) -> None:
    cases = _cases(90, seed=17)
    helped = DataWriter(tmp_path / "with", 0)
    helped.defer()
    helped.layout = real_helper.layout
    without = DataWriter(tmp_path / "without", 0)
    without.defer()
    for writer in (helped, without):
        for index, case in enumerate(cases):
            header = {"module": f"shop.m{index % 3}", "qualname": f"f{index % 30}", "role": "", "format": 1}
            writer.accept(header, case, *dumps_by_key(case))
        writer.flush()
        writer.finish_writes()
    assert real_helper.layout.writes == {} and len(helped.written) == helped.data_file_count() <= 30
    made = {path.relative_to(tmp_path / "with"): path.read_bytes() for path in (tmp_path / "with").rglob("*.json")}
    expected = {path.relative_to(tmp_path / "without"): path.read_bytes()
                for path in (tmp_path / "without").rglob("*.json")}
    assert made == expected and len(made) == len(helped.written)


LAYOUT_BY_START = """
import sys
from cleanup_trace import prewarm
prewarm._usable_cpus = lambda: 2  # (a one-CPU runner tests it all the same)
prewarm.MINIMUM_SOURCE_BYTES = 0
from cleanup_trace.recorder import Recorder

recorder = Recorder()
recorder.start()
print("writes at once, a helper laying out:", recorder.writer.layout is not None)
recorder.stop(report=False)
recorder.write_at_flush()
recorder.start()
print("writes at flush, a helper laying out:", recorder.writer.layout is not None)
recorder.stop(report=False)
print("after the stop:", recorder.writer.layout is not None)
"""


def test_a_recording_writing_at_flush_has_its_helper_lay_out_even_started_late(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """Not started as pytest loads its plugins (``--cleanup-record`` in an ini file's
    ``addopts``): the helper started with the recording lays out too, when the files are
    written at flush; not for a recording writing each case at once."""
    (pytester.path / "shop").mkdir()
    (pytester.path / "shop" / "__init__.py").write_text("def double(value):\n    return 2 * value\n")
    result = run_shop_script(pytester, clean_env, pytester.path, LAYOUT_BY_START)
    result.stdout.fnmatch_lines(["writes at once, a helper laying out: False",
                                 "writes at flush, a helper laying out: True", "after the stop: False"])


COMPLETE_BETWEEN_TESTS = """
import json, pathlib
from cleanup_trace import prewarm
prewarm._usable_cpus = lambda: 2  # (a one-CPU runner tests it all the same)
prewarm.MINIMUM_SOURCE_BYTES = 0
from cleanup_trace.recorder import Recorder

recorder = Recorder()
recorder.write_at_flush()
recorder.start()
import shop
shop.double(1)
recorder.flush_due()
print("one case, files given:", recorder.writer.data_file_count())
shop.double(2)
recorder.flush_due()
print("budget full, files given:", recorder.writer.data_file_count())
shop.double(3)
recorder.stop(report=False)
(path,) = pathlib.Path("data").rglob("double-*.json")
print("cases:", [case["call"]["args"] for case in json.loads(path.read_text())["cases"]])
"""


def test_the_recorder_gives_the_helper_a_functions_file_once_its_budget_is_full(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    (pytester.path / "shop").mkdir()
    (pytester.path / "shop" / "__init__.py").write_text("def double(value):\n    return 2 * value\n")
    clean_env.setenv("PYTESTCLEANUP_TEST_CASE_COUNT_PER_FUNCTION", "2")
    result = run_shop_script(pytester, clean_env, pytester.path, COMPLETE_BETWEEN_TESTS)
    result.stdout.fnmatch_lines(["one case, files given: 0", "budget full, files given: 1", "cases: [[1], [2]]"])


def test_files_of_a_helper_gone_are_written_here_once(tmp_path: Path) -> None:
    """A helper that died while writing: its jobs are not taken back by their locks (it
    may have claimed the name it held), but written here after the wait, a file of the
    function with the same text being the one it made."""
    import subprocess

    requests, results = layout_service.new_files()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    service = layout_service.LayoutService(requests, results, gone.pid)
    writer = _one_file_flushed(tmp_path, service)
    # It linked the name, and died before saying so.
    from cleanup_trace import writer as writer_module

    made = writer_module.claim(tmp_path / "data" / "shop.cart", "Cart.total", writer._in_flight[0][4])
    writer.finish_writes()
    service.close()
    assert [path.name for path in (tmp_path / "data" / "shop.cart").iterdir()] == ["Cart.total-00.json"]
    assert writer.written == {made} and service.written_here == 0
