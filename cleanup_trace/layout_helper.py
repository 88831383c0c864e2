"""The helper side of :mod:`cleanup_trace.layout_service`: lays out the cases sent,
and writes the data files it is given.

The rewriting helper (:mod:`cleanup_trace.prewarm_helper`) does it once its modules are
made. It runs with ``python -S`` (no site-packages): this imports only the standard
library and the layout of :mod:`cleanup_trace.writer` (whose logger imports nothing more
until an event is logged, and the helper logs none).
"""
from __future__ import annotations

import marshal
import os
import struct
import time

# A request: its length, then ``marshal.dumps((index, case, compact lengths))``, or
# ``marshal.dumps((WRITE, job, folder, stem, its file or "", the file's text))``.
REQUEST = struct.Struct("<I")
WRITE = "write"
# A result: the request's index, the length of its layout (UTF-8), then the layout; for a
# write, ``WRITTEN | job`` and WROTE (its file's path follows), ALL_USED or WRITE_FAILED
# (the error's text follows).
RESULT = struct.Struct("<II")
FAILED = 0xFFFFFFFF  # (as the length: the case is laid out by the recording side)
WRITTEN = 0x80000000
WROTE, ALL_USED, WRITE_FAILED = b"W", b"A", b"E"
# A write job is done by whichever process locks its byte first (a POSIX record lock of
# the requests file, here and beyond its end): the recording side takes the last ones
# while the helper goes on from the first. A job taken there has no result.
JOB_LOCKS_AT = 1 << 40
# The requests file's first byte is the stop byte (set by the recording side); requests
# start after the header.
STOP_AT, REQUESTS_AT = 0, 8
_IDLE_SLEEP = 0.0005  # seconds between two looks when no request is there...
_LOOKS_BEFORE_RESTING = 2000  # ... for about a second, then
_RESTING_SLEEP = 0.02
_LOOKS_PER_ALIVE_CHECK = 50  # (0.025 to 1 s: is the recording process still there?)


def lay_out(requests: int, results: int, parent: int) -> None:
    """Lay out (or write) each request in order, one result each, until told to stop or
    the recording process is gone. (The rewriting helper's second job: see
    prewarm_helper.)"""
    from cleanup_trace.prewarm_helper import alive, write_all
    from cleanup_trace.writer import render_case

    offset = REQUESTS_AT
    idle = 0
    claimed: dict = {}  # (folder, stem) -> the file claimed for it
    while os.pread(requests, 1, STOP_AT) == b"\0":
        head = os.pread(requests, REQUEST.size, offset)
        body = b""
        if len(head) == REQUEST.size:
            (length,) = REQUEST.unpack(head)
            body = os.pread(requests, length, offset + REQUEST.size)
            if len(body) < length:
                body = b""  # (being written: its last byte is there once it all is)
        if not body:
            idle += 1
            if idle % _LOOKS_PER_ALIVE_CHECK == 0 and not alive(parent):
                return  # nobody to read the rest
            # (a look every half millisecond while cases come, every 20 ms after a second
            # without any: a long test of no recorded call costs the helper nothing)
            time.sleep(_IDLE_SLEEP if idle < _LOOKS_BEFORE_RESTING else _RESTING_SLEEP)
            continue
        idle = 0
        offset += REQUEST.size + length
        index = None
        try:
            request = marshal.loads(body)
            if request[0] == WRITE:
                if not lock_job(requests, request[1]):
                    continue  # (the recording side took it)
                answer = _write(claimed, *request[2:])
                write_all(results, RESULT.pack(WRITTEN | request[1], len(answer)) + answer)
                continue
            index, case, lengths = request
            text = render_case(case, lengths).encode("utf-8")
            write_all(results, RESULT.pack(index, len(text)) + text)
        except Exception:  # the recording side lays it out, as without the helper
            if isinstance(index, int):
                write_all(results, RESULT.pack(index, FAILED))


def lock_job(requests: int, job: int) -> bool:
    """Is the write job this process's to do (it held its byte first, and keeps it)?"""
    import fcntl

    try:
        fcntl.lockf(requests, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, JOB_LOCKS_AT + job, os.SEEK_SET)
    except OSError:
        return False
    return True


def _write(claimed: dict, folder: str, stem: str, path: str, text: str) -> bytes:
    """Write a data file as :meth:`cleanup_trace.writer.DataWriter` does (claimed at its
    first write, replaced after); what happened, as a result's bytes."""
    from pathlib import Path

    from cleanup_trace import writer

    key = (folder, stem)
    path = path or claimed.get(key, "")
    try:
        if path:
            writer.atomic_write(Path(path), text)
        else:
            made = writer.claim(Path(folder), stem, text)
            if made is None:
                return ALL_USED
            path = claimed[key] = str(made)
    except Exception as error:
        return WRITE_FAILED + str(error).encode("utf-8", "replace")
    return WROTE + path.encode("utf-8", "surrogateescape")
