"""Data files: ``<data dir>/<module>/<qualname>[.role]-NN.json``.

* A run never overwrites an earlier run's file: it claims the next free suffix
  ``-00``..``-09`` with ``os.link`` of a complete temporary file, which fails if the name
  exists (so many processes never claim the same name and nobody sees a half file).
* After the claim the file is rewritten whenever a case is accepted, through a temporary
  file and ``os.replace`` — atomic: a reader sees the old or the new file, never a part.
* Cases already present in earlier files of the function are not written again.
* A file that would grow past the size limit is not written (the case is refused).
* A pytest session's files are laid out, and written at its flushes, by the helper
  process when there is one (see :mod:`cleanup_trace.layout_service`): the same files.
"""
from __future__ import annotations

import collections
import os
import re
import threading
import time
from pathlib import Path
from typing import Any, Optional

from cleanup_trace import _json
from cleanup_trace._log import log
from cleanup_trace.layout_helper import ALL_USED, WROTE

MAX_FILES = 10
_SUFFIX = re.compile(r"-(\d\d)\.json$")


def function_stem(qualname: str, role: str = "") -> str:
    return f"{qualname}.{role}" if role else qualname


# The os functions the writer calls, as the tool found them: a test patching one
# (``mock.patch("os.listdir", return_value=[...])``, then ``assert_called_once_with``)
# while a case is accepted must neither see the tool's calls nor answer them.
_listdir, _open, _write, _close, _replace, _link, _unlink = \
    os.listdir, os.open, os.write, os.close, os.replace, os.link, os.unlink


def data_files(directory: Path, module: str, stem: str, present: Optional[frozenset] = None) -> list[Path]:
    """Existing data files of one function, in suffix order (``present``: the names in
    its module's folder, when listed already)."""
    folder = directory / module
    if present is None:
        present = folder_listing(folder)  # one call, not ten
    if not present:
        return []
    names = (f"{stem}-{index:02d}.json" for index in range(MAX_FILES))
    return [folder / name for name in names if name in present]


def folder_listing(folder: Path) -> frozenset:
    """The names in ``folder`` (none when it is missing)."""
    try:
        return frozenset(_listdir(folder))
    except OSError:
        return frozenset()


# How long a module's folder, listed for the earlier files of its first function
# recorded, answers for its other functions: a recording asks at each function's first
# case (restrictedpython's 129 functions, 70 us a look on this disk), most of a module's
# within moments. Files another process writes meanwhile are seen by the next look.
FOLDER_LISTING_SECONDS = 1.0


def _sorted_keys(mapping: dict) -> dict:
    return {key: mapping[key] for key in sorted(mapping)}


# A helper writing the files of a flush (see layout_service) that answers none for this
# long is stopped, and what it was given is written here.
WRITES_WAITED_SECONDS = 10.0

_CASES_SLOT = "\u0000cases\u0000"
_ATOMS = (str, int, float, bool, type(None))


LINE_WIDTH = 100  # a list or dict whose one-line form fits stays on one line
_EXPANDED_LEVELS = 8  # deeper values stay on one line whatever their length (4x faster than 12)

_one_line = _json.encoder()  # no indent: the C encoder, many times faster than indent=2


