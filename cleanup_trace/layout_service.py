"""The layout of data files made by the helper process on another core, as cases come.

Laying a case out for its file (:func:`cleanup_trace.writer.render_case`: which values fit
on one line, which are spread one item a line) is pure Python over the stored value, a
twentieth of a recording's cost where cases are many and small (altgraph's 232 cases:
16 ms of a 0.38 s run), and needs nothing but the value. So a pytest session, which
writes its files when flushed, hands each case to the helper that rewrote its modules
ahead (:mod:`cleanup_trace.prewarm`: it lays cases out once its modules are made); a
flush takes the layouts made, and lays out here those the helper has not reached, from
the last one back while it goes on from the first: they meet half way, and nothing is
ever waited for.

* A case is sent as ``marshal`` data (the stored form is made of dicts, lists, texts and
  numbers: an exact copy, its dicts' order kept) to the same interpreter. Cases go
  through one anonymous file, layouts come back through another, each read with
  ``os.pread`` as it grows (no pipe: see prewarm); the helper stops at a byte of the
  first, or when your process is gone, and looks every half millisecond while cases
  come, every 20 ms after a second without any.
* Only where that helper runs (see :func:`cleanup_trace.prewarm.eligible`, and 16 kB of
  source to rewrite), and for a pytest session's recording: a file written at every case
  needs its layout at once. A fork child lays out its own cases.
* A case the helper fails on, or any failure of the helper, is laid out here: the files
  are the same with or without it (tests compare them).
* It writes the files of a flush too (:meth:`LayoutService.write`): creating a file costs
  0.05 to 0.6 ms on a virtual disk (yamale's 95 files: 57 ms at the end of a 0.7 s run).
  The end of the session takes back the last ones it has not started, while it goes on
  from the first (whoever holds a job's lock, a POSIX record lock of one byte, does it),
  and waits for the rest; a helper that answers none for ten seconds is stopped, and what
  it did not say it wrote is written here (a file of the function with the same text is
  the one it made).
"""
from __future__ import annotations

import marshal
import os
import time
from typing import Optional

from cleanup_trace._log import log
from cleanup_trace.layout_helper import FAILED, REQUEST, REQUESTS_AT, RESULT, STOP_AT, WRITE, WRITTEN, lock_job
from cleanup_trace.prewarm_helper import alive, write_all
from cleanup_trace.writer import render_case

__all__ = ["LayoutService", "Pending", "new_files"]

# A flush reads the helper's results by chunks of this size at most.
_READ_CHUNK = 1 << 20
# The recording side's own functions, as found: a test patching ``os.pread`` (or
# ``time.sleep``, freezegun's clock) must not see the tool's calls.
_pread, _pwrite, _close = os.pread, os.pwrite, os.close
_CLOCK = (time.monotonic, time.sleep)  # (in a tuple: freezegun replaces module attributes holding them)


def new_files() -> tuple[int, int]:
    """The two anonymous files a helper is given: cases to lay out, layouts made."""
    import tempfile

    with tempfile.TemporaryFile() as first, tempfile.TemporaryFile() as second:
        # (not inheritable: no program you start gets them)
        requests, results = os.dup(first.fileno()), os.dup(second.fileno())
    try:
        write_all(requests, bytes(REQUESTS_AT))
    except OSError:
        _close(requests)
        _close(results)
        raise
    return requests, results


class Pending:
    """A case sent to the helper; :attr:`text` is its layout once known."""

    __slots__ = ("index", "data", "bound", "text")

    def __init__(self, index: int, data: bytes, compact: int) -> None:
        self.index = index
        self.data: Optional[bytes] = data  # (to lay it out here; bytes, which the collector never walks)
        # More than its layout can take: a line per item at most, each item at least one
        # character and a separator of its compact text, indented by at most 22 spaces.
        self.bound = 13 * compact + 200
        self.text: Optional[str] = None


