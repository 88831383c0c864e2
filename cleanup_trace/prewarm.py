"""Your modules rewritten ahead, by a helper process on another core, while pytest starts.

Rewriting a module (parse, instrument, compile: :mod:`cleanup_trace.rewrite`) costs
several times what Python's own compile of it does, at every import of a recording run
that cannot cache bytecode (``PYTHONDONTWRITEBYTECODE``, a fresh checkout, a read-only
tree): python-stdnum's 338 modules take about half a second, a sixth of its plain suite.
The rewrite reads nothing but the source, its path and the module's name, so another
process can do it: one is started when recording starts, given the modules of the
packages the recording includes, in the order pytest collects them (names sorted,
depth first), and it sends each one's code back as it goes. The import hook takes a
module's code from it when it is there and made from the same source (its hash), waits
for the one the helper is working on, and rewrites any other itself, as without it.

* Modules imported before recording, which it instruments in place when it starts
  (see :mod:`cleanup_trace.late`), are listed first: the helper rewrites them from the
  first on, the start from the last back, and they meet half way (bleach's 24, which
  pytest imports for its ``filterwarnings`` setting: 206 ms of the start, 127 ms so).
* Only where it can pay and cannot be seen: 16 kB of source or more, a POSIX system
  (``/bin/sh``), two CPUs or more for this process, not under xdist (the workers use
  the cores), not process 1 (the helper would be its child), not a process that the
  start-up hook made record (every Python process of a staging run).
* The helper is started through ``/bin/sh`` in the background (``... &``), so it is not
  a child of your process: a test's ``os.wait()`` never gets it, nor does a ``SIGCHLD``
  handler. It runs with ``-S`` (no ``.pth`` file: neither the tool's start-up hook nor
  coverage's runs in it), from ``/``, in a session of its own (a Ctrl-C of the terminal
  is not sent to it), and stops when its work is done, when told (a byte of the shared
  file: never a signal, its process id may be another's by then) or when your process
  is gone. A module whose compiling warns is left to the import, under your filters.
* An import made during a wait for the helper (a signal handler's) and every import of
  a fork child of your process do without it.
* Started by pytest's plugin, it has a second job once its modules are made: laying out
  the cases of the data files (see :mod:`cleanup_trace.layout_service`).
* Its records go to an anonymous file shared with it (nothing to clean up on disk):
  first the list of modules and a byte per module, written here, then one record per
  module, which this side reads with ``os.pread`` (the file's offset is the helper's to
  move). A module imported before the helper reached it is rewritten here, and its byte
  set (``os.pwrite``): the helper passes over it. (No pipe: writing to one whose reader
  is gone kills a program that restored the default ``SIGPIPE`` handler.)
"""
from __future__ import annotations

import _imp
import importlib.machinery
import importlib.util
import marshal
import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Optional

from cleanup_trace import importhook
from cleanup_trace._log import log
from cleanup_trace.filters import ModuleFilter
from cleanup_trace.prewarm_helper import (DONE, HELLO, MADE, RECORD, SKIPPED, Layout, file_start, helper_stamp,
                                          write_all)

# The functions the import side calls, as the tool found them: a test patching one
# (``mock.patch("time.sleep")``) while it imports a module must neither see the tool's
# calls nor answer them.
_pread, _pwrite, _kill = os.pread, os.pwrite, os.kill
# (in a tuple: freezegun replaces every module attribute holding time.monotonic)
_CLOCK = (time.monotonic, time.sleep)

# Less source than this is not worth a process (~40 ms of the other core to start, 1-2
# of this one): 16 kB take the rewrite about 8 ms (python-stdnum: 963 kB in 0.5 s).
# Started as pytest loads its plugins, it is ready for the first import of a package
# (yamale, 40 kB: 25 -> 12 ms of rewriting in the run, 14 of its 18 modules taken).
MINIMUM_SOURCE_BYTES = 16 * 1024
# A helper that stopped answering is not waited for longer than this, once. (Waiting
# for the module it is making never takes longer than making it here: it started first.)
_LONGEST_WAIT = 1.0
# A package of more modules than this (a framework a suite uses a corner of) is given to
# the helper up to there: what it makes waits in the shared file until imported.
MAXIMUM_MODULES = 2000


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def supported() -> bool:
    """Can a helper run here at all (a POSIX system with ``/bin/sh``)?"""
    return os.name == "posix" and os.path.exists("/bin/sh") and hasattr(os, "pread")