def _surely_longer(value: object, room: int) -> bool:
    """Is ``value``'s one-line JSON text surely longer than ``room``?

    A lower bound of its length (a text takes at least its characters and two quotes, any
    other atom one character, a list or dict its brackets and separators), added up
    until it passes ``room``: a big value tells after its first few items, unencoded.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str:
            total += len(item) + 2
        elif kind is list:
            total += 2 * len(item) or 2  # "[]" and ", " between items (which count themselves)
            stack.extend(item)
        elif kind is dict:
            # "{}", each key with its quotes and ": ", ", " between items (values count
            # themselves): a tight bound tells after fewer items (a stored object's
            # "py/object" and attribute names)
            try:
                total += (6 * len(item) + sum(map(len, item))) or 2
            except TypeError:  # (a key other than a text: its quotes and separators only)
                total += 6 * len(item) or 2
            stack.extend(item.values())
        else:
            total += 1
        if total > room:
            return True
    return False


def _pretty(value: object, indent: str, room: int, longer: bool = False) -> str:
    """``value`` as JSON: on one line if that fits in ``room``, else one item per line.

    ``json.dumps(indent=2)`` runs the pure-Python encoder and spreads every number of a
    big argument over its own line (3 ms for one of glom's 14 kB cases); this encodes
    in C what fits on one line, and expands the rest: a level surely too long is not
    encoded at all (encoding every level of a deep value took tomlkit's suite 90 ms).
    ``longer``: its one-line text is known to be longer than ``room``.
    """
    kind = type(value)
    # (a dict with keys of other types stays on one line)
    expand = value and len(indent) < 2 * _EXPANDED_LEVELS and (
        kind is list or (kind is dict and all(type(key) is str for key in value)))
    if not (expand and (longer or _surely_longer(value, room))):
        text = _one_line(value)
        if len(text) <= room or not expand:
            return text
    inner = indent + "  "
    if kind is dict:
        lines = []
        for key, item in value.items():
            key_text = _one_line(key)
            lines.append(f"{inner}{key_text}: {_pretty(item, inner, LINE_WIDTH - len(inner) - len(key_text) - 3)}")
        return "{\n" + ",\n".join(lines) + f"\n{indent}}}"
    lines = [inner + _pretty(item, inner, LINE_WIDTH - len(inner) - 1) for item in value]  # type: ignore[union-attr]
    return "[\n" + ",\n".join(lines) + f"\n{indent}]"


def render_case(case: dict, compact_lengths: Optional[dict] = None) -> str:
    """One case as it appears in its file, inside ``"cases": [...]``: one key per line,
    values as :func:`_pretty` lays them out.

    ``compact_lengths``: the length of each value's compact canonical text (``","`` and
    ``":"`` between items), which the recorder made already. The one-line text takes as
    many characters and a space after each separator: at most twice as many. A value
    whose compact text fits in half the room surely fits (most calls: ``{"args": ["GB82
    ..."], "kwargs": {}}``), one whose compact text is longer than the room surely does
    not; neither is walked to tell (that walk and the encoding were a fifth of the cost
    of recording a small call).
    """
    indent = "      "
    lines = []
    for key in sorted(case):
        value = case[key]
        room = LINE_WIDTH - len(indent) - len(key) - 4
        compact = compact_lengths.get(key) if compact_lengths else None
        if compact is None:
            laid_out = _pretty(value, indent, room)
        elif 2 * compact <= room:
            laid_out = _one_line(value)
        else:
            laid_out = _pretty(value, indent, room, longer=compact > room)
        lines.append(f"{indent}{_one_line(key)}: {laid_out}")
    return "    {\n" + ",\n".join(lines) + "\n    }"


def render(header: dict, cases: list[dict]) -> str:
    """Pretty JSON; the file's own keys are sorted, recorded values keep their order.

    ``sort_keys=True`` would also reorder the keys of recorded dicts, and a dict argument
    must replay in its recorded insertion order.
    """
    return render_rendered(header, [render_case(case) for case in cases])


def render_rendered(header: dict, rendered: list[str]) -> str:
    """:func:`render` of cases rendered already, once each (:func:`render_case`): a file
    may be rewritten at every case added to it."""
    body = "[\n" + ",\n".join(rendered) + "\n  ]" if rendered else "[]"
    document = _sorted_keys(dict(header, cases=_CASES_SLOT))
    if all(type(value) in _ATOMS for value in header.values()):
        # What ``json.dumps(indent=2)`` writes for these, by the C encoder: the indenting
        # one is pure Python, and its closures are garbage for the cycle collector.
        lines = [f"  {_one_line(key)}: {body if value is _CASES_SLOT else _one_line(value)}"
                 for key, value in document.items()]
        return "{\n" + ",\n".join(lines) + "\n}\n"
    text = _json.indented(document)
    return text.replace(_one_line(_CASES_SLOT), body, 1) + "\n"


def _write_new(path: str, data: bytes) -> None:
    # os-level calls: a file is rewritten at every case added to it, and text-mode file
    # objects cost more than the write itself.
    descriptor = _open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        _write(descriptor, data)
    finally:
        _close(descriptor)


def atomic_write(path: Path, text: str) -> None:
    temporary = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}."
                                                    f"{threading.get_ident()}.tmp")
    _write_new(temporary, text.encode("utf-8"))
    _replace(temporary, path)


# Folders this process made or found (a module's folder holds all its functions' files:
# ``mkdir`` for each one raised and caught FileExistsError, and asked whether it is a
# folder). One removed since is made again when the first write into it fails.
_folders_made: set = set()


def claim(folder: Path, stem: str, text: str) -> Optional[Path]:
    """Create the next free ``stem-NN.json`` holding ``text``; ``None`` if all ten exist."""
    temporary = folder / f".{stem}.{os.getpid()}.{threading.get_ident()}.tmp"
    data = text.encode("utf-8")
    if folder not in _folders_made:
        folder.mkdir(parents=True, exist_ok=True)
        _folders_made.add(folder)
    try:
        _write_new(str(temporary), data)
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        _write_new(str(temporary), data)
    try:
        for index in range(MAX_FILES):
            target = folder / f"{stem}-{index:02d}.json"
            if target.exists():
                continue
            try:
                _link(temporary, target)
            except FileExistsError:
                continue  # another process claimed it first: try the next one
            except OSError:
                # No hard links here (some network or FUSE file systems): O_EXCL instead,
                # then the content through os.replace (readers may briefly see it empty).
                try:
                    descriptor = _open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    continue
                _close(descriptor)
                atomic_write(target, text)
            return target
        return None
    finally:
        try:
            _unlink(temporary)
        except OSError:
            pass


class _FunctionFile:
    def __init__(self, header: dict, existing: set[str]) -> None:
        self.header = header
        self.existing = existing
        # Texts only, never the cases themselves: a long recording would keep every case's
        # nested dicts and lists alive, and each full garbage collection of the program
        # would walk them all (tomlkit's suite: 30,000 more objects, 220 ms more of GC).
        self.texts: list[str] = []  # each case's canonical text (serialise.dumps)
        self.rendered: list[str] = []  # each case's text in the file, made once
        self.path: Optional[Path] = None
        self.refused_size = False
        self.unwritten = 0  # cases accepted since the file was last written (deferred writes)
        self.laid_out_elsewhere = 0  # items of ``rendered`` still a layout_service.Pending
        self.complete = False  # its function takes no more cases (see DataWriter.complete)

    def rendered_size(self) -> int:
        """The length of its cases' layouts, more than it for those still being laid out."""
        if not self.laid_out_elsewhere:
            return sum(map(len, self.rendered))
        return sum(len(item) if type(item) is str else item.bound if item.text is None else len(item.text)
                   for item in self.rendered)

    def forget_last(self) -> None:
        self.existing.discard(self.texts.pop())
        if type(self.rendered.pop()) is not str:
            self.laid_out_elsewhere -= 1


class DataWriter:
    """The recorder's sink for cases: dedupes against earlier files and writes each
    accepted case at once (a killed process keeps them), or once told to :meth:`defer`,
    at :meth:`flush` (a pytest session: between tests every few seconds, and at its end;
    a session killed outright loses the cases accepted since the last flush)."""

    def __init__(self, directory: Path, filesize_limit_bytes: int) -> None:
        self.directory = directory
        self.limit = filesize_limit_bytes
        self._files: dict[tuple, _FunctionFile] = {}
        self._lock = threading.Lock()
        self.written: set[Path] = set()
        self.cases_written = 0
        self.deferred = False
        self._flushed_at = time.monotonic()
        # Lays out the deferred cases in a helper process (see layout_service), if given,
        # and writes the files of a flush.
        self.layout: Any = None
        # Files the helper is writing: job -> (module, stem, its state, cases, text).
        self._in_flight: dict[int, tuple] = {}
        # Files of functions that take no more cases, not written yet (see complete).
        self._complete_due: set[tuple] = set()
        self._listings: dict[str, tuple] = {}  # module -> (when, its folder's names): see FOLDER_LISTING_SECONDS

    def defer(self) -> None:
        """Write at :meth:`flush` instead of at every accepted case: one write per file
        instead of one per case (rewriting a file costs about 0.4 ms)."""
        self.deferred = True

    def reset_after_fork(self) -> None:
        """A fork child writes its own files: forget the parent's claims. It writes at
        once: multiprocessing ends its children with ``os._exit``, past any flush."""
        self._lock = threading.Lock()
        self._files = {}
        self.written = set()
        self.cases_written = 0
        self.deferred = False
        self.layout = None  # (the parent's helper)
        self._in_flight = {}
        self._complete_due = set()
        self._listings = {}

    def flush_due(self, interval: float) -> None:
        """:meth:`flush` if the last one is ``interval`` seconds old."""
        if time.monotonic() - self._flushed_at >= interval:
            self.flush()

    def complete(self, header: dict) -> None:
        """The function of ``header`` takes no more cases (its budget is full): its file
        is given to the helper at the next :meth:`flush_complete`, not left to the end."""
        key = (header["module"], function_stem(header["qualname"], header["role"]))
        with self._lock:
            state = self._files.get(key)
            if state is not None and not state.complete:
                state.complete = True
                if self.deferred and self.layout is not None and state.unwritten:
                    self._complete_due.add(key)

    def flush_complete(self) -> None:
        """Give the helper the files of the functions that take no more cases (between
        tests): it writes them on its core while the tests run, instead of at the end of
        the session, where each file waited for was time of the session's (altgraph's
        end waited 7-14 ms for 8-16 of its 64 files)."""
        if self._complete_due:
            self.flush(only_complete=True)

    def flush(self, only_complete: bool = False) -> None:
        """Write the files holding deferred cases (or give them to the helper to write:
        :meth:`finish_writes` waits for it); ``only_complete``: those of the functions
        that take no more cases (see :meth:`complete`)."""
        if not only_complete:
            self._flushed_at = time.monotonic()
        with self._lock:
            self._answers(wait=False)
            due = [(key, self._files[key]) for key in self._complete_due if key in self._files] \
                if only_complete else list(self._files.items())
            due = [(key, state) for key, state in due if state.unwritten]
            self._complete_due.clear()
            self._laid_out([state for _, state in due])
            for (module, stem), state in due:
                content = render_rendered(state.header, state.rendered)
                # (absolute paths: the helper runs from "/")
                job = self.layout.write(os.path.abspath(self.directory / module), stem,
                                        os.path.abspath(state.path) if state.path else None,
                                        content) if self.layout is not None else None
                if job is None:
                    self._write(module, stem, state, content)
                else:
                    # (written meanwhile by the helper: see finish_writes)
                    self._in_flight[job] = (module, stem, state, state.unwritten, content)
                    state.unwritten = 0

    def finish_writes(self) -> None:
        """Wait for the files the helper is writing (those it leaves are written here)."""
        with self._lock:
            self._answers(wait=True)

    def release(self) -> None:
        """Forget this run's files once all they hold is written (the end of a pytest
        session): a recording started later writes new ones, as a new run does."""
        with self._lock:
            self._listings = {}
            self._complete_due = set()
            if not self._in_flight:
                self._files = {key: state for key, state in self._files.items() if state.unwritten}

    def data_file_count(self) -> int:
        """The data files written, and those the helper is making."""
        making = {id(state) for _, _, state, _, _ in self._in_flight.values() if state.path is None}
        return len(self.written) + len(making)

    def _answers(self, wait: bool) -> None:
        """Take what the helper did with the files it was given; ``wait``: until it has
        done them all, and write here those it did not."""
        if not self._in_flight:
            return
        self.layout.read()
        if wait:
            self._take_over()
            self.layout.wait_for_writes(WRITES_WAITED_SECONDS)
        for job, (module, stem, state, cases, content) in list(self._in_flight.items()):
            answer = self.layout.writes.get(job)
            if answer is None and not wait:
                continue  # (still to come: its entry stays, for the helper's answer)
            del self._in_flight[job]
            self.layout.writes.pop(job, None)
            if answer is None:  # (the helper is stopped by now)
                self._write_left(module, stem, state, cases, content)
                continue
            kind, detail = answer
            if kind == WROTE:
                self._written(state, Path(detail))
                continue
            self.cases_written -= cases
            if kind == ALL_USED:
                log.warning("datafile.all_used", function=f"{module}.{stem}",
                            hint="all ten files -00..-09 exist; run `python -m cleanup_trace compact`")
            else:
                log.error("datafile.write_failed", function=f"{module}.{stem}", error=detail)

    def _take_over(self) -> None:
        """Write here the last files the helper has not started, while it goes on from the
        first: they meet half way. Not a file it has an earlier write of still to do (it
        may be claiming its name)."""
        if not self.layout.helper_alive():
            return  # (a job it died on is unlocked: see _write_left, after the wait)
        left = sorted(job for job in self._in_flight if self.layout.writes.get(job) is None)
        files = collections.Counter(self._in_flight[job][:2] for job in left)
        for job in reversed(left):
            module, stem, state, cases, content = self._in_flight[job]
            if files[(module, stem)] > 1 or state.unwritten:
                continue  # (or cases came after this write: written with them, at a flush)
            if not self.layout.take(job):
                return  # (the helper has it, and all before it)
            del self._in_flight[job]
            state.unwritten = cases
            self._write(module, stem, state, content)

    def _write_left(self, module: str, stem: str, state: _FunctionFile, cases: int, content: str) -> None:
        """Write here a file the helper was given and did not say it wrote: a file of the
        function holding the same text is the one it made."""
        if state.path is None:
            data = content.encode("utf-8")
            for path in data_files(self.directory, module, stem):
                try:
                    if path.read_bytes() == data:
                        self._written(state, path)
                        return
                except OSError:
                    continue
        state.unwritten += cases  # (with the cases that came after it, if any)
        self._laid_out([state])
        self._write(module, stem, state, render_rendered(state.header, state.rendered))

    def _written(self, state: _FunctionFile, path: Path) -> None:
        state.path = path
        if path not in self.written:
            self.written.add(path)
            log.debug("datafile.written", path=str(path))

    def _laid_out(self, states: list) -> None:
        """Every case of these files laid out (see layout_service): their ``rendered``
        holds texts only."""
        states = [state for state in states if state.laid_out_elsewhere]
        if not states:
            return
        self.layout.resolve([item for state in states for item in state.rendered if type(item) is not str])
        for state in states:
            state.rendered = [item if type(item) is str else item.text for item in state.rendered]
            state.laid_out_elsewhere = 0

    def _drop_unwritten(self, state: _FunctionFile) -> None:
        self.cases_written -= state.unwritten
        for _ in range(state.unwritten):
            state.forget_last()
        state.unwritten = 0

    def retract(self, header: dict) -> int:
        """Remove the cases this process wrote for one function (its file, if it made it)."""
        module, stem = header["module"], function_stem(header["qualname"], header["role"])
        with self._lock:
            self._answers(wait=True)  # (the file the helper may be making for it)
            state = self._files.get((module, stem))
            if state is None or not state.texts:
                return 0
            removed = len(state.texts)
            state.texts, state.rendered = [], []
            state.laid_out_elsewhere = 0
            state.unwritten = 0
            if state.path is not None:
                try:
                    _unlink(state.path)  # claimed by this process: it held only these cases
                except OSError as error:
                    log.error("datafile.write_failed", function=f"{module}.{stem}", error=str(error))
                self.written.discard(state.path)
                state.path = None
            self.cases_written -= removed
            return removed

    def _load_existing(self, module: str, stem: str) -> set[str]:
        from cleanup_trace import serialise  # loaded by the runtime's first recorded call

        now = time.monotonic()
        listed = self._listings.get(module)
        if listed is None or now - listed[0] > FOLDER_LISTING_SECONDS:
            listed = self._listings[module] = (now, folder_listing(self.directory / module))
        known: set[str] = set()
        if not listed[1]:  # (a folder not made yet: a first recording)
            return known
        for path in data_files(self.directory, module, stem, listed[1]):
            try:
                document = _json.loads(path.read_text(encoding="utf-8"))
                for case in document.get("cases", []):
                    known.add(serialise.dumps(case))
            except Exception as error:
                log.warning("datafile.unreadable", path=str(path), error=f"{type(error).__name__}: {error}")
        return known

    def accept(self, header: dict, case: dict, text: Optional[str] = None, texts: Optional[dict] = None) -> str:
        """Write ``case``; return ``"written"`` or the reason it was not. ``text``: its
        canonical text, ``texts``: its values' (see :func:`render_case`), if made already."""
        module, stem = header["module"], function_stem(header["qualname"], header["role"])
        key = (module, stem)
        if text is None:  # the runtime passes the canonical text it already made
            from cleanup_trace import serialise  # loaded by the runtime's first recorded call

            text = serialise.dumps(case)
        with self._lock:
            state = self._files.get(key)
            if state is None:
                state = self._files[key] = _FunctionFile(header, self._load_existing(module, stem))
            if text in state.existing:
                return "already in an earlier data file"
            state.texts.append(text)
            lengths = {name: len(value) for name, value in texts.items()} if texts else None
            laid_out = self.layout.send(case, lengths) if self.deferred and self.layout is not None \
                and lengths is not None else None
            if laid_out is None:
                state.rendered.append(render_case(case, lengths))
            else:
                state.rendered.append(laid_out)
                state.laid_out_elsewhere += 1
            # Deferred, the file is made only to measure it, when it may be near the limit
            # (its header and separators take well under 1,000 characters).
            near = self.limit and (state.rendered_size() + 1000) * 4 > self.limit
            if near or not self.deferred:
                self._laid_out([state])
            content = "" if self.deferred and not near else render_rendered(header, state.rendered)
            # A character is 1 to 4 bytes in UTF-8: encode only when it might matter.
            if self.limit and len(content) * 4 > self.limit and len(content.encode("utf-8")) > self.limit:
                state.forget_last()
                if not state.refused_size:
                    state.refused_size = True
                    log.warning("datafile.too_large", function=f"{module}.{stem}",
                                limit_bytes=self.limit,
                                hint="raise PYTESTCLEANUP_FILESIZE_LIMIT_MB to keep such cases")
                return "data file size limit"
            state.existing.add(text)
            self.cases_written += 1
            state.unwritten += 1
            if self.deferred:
                return "written"
            return self._write(module, stem, state, content)

    def _write(self, module: str, stem: str, state: _FunctionFile, content: str) -> str:
        """Write one function's file (claimed at its first write); on failure its unwritten
        cases are dropped (eagerly: the one case just accepted)."""
        try:
            if state.path is None:
                state.path = claim(self.directory / module, stem, content)
                if state.path is None:
                    log.warning("datafile.all_used", function=f"{module}.{stem}",
                                hint="all ten files -00..-09 exist; run `python -m cleanup_trace compact`")
                    self._drop_unwritten(state)
                    return "all ten data files used"
            else:
                atomic_write(state.path, content)
        except OSError as error:
            log.error("datafile.write_failed", function=f"{module}.{stem}", error=str(error))
            self._drop_unwritten(state)
            return "write failed"
        state.unwritten = 0
        self._written(state, state.path)
        return "written"
