"""The ``Recorder`` facade: the one place that wires settings, hook, runtime and writer.

``with Recorder(): ...`` records; ``Recorder()`` is a singleton (calling it again returns
the same object and re-entering is counted, so nested use is harmless).
"""
from __future__ import annotations

import atexit
import os
import threading
from typing import Any, Optional

from cleanup_trace import _log, filters, importhook, locate, runtime
from cleanup_trace import late as instrument_late
from cleanup_trace._log import log
from cleanup_trace.config import Settings
from cleanup_trace.filters import ModuleFilter
from cleanup_trace.writer import DataWriter


def header_for(function: runtime.FunctionRecord) -> dict:
    return {
        "format": "cleanup_trace/1",
        "module": function.module,
        "qualname": function.qualname,
        "role": function.role,
        "async": function.is_async,
        "generator": function.is_generator or function.is_async_generator,
    }


# How often deferred cases are written while a pytest session runs (see write_at_flush).
# Each flush makes a file for every function with new cases, or makes it again (a new
# file renamed over the old one): python-stdnum's suite flushed at 5 s made 1,142 files,
# then 638 of them again at its end, and creating a file costs 0.05 to 0.3 ms (more
# where many files were deleted in the last minute: ext4 looks past their inodes). At
# 20 s, a suite shorter than that writes each file once; a session killed outright
# loses the cases of its last 20 s at most.
FLUSH_INTERVAL_SECONDS = 20.0