def eligible() -> Optional[str]:
    """Why no helper is started here (``None``: one may be)."""
    if not supported():
        return "not a POSIX system with /bin/sh"
    if _usable_cpus() < 2:
        return "one CPU"
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return "an xdist worker"
    if os.getpid() == 1:
        return "process 1 (a container's): the helper would be its child"
    return None


def _walk(directory: str, package: str, found: list) -> None:
    """``(path, module name, normalised real path)`` of the source modules under
    ``directory``, entries sorted by name and each directory walked where it sorts, as
    pytest collects them."""
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError:
        return
    real_directory = os.path.normcase(os.path.realpath(directory))
    for entry in entries:
        name = entry.name
        if entry.is_dir(follow_symlinks=False):
            if name.isidentifier() and os.path.isfile(os.path.join(entry.path, "__init__.py")):
                _walk(entry.path, f"{package}.{name}", found)
        elif name.endswith(".py") and entry.is_file(follow_symlinks=False):
            stem = name[:-3]
            real = os.path.join(real_directory, os.path.normcase(name))
            if stem == "__init__":
                found.append((entry.path, package, real))
            elif stem.isidentifier():
                found.append((entry.path, f"{package}.{stem}", real))


def _top_level_names(module_filter: ModuleFilter) -> list[str]:
    """The packages named by the include patterns (``stdnum*``: ``stdnum``), or the
    project's own packages when no pattern is given."""
    names: list[str] = []
    if module_filter.include:
        for pattern in module_filter.include:
            top_level = re.split(r"[*?\[.]", pattern, maxsplit=1)[0]
            if top_level.isidentifier() and top_level not in names:
                names.append(top_level)
        return names
    for base in (module_filter.project_root, os.path.join(module_filter.project_root, "src")):
        try:
            entries = sorted(os.scandir(base), key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.isidentifier() and entry.is_dir() and entry.name not in names \
                    and os.path.isfile(os.path.join(entry.path, "__init__.py")):
                names.append(entry.name)
    return names


def modules_to_rewrite(module_filter: ModuleFilter, imported: Any = None) -> list[tuple[str, str]]:
    """``(path, module name)`` of the source modules the import hook would rewrite, in
    the included packages, not imported yet and without valid cached code on disk."""
    imported = sys.modules if imported is None else imported
    found: list = []
    for top_level in _top_level_names(module_filter):
        early = module_filter.decide_by_name(top_level)
        if early is not None and not early.include:
            continue
        try:
            # (a top-level name: nothing is imported to find it)
            spec = importlib.util.find_spec(top_level)
        except (ImportError, ValueError):
            continue
        if spec is None or type(spec.loader) is not importlib.machinery.SourceFileLoader:
            continue
        if spec.submodule_search_locations:
            for directory in spec.submodule_search_locations:
                _walk(directory, top_level, found)
        elif spec.origin and spec.origin.endswith(".py"):
            found.append((spec.origin, top_level, None))
    wanted = []
    for path, name, real in found:
        if name in imported or not module_filter.decide(name, path, real).include:
            continue
        cached = importhook.cache_path(path) if not sys.dont_write_bytecode else None
        if cached is not None and os.path.exists(cached):
            continue  # (read from the disk cache, most likely valid)
        wanted.append((path, name))
    return wanted


class Prewarm:
    """The import hook's side of one helper: the code it made, read as it comes."""

    def __init__(self, shared: int, modules: list, where: Layout, helper: int) -> None:
        # The anonymous file's descriptor (kept open: the helper writes into it; a plain
        # descriptor, which no finaliser warns about if recording is never stopped).
        self._fd = shared
        # ``[path, name, 1]``: imported already, to instrument in place (see parts_for);
        # ``[path, name]``: for the import hook. (In the listing's order.)
        self._in_place = {(module[0], module[1]): index for index, module in enumerate(modules) if len(module) > 2}
        # (by the path as written out: a test that puts ``tests/..`` on sys.path imports
        # the listed files under other names, and pyleri's were all made twice)
        self._index = {(_written_out(module[0]), module[1]): (index, module[0])
                       for index, module in enumerate(modules) if len(module) == 2}
        self._flags_at, self._stop_at, self._offset = where
        self._ready: dict = {}  # index -> (status, source hash, where its code is, its length)
        self._next = 0  # the module the helper works on (all before it are reported)
        self._done = False  # nothing more to read from it, nor to wait for
        self._unusable = False  # nothing it gave is taken any more
        self.layout: Any = None  # (its second job, if given: a layout_service.LayoutService)
        self._stamped = False
        self.helper = helper
        self._owner = os.getpid()  # (a fork child of the recording does without it)
        self._lock = threading.Lock()  # (modules imported by several threads at once)
        self._inside = threading.local()  # (an import made during a wait: a signal handler's)
        self.taken = 0  # modules whose code came from the helper
        self.passed_over = 0  # modules it left, made here first
        self.waited = 0.0

    def code_for(self, path: str, fullname: str, source_hash: Callable[[], bytes]) -> Any:
        """The helper's code for this module, if it made it from this source; else None
        (never raises, never waits long: the import hook rewrites the module itself)."""
        index, listed = self._index.get((_written_out(path), fullname), (None, path))
        code = self._made(index, fullname, source_hash)
        if code is not None and listed != path:
            if _fix_co_filename is None:
                return None
            _fix_co_filename(code, path)  # (as the import from a .pyc does: the file as imported)
        return code

    @property
    def in_place(self) -> list:
        """``(path, name)`` of the modules given to instrument in place, in order."""
        return list(self._in_place)

    def parts_for(self, path: str, fullname: str, source_hash: Callable[[], bytes]) -> Optional[tuple]:
        """What :func:`rewrite.instrumented_parts` gives for this module imported before
        recording, if the helper made it from this source; else None (made here). Asked
        from the last such module back while the helper goes from the first: they meet
        half way."""
        return self._made(self._in_place.get((path, fullname)), fullname, source_hash)

    def _made(self, index: Optional[int], fullname: str, source_hash: Callable[[], bytes]) -> Any:
        if index is None:
            return None
        if self._unusable or os.getpid() != self._owner or getattr(self._inside, "active", False):
            # (a fork child: the shared file's descriptor may be another file of its own by
            # now, a daemon closing them all and opening its own)
            return None
        self._inside.active = True
        try:
            if not self._lock.acquire(timeout=_LONGEST_WAIT):
                return None
            try:
                found = self._found(index)
            finally:
                self._lock.release()
            if found is None:
                return None
            status, hashed, data = found
            if status != MADE or hashed != source_hash():
                return None
            made = marshal.loads(data)  # (a code object, or parts_for's tuple)
            self.taken += 1
            return made
        except Exception as error:
            self._give_up(unusable=True)
            log.debug("prewarm.failed", module=fullname, error=f"{type(error).__name__}: {error}")
            return None
        finally:
            self._inside.active = False

    def _found(self, index: int) -> Optional[tuple]:
        """``(status, source hash, code)`` the helper gave for this module, or None (the
        module it is making, once it runs, waited for: before, its start takes longer than
        the rewrite here)."""
        self._read()
        found = self._ready.pop(index, None)
        if found is None and index == self._next and self._stamped and not self._done:
            started = _CLOCK[0]()
            rounds = 0
            # (alive asked every 25 rounds, ~5 ms: os.kill is an audit event the tool hears)
            while found is None and not self._done and (rounds % 25 or self._helper_alive()):
                if _CLOCK[0]() - started > _LONGEST_WAIT:
                    self._give_up()  # stuck: not waited for again
                    break
                _CLOCK[1](0.0002)
                rounds += 1
                self._read()
                found = self._ready.pop(index, None)
            self.waited += _CLOCK[0]() - started
        if found is None:
            if index >= self._next and not self._done:
                _pwrite(self._fd, b"\1", self._flags_at + index)  # made here: the helper passes
            return None
        status, hashed, at, length = found
        data = _pread(self._fd, length, at) if length else b""
        return (status, hashed, data) if len(data) == length else None

    def _read(self) -> None:
        while not self._done:
            head = _pread(self._fd, RECORD.size, self._offset)
            if len(head) < RECORD.size:
                return
            index, status, hashed, length = RECORD.unpack(head)
            body_at = self._offset + RECORD.size
            if status == HELLO:
                stamp = _pread(self._fd, length, body_at)
                if len(stamp) < length:
                    return  # (being written)
                self._offset = body_at + length
                self._stamped = stamp == helper_stamp()
                if not self._stamped:
                    self._give_up(unusable=True)  # another interpreter: nothing it makes is usable here
                continue
            if status == DONE or not self._stamped or index != self._next:
                self._done = True
                return
            if length and len(_pread(self._fd, 1, body_at + length - 1)) < 1:
                return  # (being written)
            self._offset = body_at + length
            if status == SKIPPED:
                self.passed_over += 1
            else:
                self._ready[index] = (status, hashed, body_at, length)  # (read when imported)
            self._next = index + 1

    def _helper_alive(self) -> bool:
        try:
            _kill(self.helper, 0)
        except ProcessLookupError:
            self._done = True
            return False
        except OSError:
            pass
        return True

    def _give_up(self, unusable: bool = False) -> None:
        """Use the helper no more, and tell it to stop (by the stop byte it reads before
        each module, never a signal: its process id may be another's by now).
        ``unusable``: what it gave already is not taken either."""
        self._unusable = self._unusable or unusable
        if not self._done and os.getpid() == self._owner:
            try:
                _pwrite(self._fd, b"\1", self._stop_at)
            except OSError:
                pass
        self._done = True

    def close(self) -> None:
        """Stop the helper if it still works (recording stopped) and forget its code."""
        if os.getpid() != self._owner:
            return
        log.debug("prewarm.finished", modules=len(self._index) + len(self._in_place), taken=self.taken,
                  passed_over=self.passed_over,
                  waited_ms=round(self.waited * 1000, 1))
        acquired = self._lock.acquire(timeout=_LONGEST_WAIT)
        try:
            self._give_up()
            self._ready.clear()
            os.close(self._fd)
        except OSError:
            pass
        finally:
            if acquired:
                self._lock.release()


def _written_out(path: str) -> str:
    return os.path.normcase(os.path.normpath(path))


# Sets ``co_filename`` of a code object and of those inside it, as importing a ``.pyc``
# under another path does (importlib's own use; CPython's ``_imp`` has it on 3.9 to 3.13).
_fix_co_filename = getattr(_imp, "_fix_co_filename", None)


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _helper_command(fd: int, layout_files: tuple = ()) -> str:
    """The shell line starting the helper as described above (``-S``, in the background,
    its process id echoed)."""
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = (f"import sys; sys.path.insert(0, {package_parent!r}); "
              f"from cleanup_trace.prewarm_helper import serve; serve({fd}, {os.getpid()}, {tuple(layout_files)!r})")
    flags = ["-" + "O" * sys.flags.optimize] if sys.flags.optimize else []
    flags += ["-B"] if sys.flags.dont_write_bytecode else []
    command = shlex.join([sys.executable, "-S", *flags, "-c", script])
    return f"{command} </dev/null >/dev/null 2>&1 & echo $!"


def _spawn(command: str, fds: tuple) -> int:
    """Run :func:`_helper_command`'s line through ``/bin/sh`` (from ``/``, in a session of
    its own, given ``fds``); the helper's process id. The shell, this process's child, is
    waited for here: the helper is not a child of your process."""
    # (from "/": the helper's ``sys.path`` starts with its working directory, where a
    # module of the project named as a standard one must not be found)
    shell = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, cwd="/", pass_fds=fds, start_new_session=True)
    try:
        answer, _ = shell.communicate(timeout=10)
    except BaseException:
        shell.kill()
        shell.wait()
        raise
    return int(answer.split()[-1])


