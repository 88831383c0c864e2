"""Process-wide flags read by the plugin hooks to stay free when unused.

Kept import-light on purpose: the plugin imports this module at startup, and
runs that never create a union or a lazy value must pay nothing.
"""
from __future__ import annotations

from typing import Any

# Marker attribute set on the functions of generated union fixtures.
UNION_ATTR = "__cleanup_trace_union__"


class _State(object):
    unions_created = False
    lazies_created = False


STATE = _State()


def union_info(func: Any) -> Any:
    """The union description attached to a fixture function, or None."""
    return getattr(func, UNION_ATTR, None)