class LayoutService:
    """The recording side of one helper."""

    def __init__(self, requests: int, results: int, helper: int) -> None:
        self._requests = requests
        self._results = results
        self.helper = helper
        self._owner = os.getpid()
        self._next = 0  # the index of the next case sent
        self._waiting: dict[int, Pending] = {}  # index -> case sent, layout not read yet
        self._read_at = 0  # where the next result starts in the results file
        self._usable = True
        self._next_job = 0
        self.writes: dict[int, Optional[tuple]] = {}  # job -> its answer (see write), None until read
        self.written_here = 0  # write jobs taken back from the helper (see take)
        self.made_there = 0  # layouts taken from the helper
        self.made_here = 0  # layouts made here, the helper not there yet (or failed)

    def send(self, case: dict, compact_lengths: dict) -> Optional[Pending]:
        """Hand ``case`` to the helper; ``None`` when it is to be laid out here (a value
        ``marshal`` does not take, a helper given up, a fork child)."""
        if not self._usable or os.getpid() != self._owner:
            return None
        try:
            data = marshal.dumps((self._next, case, compact_lengths))
        except ValueError:  # (an object of another type: the layout here says what it makes of it)
            return None
        if not self._request(data):
            return None
        pending = self._waiting[self._next] = Pending(self._next, data, sum(compact_lengths.values()))
        self._next += 1
        return pending

    def write(self, folder: str, stem: str, path: Optional[str], text: str) -> Optional[int]:
        """Have the helper write a data file (claim ``stem``'s next free file in
        ``folder``, unless it or ``path`` is claimed already); the job's number, or
        ``None`` when it is to be written here. Its answer comes in :attr:`writes`:
        ``(WROTE, path)``, ``(ALL_USED, "")``, ``(WRITE_FAILED, error)`` (see
        :mod:`cleanup_trace.layout_helper`)."""
        if not self._usable or os.getpid() != self._owner or self._next_job >= WRITTEN:
            return None
        job = self._next_job
        if not self._request(marshal.dumps((WRITE, job, folder, stem, path or "", text))):
            return None
        self._next_job += 1
        self.writes[job] = None
        return job

    def _request(self, data: bytes) -> bool:
        """Append one request to the helper's file; ``False`` (and given up) if it failed."""
        try:
            write_all(self._requests, REQUEST.pack(len(data)) + data)
        except OSError as error:
            self._give_up(error)
            return False
        return True

    def helper_alive(self) -> bool:
        """Is the helper's process still there? (A job it held when it died is unlocked,
        though it may have claimed its file's name.)"""
        return self.helper == os.getpid() or alive(self.helper)

    def take(self, job: int) -> bool:
        """Take a write job the helper has not started (then it is this side's to do, and
        has no answer); ``False``: the helper has it."""
        if not self._usable or os.getpid() != self._owner or self.helper == os.getpid():
            return False  # (a helper in this process, tests': the locks are this process's)
        if not lock_job(self._requests, job):
            return False
        self.writes.pop(job, None)
        self.written_here += 1
        return True

    def wait_for_writes(self, seconds: float) -> bool:
        """Read the answers of the writes sent until all are there (``True``), or the
        helper is gone or has answered none for ``seconds``; then it is stopped (after
        the write it may be doing: the process is gone, or a second has passed)."""
        last_answer = _CLOCK[0]()
        answered = sum(answer is not None for answer in self.writes.values())
        looks = 0
        while True:
            self.read()
            now_answered = sum(answer is not None for answer in self.writes.values())
            if now_answered == len(self.writes):
                return True
            if now_answered > answered:
                answered, last_answer = now_answered, _CLOCK[0]()
            gone = looks % 100 == 99 and not alive(self.helper)
            if gone or not self._usable or _CLOCK[0]() - last_answer > seconds:
                break
            _CLOCK[1](0.0002)
            looks += 1
        self._give_up(TimeoutError(f"{len(self.writes) - answered} data file(s) not written by the helper"))
        stopped = _CLOCK[0]() + 1.0
        while alive(self.helper) and _CLOCK[0]() < stopped:
            _CLOCK[1](0.001)
        return False

    def resolve(self, wanted: list) -> None:
        """Give every :class:`Pending` of ``wanted`` its text: the helper's where it made
        it, else made here, from the last one back, reading what the helper made after
        each (it goes on from the first)."""
        self.read()
        left = sorted((pending for pending in wanted if pending.text is None), key=lambda pending: pending.index)
        while left:
            last = left.pop()
            if last.text is None:
                last.text = render_case(*marshal.loads(last.data)[1:])
                last.data = None
                self._waiting.pop(last.index, None)
                self.made_here += 1
                self.read()
            while left and left[-1].text is not None:
                left.pop()

    def read(self) -> None:
        """Take the results the helper wrote since the last read."""
        if not self._usable or os.getpid() != self._owner or not (
                self._waiting or None in self.writes.values()):
            return
        wanted = _READ_CHUNK
        while True:
            try:
                chunk = _pread(self._results, wanted, self._read_at)
            except OSError as error:
                self._give_up(error)
                return
            at = self._take(chunk)
            self._read_at += at
            if len(chunk) < wanted:
                return  # (all there is, but a result still being written)
            # A full chunk: more may follow, or one result longer than a chunk.
            wanted = _READ_CHUNK if at else 2 * wanted

    def _take(self, chunk: bytes) -> int:
        """Take the whole results at the start of ``chunk``; the length they take."""
        at = 0
        while len(chunk) - at >= RESULT.size:
            index, length = RESULT.unpack_from(chunk, at)
            size = 0 if length == FAILED else length
            if len(chunk) - at - RESULT.size < size:
                break  # (being written, or past this chunk)
            start = at + RESULT.size
            at = start + size
            if index & WRITTEN:
                answer = chunk[start:at]
                self.writes[index & ~WRITTEN] = (answer[:1], answer[1:].decode("utf-8", "surrogateescape"))
                continue
            pending = self._waiting.get(index)
            if pending is None or length == FAILED:
                continue  # (laid out here already, or to be when its turn comes)
            del self._waiting[index]
            pending.text = chunk[start:at].decode("utf-8")
            pending.data = None
            self.made_there += 1
        return at

    def _give_up(self, error: BaseException) -> None:
        """Use the helper no more: every case sent and not read is laid out here."""
        if self._usable:
            self._usable = False
            log.debug("layout.helper_given_up", error=f"{type(error).__name__}: {error}")
            self._stop()

    def _stop(self) -> None:
        try:
            _pwrite(self._requests, b"\1", STOP_AT)
        except OSError:
            pass

    def close(self) -> None:
        """Stop the helper (the cases not laid out yet are laid out here when resolved)."""
        if os.getpid() != self._owner:
            return
        log.debug("layout.finished", cases=self._next, made_there=self.made_there, made_here=self.made_here,
                  files=self._next_job, written_here=self.written_here)
        self._usable = False
        self._stop()
        for descriptor in (self._requests, self._results):
            try:
                _close(descriptor)
            except OSError:
                pass
