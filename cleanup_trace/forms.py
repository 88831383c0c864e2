"""Reading jsonpickle's stored forms without decoding them: what a ``py/reduce`` form
calls, and whether that can be found. Shared by both decoders (jsonpickle's, through
``serialise``, and ``restore_fast``), which the recorder's checks use."""
from __future__ import annotations

import datetime
import uuid
from typing import Any, Optional

from jsonpickle import handlers
from jsonpickle.unpickler import loadclass

# Classes (not their subclasses) jsonpickle stores by a handler of its own, with the
# handler's name: a date, a time or a datetime as the bytes of its reduction in base 64
# (then its time zone), a UUID as its hex digits. Both fast paths write and read these
# forms; a handler you register for one of these classes takes them back to jsonpickle.
_OWN_HANDLERS = {datetime.date: "DatetimeHandler", datetime.datetime: "DatetimeHandler",
                 datetime.time: "DatetimeHandler", uuid.UUID: "UUIDHandler"}


def own_handler(cls: Any, name: str) -> Optional[str]:
    """The name of jsonpickle's own handler that stores objects of ``cls`` (named
    ``name``), if it is the one registered for them: ``DatetimeHandler``,
    ``UUIDHandler``; else ``None``."""
    handler_name = _OWN_HANDLERS.get(cls)
    if handler_name is None:
        return None
    registered = handlers.get(cls, handlers.get(name))
    return handler_name if registered is not None and registered is getattr(handlers, handler_name, None) else None


def reduction_callable(form: Any) -> Optional[str]:
    """The dotted name of what a ``py/reduce`` form calls (its ``py/type`` or
    ``py/function``), or ``None`` when the form does not name one."""
    parts = form.get("py/reduce") if isinstance(form, dict) else None
    head = parts[0] if isinstance(parts, list) and parts else None
    name = (head.get("py/type") or head.get("py/function")) if isinstance(head, dict) else None
    return name if isinstance(name, str) else None


def missing_callable(form: Any) -> Optional[str]:
    """The name of a ``py/reduce`` form's callable when it cannot be imported (jsonpickle
    then decodes the object as an empty list, silently), else ``None``."""
    name = reduction_callable(form)
    return name if name is not None and loadclass(name) is None else None


def reduced_class(form: Any) -> Optional[str]:
    """The class a ``py/reduce`` form rebuilds, by name: its callable's, or the class
    given to ``__newobj__``; ``None`` if the form does not say."""
    parts = form.get("py/reduce") if isinstance(form, dict) else None
    if not parts or not isinstance(parts, list):
        return None
    head = parts[0]
    if head == "py/newobj" or (isinstance(head, dict) and str(head.get("py/function", "")).endswith("__newobj__")):
        arguments = parts[1].get("py/tuple") if len(parts) > 1 and isinstance(parts[1], dict) else None
        return reduction_callable({"py/reduce": arguments[:1]}) if arguments else None
    return reduction_callable(form)
