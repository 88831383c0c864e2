"""The helper process of :mod:`cleanup_trace.prewarm`: rewrites the listed modules.

It runs with ``python -S`` (no site-packages): it imports only the standard library and
:mod:`cleanup_trace.rewrite`, which needs nothing else.
"""
from __future__ import annotations

import importlib.util
import json
import marshal
import os
import struct
import sys
import warnings
from typing import Any, NamedTuple

# index of the module in the list, status, its source's hash, length of what follows
RECORD = struct.Struct("<IB8sI")
MADE, FAILED, DONE, HELLO, SKIPPED = 0, 1, 2, 3, 4
NO_HASH = bytes(8)


class Layout(NamedTuple):
    """Where things are in the shared file: the list of modules (its length first), a
    byte per module (set by the importing side: made there), the stop byte (set by it:
    stop), then the helper's records."""

    flags_at: int
    stop_at: int
    records_at: int


_LENGTH = struct.Struct("<I")


def layout(listing_size: int, modules: int) -> Layout:
    flags_at = _LENGTH.size + listing_size
    return Layout(flags_at, flags_at + modules, flags_at + modules + 1)


def file_start(modules: list) -> tuple[bytes, Layout]:
    """What the importing side writes first, and where it puts things."""
    listing = json.dumps(modules).encode("utf-8")
    return _LENGTH.pack(len(listing)) + listing + bytes(len(modules) + 1), layout(len(listing), len(modules))


def helper_stamp() -> bytes:
    """What must be the same in both processes for the helper's code to be usable."""
    return importlib.util.MAGIC_NUMBER + bytes([sys.flags.optimize, 0, 0, 0])


def write_all(fd: int, data: bytes, write: Any = os.write) -> None:
    # (``write``: os.write as found when this module was imported; a test patching it does
    # not see the tool's writes)
    view = memoryview(data)
    while view:
        view = view[write(fd, view):]


def serve(fd: int, parent: int, layout_files: tuple = ()) -> None:
    """The helper: rewrite the listed modules in order, one record each, then stop; or,
    given ``layout_files`` (the two files of :mod:`cleanup_trace.layout_service`), lay out the
    cases sent until told to stop."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from cleanup_trace import rewrite

        size = _LENGTH.unpack(os.pread(fd, _LENGTH.size, 0))[0]
        modules = json.loads(os.pread(fd, size, _LENGTH.size).decode("utf-8"))
        flags_at, stop_at, _ = layout(size, len(modules))
        write_all(fd, RECORD.pack(0, HELLO, NO_HASH, 8) + helper_stamp())
        for index, (path, name, *in_place) in enumerate(modules):
            if not alive(parent):
                return  # nobody to read the rest
            if os.pread(fd, 1, stop_at) != b"\0":
                break
            if os.pread(fd, 1, flags_at + index) != b"\0":
                write_all(fd, RECORD.pack(index, SKIPPED, NO_HASH, 0))
                continue
            try:
                with open(path, "rb") as handle:
                    source = handle.read()
                hashed = importlib.util.source_hash(source)
                with warnings.catch_warnings(record=True) as warned:
                    warnings.simplefilter("always")
                    # (a module imported before recording: all it needs, see late)
                    made = rewrite.instrumented_parts(source, path, name) if in_place else \
                        rewrite.compile_instrumented(source, path, name)
                if warned:
                    # (``"\\d"``: compiling warns, and the import must warn as without the
                    # tool, under the program's own filters: made there)
                    raise SyntaxWarning(str(warned[0].message))
                data, status = marshal.dumps(made), MADE
            except Exception:  # the importing side rewrites it, and reports why it failed
                hashed, data, status = NO_HASH, b"", FAILED
            write_all(fd, RECORD.pack(index, status, hashed, len(data)) + data)
        write_all(fd, RECORD.pack(0, DONE, NO_HASH, 0))
        if layout_files:
            from cleanup_trace.layout_helper import lay_out

            lay_out(*layout_files, parent)
    finally:
        os._exit(0)


def alive(parent: int) -> bool:
    """Is the recording process still there?"""
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True
