"""The helper process rewriting the recording's modules ahead (cleanup_trace.prewarm)."""
from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shlex
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable, Iterator
from unittest import mock

import pytest

from cleanup_trace import inline, prewarm, rewrite
from cleanup_trace.filters import ModuleFilter
from e2e_support import run_shop_script, wait_until_gone

pytestmark = pytest.mark.skipif(not prewarm.supported(), reason="the helper needs a POSIX system with /bin/sh")

MODULE = '''
def double_{n}(value):
    if value is None:
        return None
    return value * 2
'''


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``shop`` (ten modules, a subpackage, its tests) on ``sys.path``, imported by nobody."""
    root = tmp_path / "project"
    (root / "shop" / "sub").mkdir(parents=True)
    (root / "shop" / "tests").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "sub" / "__init__.py").write_text("")
    (root / "shop" / "tests" / "__init__.py").write_text("")
    (root / "shop" / "tests" / "test_it.py").write_text("def test_it():\n    pass\n")
    for n in range(6):
        (root / "shop" / f"m{n}.py").write_text(MODULE.format(n=n))
    (root / "shop" / "sub" / "deep.py").write_text(MODULE.format(n=9))
    (root / "shop" / "zlast.py").write_text(MODULE.format(n=7))
    (root / "shop" / "data.txt").write_text("not a module")
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.setattr(prewarm, "_usable_cpus", lambda: 2)  # (a one-CPU runner tests it all the same)
    monkeypatch.setattr(prewarm, "MINIMUM_SOURCE_BYTES", 0)  # (a few small modules: worth it here)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)  # (nor is this suite's worker one)
    return root


def listed(package: Path) -> list[tuple[str, str]]:
    return prewarm.modules_to_rewrite(ModuleFilter(("shop*",), ("*",), project_root=str(package)))


def source_hash(path: str) -> Callable[[], bytes]:
    return lambda: importlib.util.source_hash(Path(path).read_bytes())


@contextlib.contextmanager
def started(package: Path) -> Iterator[prewarm.Prewarm]:
    """A helper for ``shop``, closed afterwards."""
    warm = prewarm.start(ModuleFilter(("shop*",), ("*",), project_root=str(package)))
    assert warm is not None
    try:
        yield warm
    finally:
        warm.close()


def test_the_modules_listed_are_the_included_ones_in_the_order_pytest_collects_them(package: Path) -> None:
    names = [name for _, name in listed(package)]
    # (entries sorted by name, a package walked where it sorts; its tests are test code)
    assert names == ["shop", "shop.m0", "shop.m1", "shop.m2", "shop.m3", "shop.m4", "shop.m5", "shop.sub",
                     "shop.sub.deep", "shop.zlast"]
    assert all(Path(path).is_file() for path, _ in listed(package))
    assert "shop.m0" not in [name for _, name in prewarm.modules_to_rewrite(
        ModuleFilter(("shop*",), ("*",), project_root=str(package)), imported={"shop.m0": None})]


def test_without_a_pattern_the_projects_own_packages_are_listed(package: Path) -> None:
    names = [name for _, name in prewarm.modules_to_rewrite(ModuleFilter(project_root=str(package)))]
    assert names[:2] == ["shop", "shop.m0"] and "shop.tests.test_it" not in names


@pytest.fixture
def gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The helper started waits for this file to exist before it runs (a loaded machine
    may start it at any moment: the tests say when)."""
    opened = tmp_path / "helper-may-run"
    real = prewarm._helper_command

    def command(fd: int, *layout_files: tuple) -> str:
        line = real(fd, *layout_files)
        started, _, redirections = line.partition(" </dev/null")
        return (f"(while [ ! -e {shlex.quote(str(opened))} ]; do sleep 0.01; done; exec {started})"
                f" </dev/null{redirections}")

    monkeypatch.setattr(prewarm, "_helper_command", command)
    return opened


def wait_for(warm: prewarm.Prewarm, what: str, seconds: float = 20.0) -> None:
    """Until the helper has said hello (``"_stamped"``) or finished (``"_done"``)."""
    deadline = time.monotonic() + seconds
    while not getattr(warm, what) and time.monotonic() < deadline:
        warm._read()
        time.sleep(0.001)
    assert getattr(warm, what), f"the helper did not get there: {what}"


def wait_for_hello(warm: prewarm.Prewarm) -> None:
    wait_for(warm, "_stamped")