class Recorder:
    _instance: Optional["Recorder"] = None
    _instance_lock = threading.Lock()

    def __new__(cls, settings: Optional[Settings] = None) -> "Recorder":
        with cls._instance_lock:
            if cls._instance is None:
                instance = super().__new__(cls)
                instance._setup(settings or Settings.from_env())
                cls._instance = instance
            return cls._instance

    def __init__(self, settings: Optional[Settings] = None) -> None:
        pass  # all set up once in __new__: Recorder() is a singleton

    @classmethod
    def current(cls) -> Optional["Recorder"]:
        """The recorder if one was made in this process (``Recorder()`` would make one)."""
        return cls._instance

    def _setup(self, settings: Settings) -> None:
        self.settings = settings
        _log.set_level(settings.log_level)
        self.filter = ModuleFilter(settings.include_modules, settings.exclude_modules, settings.allow_all_modules)
        self.writer = DataWriter(settings.data_directory, settings.filesize_limit_bytes)
        self._depth = 0
        self._reachable: dict[tuple, Optional[bool]] = {}
        self._pending: list[tuple[runtime.FunctionRecord, dict]] = []
        self._lock = threading.RLock()
        self._finder: Optional[importhook.InstrumentingFinder] = None
        self._atexit_registered = False
        self.instrumented_in_place: list[str] = []
        # Started by the start-up hook: every Python process of the environment records,
        # the helper a test runs too, whose standard error the test may read.
        self.started_with_the_process = False
        # A helper process may rewrite the included modules ahead (see prewarm); one
        # started before the recording (see start_helper).
        self.rewrite_ahead = True
        self._helper: Any = None
        self._layout: Any = None  # (that helper's second job: a layout_service.LayoutService)

    @classmethod
    def _reset_for_tests(cls) -> None:
        """Forget the singleton (the test-suite only)."""
        if cls._instance is not None:
            cls._instance.stop(force=True)
        cls._instance = None

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self._depth > 0

    def __enter__(self) -> "Recorder":
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def start(self) -> None:
        with self._lock:
            self._depth += 1
            if self._depth > 1:
                return
            _log.claim_stderr()
            filters.set_recording_root(self.filter.project_root)
            late = importhook.already_imported(self.filter)
            helper, self._helper = self._helper, None
            if helper is not None and not self.rewrite_ahead:
                helper.close()  # (an xdist controller after all: its workers record)
                self._close_layout()
                helper = None
            if helper is None:
                # (writes at flush, a pytest session's: it lays their cases out too)
                helper = self._prewarm(late, lay_out=self.writer.deferred)
                if helper is not None and helper.layout is not None:
                    self._layout = helper.layout
            if self.writer.deferred and self._layout is not None:
                self.writer.layout = self._layout
            self._finder = importhook.install(self.filter, helper)
            never = self.filter.never_included()
            if never:
                log.warning("modules.never_instrumented", modules=",".join(never),
                            reason="PYTESTCLEANUP_INCLUDE_MODULES names them, but the tool or pytest runs on them: "
                                   "they are never instrumented")
            runtime.start(self, self.settings.test_case_count_per_function, self.settings.serialisation_depth,
                          self.settings.value_limit)
            if late:
                # After runtime.start: the wrappers made now are open from their first call.
                in_place = instrument_late.instrument_in_place(late, helper)
                self.instrumented_in_place = sorted(set(self.instrumented_in_place) | set(in_place))
                if in_place:
                    # (debug: the summary counts them, and an event at the default level
                    # imports structlog, 25-45 ms, in every run whose conftest imports them)
                    log.debug("modules.instrumented_in_place", modules=",".join(in_place),
                             reason="imported before recording started: their functions were wrapped where "
                                    "they are; references taken before (bound methods, registries) are not "
                                    "recorded")
            if not self._atexit_registered:
                self._atexit_registered = True
                atexit.register(self._at_exit)
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=self._after_fork_in_child)

    def start_helper(self) -> None:
        """Start now the helper rewriting your modules ahead, for the recording about to
        start (see prewarm): pytest's plugin, when the command line asks to record, as
        pytest loads its other plugins. Started with the recording, it came too late for
        a package the first conftest or test module imports at once (pyleri's 21 modules,
        73 kB: all rewritten here, 70 ms). Modules imported until the recording starts
        are made by the recording (see late), as they are when the helper passes them."""
        with self._lock:
            if self._depth or self._helper is not None:
                return
            filters.set_recording_root(self.filter.project_root)
            # (a pytest session writes its files when flushed: the helper lays their
            # cases out too, once its modules are made; see layout_service)
            self._helper = self._prewarm(importhook.already_imported(self.filter), lay_out=True)
            if self._helper is not None:
                self._layout = self._helper.layout
                atexit.register(self._close_unused_helper)

    def _close_unused_helper(self) -> None:
        helper, self._helper = self._helper, None
        if helper is not None:
            helper.close()
            self._close_layout()

    def _close_layout(self) -> None:
        with runtime.tool_work():  # (its files are not the program's doing)
            self.writer.finish_writes()  # (the files it was given)
        layout, self._layout = self._layout, None
        if self.writer.layout is layout:
            self.writer.layout = None
        if layout is not None:
            layout.close()

    def _prewarm(self, late: list, lay_out: bool = False) -> Any:
        """A helper rewriting the included modules ahead (see prewarm), first the
        modules ``late`` to instrument in place (see late), when it may pay: not in
        every process of a staging run."""
        if self.started_with_the_process or not self.rewrite_ahead:
            return None
        from cleanup_trace import prewarm

        if prewarm.eligible() is not None:
            return None
        with runtime.tool_work():  # (its files and process are not the program's doing)
            return prewarm.start(self.filter, instrument_late.sources(late), lay_out)

    def stop(self, force: bool = False, report: bool = True, wait_for_files: bool = True) -> None:
        """Stop recording (the last of nested starts, or all with ``force``) and write
        what was recorded. ``wait_for_files=False``: the files the helper was given are
        left to it, waited for by :meth:`finish_files` (a pytest session's end: it
        writes them while pytest finishes its own work)."""
        with self._lock:
            if self._depth == 0:
                return
            self._depth = 0 if force else self._depth - 1
            if self._depth > 0:
                return
            runtime.stop()
            importhook.uninstall()
            filters.set_recording_root(None)
            self.flush()
            if wait_for_files:
                self._close_layout()  # (once the files it was given are written)
            if report:
                self.report()

    def finish_files(self) -> None:
        """Once recording stopped: wait for the files the helper is writing (write
        here those it leaves), and forget them (see :meth:`release`)."""
        with self._lock:
            if self._depth == 0:
                self._close_layout()
                self.writer.release()

    def release(self) -> None:
        """After the last stop of a pytest session: what only the recording needed goes
        (the functions' records, the states of the files written), before pytest's last
        garbage collections go through it (see runtime.release_records)."""
        with self._lock:
            if self._depth == 0:
                runtime.release_records()
                self.writer.release()
                self._reachable.clear()

    def _at_exit(self) -> None:
        try:
            self.stop(force=True)
            self.finish_files()  # (a session whose end did not wait for them)
        except Exception as error:  # never raise at interpreter exit
            log.error("recorder.exit_failed", error=f"{type(error).__name__}: {error}")

    def _after_fork_in_child(self) -> None:
        self._lock = threading.RLock()
        self.writer.reset_after_fork()
        self._layout = None  # (the parent's helper: a fork child lays out its own cases)
        self._pending = []

    # -- the sink the runtime hands cases to --------------------------------------------
    def _is_reachable(self, function: runtime.FunctionRecord) -> Optional[bool]:
        """Can replay find this function by name? ``None``: not yet known (module importing)."""
        known = self._reachable.get(function.key)
        if known is not None:
            return known
        module = locate.find_module(function.module)
        result: Optional[bool]
        if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
            # (asked before its name: colander's ``URL_REGEX = _make_url_regex_src()``
            # is followed by ``del _make_url_regex_src``, a helper replay cannot find)
            result = None
        else:
            result = locate.reaches(module, function.qualname, function.role, function.raw)
        if result is not None:
            self._reachable[function.key] = result
        return result

    def accept(self, function: runtime.FunctionRecord, case: dict, text: Optional[str] = None,
               texts: Optional[dict] = None) -> bool:
        with self._lock:
            reachable = self._is_reachable(function)
            if reachable is None:
                # Called while its module is still importing: decide at flush time.
                self._pending.append((function, case))
                return True
            if not reachable:
                function.skip("not importable by its qualified name",
                              "defined where replay cannot find it (a registry, a decorator "
                              "without functools.wraps, a class built at run time)")
                return False
            outcome = self.writer.accept(header_for(function), case, text, texts)
            if outcome == "already in an earlier data file":
                # Counts against the budget: the same workload recorded twice adds no file.
                runtime.stats()[f"skipped: {outcome}"] += 1
                return True
            if outcome != "written":
                runtime.stats()[f"skipped: {outcome}"] += 1
                return False
            return True

    def complete(self, function: runtime.FunctionRecord) -> None:
        """The runtime takes no more cases of ``function`` (its budget is full): its file
        may be written before the end (see DataWriter.complete)."""
        with self._lock:
            self.writer.complete(header_for(function))

    def retract(self, function: runtime.FunctionRecord) -> int:
        """Take back what this process recorded of ``function``; how many cases that was."""
        with self._lock:
            pending = [case for recorded, case in self._pending if recorded is function]
            self._pending = [(recorded, case) for recorded, case in self._pending if recorded is not function]
            return len(pending) + self.writer.retract(header_for(function))

    def write_at_flush(self) -> None:
        """Write data files when flushed (by :meth:`flush_due` between tests, and when
        recording stops) instead of at every accepted case: for a pytest session, which
        reaches its end even when interrupted; one killed outright loses the cases
        accepted since the last flush."""
        self.writer.defer()  # (said before start: the helper lays the cases out too, see start)

    def flush_due(self) -> None:
        runtime.put_back_waiting()  # (between tests: a good moment, nothing of yours runs)
        with self._lock, runtime.tool_work():
            self.writer.flush_due(FLUSH_INTERVAL_SECONDS)
            self.writer.flush_complete()

    def flush(self) -> None:
        with self._lock, runtime.tool_work():
            pending, self._pending = self._pending, []
            self._reachable = {key: value for key, value in self._reachable.items() if value}
            for function, case in pending:
                if self._is_reachable(function) is None:
                    self._reachable[function.key] = False
                self.accept(function, case)
            self.writer.flush()

    def summary(self) -> dict:
        functions = runtime.functions()
        stats = runtime.stats()
        return {
            "functions instrumented": runtime.instrumented_count(),
            "functions called": len(functions),  # a record is made at a function's first call
            "functions with cases": sum(1 for function in functions if function.accepted),
            "cases written": self.writer.cases_written,
            "data files": self.writer.data_file_count(),
            **{key: value for key, value in sorted(stats.items())
               if key.startswith("functions ") and value},
            **({"modules instrumented in place": len(self.instrumented_in_place)}
               if self.instrumented_in_place else {}),
            **({"modules not instrumented": len(importhook.not_instrumented)} if importhook.not_instrumented else {}),
            "skipped": {key[len("skipped: "):]: value for key, value in sorted(stats.items())
                        if key.startswith("skipped: ")},
        }

    def report(self) -> None:
        summary = self.summary()
        skipped = ", ".join(f"{reason}: {count}" for reason, count in summary.pop("skipped").items())
        # A process of a staging run (every Python process of the environment records, a
        # tool's, a test's ``python -c`` helper) that instrumented nothing of yours says
        # so at debug level only: its standard error is the program's own.
        idle = self.started_with_the_process and not summary["functions instrumented"] and not skipped
        (log.debug if idle else log.info)("recording.summary", directory=str(self.settings.data_directory),
                                          **{key.replace(" ", "_"): value for key, value in summary.items()},
                                          skipped=skipped or "none")