def start(module_filter: ModuleFilter, in_place: list = (), lay_out: bool = False) -> Optional[Prewarm]:
    """Start a helper for the modules the recording will rewrite, and first for
    ``in_place``, ``(path, name)`` of modules imported before it (see late); ``None``
    if none is worth it here (or starting one failed: logged). ``lay_out``: then it lays
    out the cases of the data files written at flush (its :attr:`Prewarm.layout`)."""
    if eligible() is not None or not sys.executable:
        return None
    try:
        modules = [[path, name, 1] for path, name in in_place] + \
            [[path, name] for path, name in modules_to_rewrite(module_filter)]
        modules = modules[:MAXIMUM_MODULES]
        if not modules or sum(_size(module[0]) for module in modules) < MINIMUM_SOURCE_BYTES:
            return None
        with tempfile.TemporaryFile() as handle:
            shared = os.dup(handle.fileno())  # (not inheritable: no program you start gets it)
        layout_files: tuple = ()
        try:
            start_of_file, where = file_start(modules)
            write_all(shared, start_of_file)
            if lay_out:
                from cleanup_trace import layout_service

                layout_files = layout_service.new_files()
            helper = _spawn(_helper_command(shared, layout_files), (shared, *layout_files))
        except Exception:
            for descriptor in (shared, *layout_files):
                os.close(descriptor)
            raise
        warm = Prewarm(shared, modules, where, helper)
        if layout_files:
            warm.layout = layout_service.LayoutService(*layout_files, helper)
        return warm
    except Exception as error:  # never in the way of a recording
        log.debug("prewarm.not_started", error=f"{type(error).__name__}: {error}")
        return None