def wait_for_helper(warm: prewarm.Prewarm) -> None:
    wait_for(warm, "_done")


def test_the_helper_makes_the_code_a_rewrite_here_makes(package: Path) -> None:
    with started(package) as warm:
        wait_for_helper(warm)
        for path, name in listed(package):
            code = warm.code_for(path, name, source_hash(path))
            assert code == rewrite.compile_instrumented(Path(path).read_bytes(), path, name), name
            assert code.co_filename == path
        assert warm.taken == 10
        assert warm.code_for("/nowhere/shop/m0.py", "shop.m0", lambda: b"") is None  # not its file


def test_a_module_imported_under_another_spelling_of_its_path_takes_the_helpers_code(package: Path) -> None:
    """A test putting ``tests/..`` on ``sys.path`` imports the listed files under another
    path (pyleri's suite: its 21 modules were all rewritten twice). The code is taken,
    with the file name the import gives, as importing a ``.pyc`` does."""
    with started(package) as warm:
        wait_for_helper(warm)
        path, name = listed(package)[3]
        spelled = str(Path(path).parent / "tests" / ".." / Path(path).name)
        code = warm.code_for(spelled, name, source_hash(path))
        assert code is not None and warm.taken == 1
        assert code.co_filename == spelled
        assert {inner.co_filename for inner in code.co_consts if hasattr(inner, "co_filename")} == {spelled}


EARLY_HELPER_SCRIPT = textwrap.dedent("""
    import time
    from cleanup_trace import importhook, prewarm
    from cleanup_trace.recorder import Recorder

    prewarm.MINIMUM_SOURCE_BYTES = 0  # (a few small modules: worth it here)
    prewarm._usable_cpus = lambda: 2  # (a one-CPU runner tests it all the same)
    recorder = Recorder()
    recorder.start_helper()  # (pytest's plugin, as pytest loads its plugins)
    early = recorder._helper
    print("started early:", early is not None)
    with recorder:
        print("the recording's:", importhook._prewarmed is early)
        deadline = time.monotonic() + 60
        while not early._done and time.monotonic() < deadline:
            early._read()
            time.sleep(0.01)
        import shop.m3
        print("taken:", early.taken, shop.m3.double_3(4))
""")


def test_a_helper_started_before_recording_is_the_one_the_recording_uses(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch, package: Path) -> None:
    """pytest's plugin starts the helper as pytest loads its plugins, when the command
    line asks to record (Recorder.start_helper): the recording takes it."""
    result = run_shop_script(pytester, clean_env, package, EARLY_HELPER_SCRIPT)
    result.stdout.fnmatch_lines(["started early: True", "the recording's: True", "taken: 2 8"])  # (shop, shop.m3)


def test_the_helper_starts_early_for_a_recording_run_of_pytest_but_not_for_an_xdist_controller() -> None:
    from cleanup_trace.plugin import _recording_asked

    assert _recording_asked(["tests", "--cleanup-record", "-q"])
    assert not _recording_asked(["tests", "-q"])
    assert not _recording_asked(["--cleanup-record", "-n", "2"]) and not _recording_asked(["--cleanup-record", "-n2"])
    assert not _recording_asked(["--cleanup-record", "--dist=load"])


def test_code_of_a_source_changed_since_is_not_taken(package: Path) -> None:
    with started(package) as warm:
        wait_for_helper(warm)
        path, name = listed(package)[3]
        assert warm.code_for(path, name, lambda: b"another!") is None
        assert warm.taken == 0


def test_the_helper_is_no_child_of_the_recording_process(package: Path) -> None:
    """A test's ``os.wait()`` must not get it (nor a SIGCHLD handler hear it end)."""
    with started(package) as warm:
        with pytest.raises(ChildProcessError):
            os.waitpid(-1, os.WNOHANG)
        assert warm.helper != os.getpid()


def test_a_helper_still_working_when_recording_stops_is_stopped(package: Path, tmp_path: Path) -> None:
    for n in range(40):  # (enough work to be still at it)
        (package / "shop" / f"more{n:02d}.py").write_text(MODULE.format(n=n) * 50)
    warm = prewarm.start(ModuleFilter(("shop*",), ("*",), project_root=str(package)))
    assert warm is not None
    warm.close()
    wait_until_gone(warm.helper)


