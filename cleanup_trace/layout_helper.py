"""The helper side of :mod:`cleanup_trace.layout_service`: lays out the cases sent.

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

# A request: its length, then ``marshal.dumps((index, case, compact lengths))``.
REQUEST = struct.Struct("<I")
# A result: the request's index, the length of its layout (UTF-8), then the layout.
RESULT = struct.Struct("<II")
FAILED = 0xFFFFFFFF  # (as the length: the case is laid out by the recording side)
# The requests file's first byte is the stop byte (set by the recording side); requests
# start after the header.
STOP_AT, REQUESTS_AT = 0, 8
_IDLE_SLEEP = 0.0005  # seconds between two looks when no request is there...
_LOOKS_BEFORE_RESTING = 2000  # ... for about a second, then
_RESTING_SLEEP = 0.02
_LOOKS_PER_ALIVE_CHECK = 50  # (0.025 to 1 s: is the recording process still there?)


def lay_out(requests: int, results: int, parent: int) -> None:
    """Lay out each request in order, one result each, until told to stop or the
    recording process is gone. (The rewriting helper's second job: see prewarm_helper.)"""
    from cleanup_trace.prewarm_helper import alive, write_all
    from cleanup_trace.writer import render_case

    offset = REQUESTS_AT
    idle = 0
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
            index, case, lengths = marshal.loads(body)
            text = render_case(case, lengths).encode("utf-8")
            write_all(results, RESULT.pack(index, len(text)) + text)
        except Exception:  # the recording side lays it out, as without the helper
            if isinstance(index, int):
                write_all(results, RESULT.pack(index, FAILED))
