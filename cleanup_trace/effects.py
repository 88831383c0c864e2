"""Side effects outside the process, as Python's audit events report them, and the
values a module keeps as settings (changing one is an effect on its state).

The recorder does not keep a call that raises one of these events (its replay would
do it again); replay refuses the ones that start or stop something or destroy a file
when a replayed call raises them anyway: it was recorded without them, so the replay has
gone elsewhere (a test had replaced ``subprocess.Popen``, which the recorder cannot see).
"""
from __future__ import annotations

import importlib._bootstrap
import os
import sys

SIDE_EFFECT_EVENTS = frozenset({
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.link", "os.symlink",
    "os.chmod", "os.chown", "os.utime", "shutil.rmtree", "shutil.copyfile", "shutil.move",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.kill",
    "socket.connect", "socket.sendto", "socket.bind",
})
# Refused during a replayed call. Not plain writes, nor made directories: a library may
# write a cache at replay that already existed when the call was recorded.
REFUSED_AT_REPLAY = frozenset({
    "os.remove", "os.rename", "os.rmdir", "os.truncate", "shutil.rmtree", "shutil.move",
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.kill",
    "socket.connect", "socket.sendto", "socket.bind",
})
# Values a module or class keeps as a setting (``Parser.DEFAULT_WHITE_CHARS``, a debug
# flag): the recorder does not keep calls that change one, replay puts them back after
# each case. Not None: a class attribute set from None on first use is a cache.
SETTING_TYPES = frozenset({str, int, float, bool, bytes, tuple, frozenset})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def bytecode_cache(arguments: tuple) -> bool:
    """Is the event about the interpreter's own bytecode cache (an import making its
    ``__pycache__`` directory, writing a ``.pyc`` through a temporary name)? Not the
    user's doing."""
    for argument in arguments[:2]:
        if isinstance(argument, bytes):
            argument = os.fsdecode(argument)
        if isinstance(argument, str) and ("__pycache__" in argument or argument.endswith(".pyc")):
            return True
    return False


def writes(arguments: tuple) -> bool:
    """Do the arguments of an ``open`` audit event open the file for writing?"""
    path, mode, flags = (tuple(arguments) + (None, None, None))[:3]
    if bytecode_cache(arguments):
        return False
    if isinstance(mode, str):
        return any(letter in mode for letter in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


_IMPORT_MACHINERY = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>")


def during_an_import(stop_file: str) -> bool:
    """Is the event raised by a module being imported inside the call (its frames below
    the innermost frame of ``stop_file``, the tool's own)? A library importing itself
    lazily does what it does in any process that imports it (pycryptodome runs ``file``
    through ``platform.architecture()`` when eth_hash first loads it): the call that
    happened to import it first has no effect of its own."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename == stop_file:
            return False
        if filename in _IMPORT_MACHINERY:
            return True
        frame = frame.f_back
    return False


# The import system's per-module locks, held while a module is found and run (3.9 to 3.13).
_IMPORTS_RUNNING: dict = getattr(importlib._bootstrap, "_module_locks", None)  # type: ignore[attr-defined]


def module_importing() -> "str | None":
    """The module whose body runs now, above the caller (any module: a library's too,
    humanfriendly's ``define_aliases`` called by ``capturer``'s body), or ``None``.

    No import running in any thread (no module lock held): no walk of the stack, a
    hundred frames under pytest (json5's parser methods return None: a tenth of its
    recording time). A body run by hand (``spec.loader.exec_module(module)``) takes no
    lock: its calls are not told apart then."""
    if _IMPORTS_RUNNING is not None and not _IMPORTS_RUNNING:
        return None
    frame = sys._getframe(2)
    body = None
    while frame is not None:
        if frame.f_code.co_filename in _IMPORT_MACHINERY:
            return body
        if frame.f_code.co_name == "<module>":
            body = frame.f_globals.get("__name__")
        frame = frame.f_back
    return None