def test_the_import_hook_takes_the_helpers_code_and_waits_for_the_one_in_the_making(
        package: Path, gate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cleanup_trace import importhook

    # (shop.m0, the second module listed, takes the helper a while to make: 0.4 s here,
    # so that the import below finds it still in the making even when this process is
    # not scheduled for a while, two test workers and the helper sharing two cores)
    (package / "shop" / "m0.py").write_text("".join(MODULE.format(n=n) for n in range(2400)))
    made: list = []
    real = rewrite.compile_instrumented
    monkeypatch.setattr(rewrite, "compile_instrumented", lambda *args: made.append(args[2]) or real(*args))
    monkeypatch.setattr(importhook, "_made_in_process", {})
    module_filter = ModuleFilter(("shop*",), ("*",), project_root=str(package))
    warm = prewarm.start(module_filter)
    assert warm is not None
    importhook.install(module_filter, warm)
    try:
        # Before the helper runs, a module is rewritten here, and the helper passes over it.
        import shop

        assert made == ["shop"] and warm.taken == 0
        gate.touch()
        wait_for_hello(warm)
        # The helper is making shop.m0: waited for (a test's patch of time.sleep or
        # os.kill sees none of the waiting).
        with mock.patch("time.sleep") as sleep, mock.patch("os.kill") as kill:
            import shop.m0
        assert made == ["shop"] and warm.taken == 1 and warm.waited > 0
        sleep.assert_not_called()
        kill.assert_not_called()
        assert shop.m0.double_599(2) == 4
        wait_for_helper(warm)
        import shop.sub.deep

        assert shop.sub.deep.double_9(None) is None and shop.sub.deep.double_9(2) == 4
        assert type(shop.sub.deep.__loader__) is importhook.InstrumentingLoader
        assert inline.OPEN_HOOK in shop.sub.deep.double_9.__code__.co_names  # records in its body
        assert made == ["shop"] and warm.taken == 3 and warm.passed_over == 1  # shop.sub, shop.sub.deep
    finally:
        importhook.uninstall()
        for name in [name for name in sys.modules if name == "shop" or name.startswith("shop.")]:
            del sys.modules[name]


def test_modules_imported_before_recording_are_made_by_the_helper_from_the_first_and_here_from_the_last(
        package: Path, gate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Modules imported before recording are instrumented in place (see late), from the
    rewrite of their source: the helper makes them first, from the first on, while
    recording's start makes them from the last back; they are instrumented in their
    order, each function with the same code as without the helper."""
    from cleanup_trace import bodies, late

    names = [f"shop.m{n}" for n in range(6)]
    for name in names:
        importlib.import_module(name)  # (no hook: imported before recording)
    made: list = []
    real = rewrite.instrumented_parts
    monkeypatch.setattr(rewrite, "instrumented_parts", lambda *args: made.append(args[2]) or real(*args))
    try:
        in_place = late.sources(names)
        assert [name for _, name in in_place] == names
        warm = prewarm.start(ModuleFilter(("shop*",), ("*",), project_root=str(package)), in_place)
        assert warm is not None
        try:
            # Before the helper runs, the last one is made here, and the helper passes over it.
            assert late.instrument_in_place(names[-1:], warm) == ["shop.m5"]
            assert made == ["shop.m5"] and warm.taken == 0
            gate.touch()
            wait_for_helper(warm)
            assert warm.passed_over == 1
            assert late.instrument_in_place(names, warm) == ["shop.m0", "shop.m1", "shop.m2", "shop.m3", "shop.m4"]
            assert made == ["shop.m5"] and warm.taken == 5
        finally:
            warm.close()
        for n, name in enumerate(names):
            function = getattr(sys.modules[name], f"double_{n}")
            assert inline.OPEN_HOOK in function.__code__.co_names  # records in its body
            source = Path(in_place[n][0]).read_bytes()
            expected = bodies.function_bodies(real(source, in_place[n][0], name)[0])
            assert function.__code__ == expected[(f"double_{n}", function.__code__.co_firstlineno)], name
            assert function(None) is None and function(3) == 6
    finally:
        for name in [name for name in sys.modules if name == "shop" or name.startswith("shop.")]:
            del sys.modules[name]


def test_a_module_under_two_names_is_instrumented_in_place_under_the_first_with_the_helper_too(
        package: Path, gate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module in ``sys.modules`` under two names (``sys.modules["lib.legacy"] = core``)
    is rewritten once, under the first name, with the helper as without it (the data
    files do not depend on it); an object there without a namespace is passed over."""
    from cleanup_trace import late

    class Proxy:
        __slots__ = ()

    import shop.m1

    monkeypatch.setitem(sys.modules, "shop.aliased", shop.m1)  # (listed first: sorted so)
    monkeypatch.setitem(sys.modules, "shop.proxy", Proxy())
    names = ["shop.aliased", "shop.m1", "shop.proxy"]
    try:
        in_place = late.sources(names)
        assert in_place == [(shop.m1.__file__, "shop.aliased")]
        warm = prewarm.start(ModuleFilter(("shop*",), ("*",), project_root=str(package)), in_place)
        assert warm is not None
        try:
            gate.touch()
            wait_for_helper(warm)
            assert late.instrument_in_place(names, warm) == ["shop.aliased"]
            assert warm.taken == 1
        finally:
            warm.close()
        assert inline.OPEN_HOOK in shop.m1.double_1.__code__.co_names
    finally:
        for name in [name for name in sys.modules if name == "shop" or name.startswith("shop.")]:
            del sys.modules[name]


def test_no_helper_where_it_cannot_pay(package: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prewarm, "_usable_cpus", lambda: 1)
    assert prewarm.eligible() == "one CPU"
    assert prewarm.start(ModuleFilter(("shop*",), ("*",), project_root=str(package))) is None
    monkeypatch.setattr(prewarm, "_usable_cpus", lambda: 2)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert prewarm.eligible() == "an xdist worker"
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert prewarm.start(ModuleFilter(("nothing_here*",), ("*",), project_root=str(package))) is None
    monkeypatch.setattr(prewarm, "MINIMUM_SOURCE_BYTES", 16 * 1024)
    assert prewarm.start(ModuleFilter(("shop*",), ("*",), project_root=str(package))) is None  # 1 kB of source


# A plugin's hook: once collected, wait for the helper (if one started) to finish.
WAIT_FOR_THE_HELPER = textwrap.dedent("""
    import time
    from cleanup_trace import importhook

    def pytest_collection_finish(session):
        warm = importhook._prewarmed
        deadline = time.monotonic() + 60
        while warm is not None and not warm._done and time.monotonic() < deadline:
            warm._read()
            time.sleep(0.01)
""")


UNCONFIGURED_LAST = """
import sys

import pytest

@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    sys.stderr.write("set_helper: unconfigured\\n")
"""


@pytest.mark.usefixtures("debug_log")
def test_a_recording_session_writes_the_same_files_with_the_helper_as_without(
        pytester: pytest.Pytester, clean_env: pytest.MonkeyPatch) -> None:
    """The suite of a package of ten modules, one of them imported before recording,
    recorded with the helper (the modules taken from it, the log says) and without it (a
    plugin asks for more source than there is): the same data files, byte for byte."""
    shop = pytester.path / "shop"
    shop.mkdir()
    (shop / "__init__.py").write_text("")
    for n in range(10):
        (shop / f"m{n}.py").write_text(MODULE.format(n=n))
    (pytester.path / "tests").mkdir()
    (pytester.path / "tests" / "test_shop.py").write_text(textwrap.dedent("""
        import importlib

        import pytest

        @pytest.mark.parametrize("n", range(10))
        def test_double(n):
            module = importlib.import_module(f"shop.m{n}")
            assert getattr(module, f"double_{n}")(n) == 2 * n
    """))
    clean_env.setenv("PYTHONPATH", str(pytester.path), prepend=os.pathsep)
    clean_env.setenv("PYTESTCLEANUP_INCLUDE_MODULES", "shop*")
    clean_env.setenv("PYTHONDONTWRITEBYTECODE", "1")
    clean_env.delenv("PYTEST_XDIST_WORKER", raising=False)  # (the session recorded is no worker)
    written = {}
    for helper in (True, False):
        clean_env.setenv("PYTESTCLEANUP_TEST_DIRECTORY", str(pytester.path / f"data-{helper}"))
        # (a plugin given with -p is imported before recording starts, a conftest is not;
        # ten small modules are less source than a helper is started for; the tests wait
        # for the helper to finish, which a loaded machine may start after they ran)
        (pytester.path / "set_helper.py").write_text(
            f"import cleanup_trace.prewarm\ncleanup_trace.prewarm.MINIMUM_SOURCE_BYTES = {0 if helper else 10 ** 12}\n"
            + "import shop.m0\n" + WAIT_FOR_THE_HELPER + UNCONFIGURED_LAST)
        plugins = ("-p", "set_helper")
        result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider", *plugins, "tests")
        result.assert_outcomes(passed=10)
        finished = [line for line in result.errlines if "prewarm.finished" in line]
        if helper and prewarm._usable_cpus() >= 2:
            # (nine modules for the import, and shop.m0 and set_helper, imported before
            # recording, to instrument in place: made here or by the helper)
            counts = re.search(r"modules=(\d+) taken=(\d+) passed_over=(\d+)", finished[0])
            assert len(finished) == 1 and counts, finished
            modules, taken, passed_over = map(int, counts.groups())
            assert modules == 11 and taken + passed_over == 11 and passed_over <= 2, finished
            # Its second job: the cases laid out there, or here where it had not reached them.
            laid_out = [line for line in result.errlines if "layout.finished" in line]
            counts = re.search(r"cases=(\d+) made_there=(\d+) made_here=(\d+)", laid_out[0]) if laid_out else None
            assert len(laid_out) == 1 and counts, laid_out
            cases, there, here = map(int, counts.groups())
            assert cases == 10 and there + here == 10, laid_out
            # The files it was given at the end are waited for after every plugin's
            # unconfigure (pytest's last collections): it writes them meanwhile.
            assert result.errlines.index("set_helper: unconfigured") < result.errlines.index(laid_out[0])
        else:
            assert finished == []
            assert not [line for line in result.errlines if "layout.finished" in line]
        folder = pytester.path / f"data-{helper}"
        written[helper] = {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*.json"))}
    assert len(written[True]) == 10 and written[True] == written[False]
    # Under xdist neither the controller (it runs no test) nor a worker starts one.
    (pytester.path / "set_helper.py").write_text("import cleanup_trace.prewarm\n"
                                                "cleanup_trace.prewarm.MINIMUM_SOURCE_BYTES = 0\n")
    result = pytester.runpytest_subprocess("--cleanup-record", "-p", "no:cacheprovider", "-p", "set_helper",
                                           "-n", "2", "tests")
    result.assert_outcomes(passed=10)
    assert not [line for line in result.errlines + result.outlines if "prewarm.finished" in line]


def test_a_module_whose_compiling_warns_is_left_to_the_import(package: Path) -> None:
    """``"\\d"`` warns when compiled: the import compiles it, under the program's filters
    (``-W error`` makes it a SyntaxError there, as without the tool)."""
    (package / "shop" / "m2.py").write_text('PATTERN = "\\d+"\n' + MODULE.format(n=2))  # (a "\\d" in it)
    modules = dict((name, path) for path, name in listed(package))
    with started(package) as warm:
        wait_for_helper(warm)
        assert warm.code_for(modules["shop.m2"], "shop.m2", source_hash(modules["shop.m2"])) is None
        assert warm.code_for(modules["shop.m3"], "shop.m3", source_hash(modules["shop.m3"])) is not None


def test_an_import_during_the_wait_is_not_waited_for(package: Path) -> None:
    """A signal handler importing a module while the import side waits for the helper
    (or a fork child of the recording): rewritten there, never waiting on the first."""
    import signal

    (package / "shop" / "m0.py").write_text("".join(MODULE.format(n=n) for n in range(600)))
    warm = prewarm.start(ModuleFilter(("shop*",), ("*",), project_root=str(package)))
    assert warm is not None
    modules = listed(package)
    nested: list = []

    def handler(signum: int, frame: object) -> None:
        path, name = modules[5]
        nested.append(warm.code_for(path, name, lambda: b""))

    previous = signal.signal(signal.SIGALRM, handler)
    try:
        wait_for_hello(warm)
        warm.code_for(*modules[0], lambda: b"")  # (the first: passed over or made by now)
        signal.setitimer(signal.ITIMER_REAL, 0.02)
        path, name = modules[1]
        source = Path(path).read_bytes()
        started = time.monotonic()
        assert warm.code_for(path, name, source_hash(path)) is not None
        # (the nested call neither waited for the helper nor for the first call's lock)
        assert nested == [None] and 0.02 < warm.waited and time.monotonic() - started < 0.8
        child = os.fork()
        if child == 0:  # (the child's imports do without the helper)
            os._exit(0 if warm.code_for(*modules[2], lambda: b"") is None else 1)
        assert os.waitpid(child, 0)[1] == 0
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        warm.close()
