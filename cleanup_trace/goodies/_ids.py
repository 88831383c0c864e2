"""Test-id rendering, mirroring what pytest shows for a parameter value.

The goodies compute some ids themselves (combined fixture parameters, union
alternatives) and must render plain values exactly like pytest would, so a
suite keeps its ids when switching to the goodies.
"""
from __future__ import annotations

import enum
import itertools
import re
from typing import Any, Callable, List, Optional, Sequence

from . import _compat

# An id part that is removed after parametrization: used for union
# alternatives that must not show up in the test id (value groups in the
# default idstyle). Users cannot write it by accident.
EMPTY_ID = "<pytest_cases_empty_id>"


def is_empty_id(part: str) -> bool:
    # pytest may have suffixed duplicates (``<...>0``, ``<...>1``).
    return part.startswith(EMPTY_ID)


def render_value(value: Any, argname: str, idx: int) -> str:
    """pytest's id for one value (``IdMaker._idval_from_value`` rules)."""
    from ._lazy import is_lazy  # lazy values render as their own id

    if is_lazy(value):
        return value.get_id()
    if isinstance(value, (str, bytes)):
        return _compat.ascii_escaped(value)
    if value is None or isinstance(value, (float, int, bool, complex)):
        return str(value)
    if isinstance(value, re.Pattern):
        return _compat.ascii_escaped(value.pattern)
    if isinstance(value, enum.Enum):
        return str(value)
    name = getattr(value, "__name__", None)
    if isinstance(name, str):
        return name
    return "%s%d" % (argname, idx)


def render_values(argnames: Sequence[str], values: Sequence[Any], idx: int) -> str:
    """Several argnames: each value rendered, joined by ``-`` (as pytest)."""
    return "-".join(render_value(v, n, idx) for n, v in zip(argnames, values))


def resolve_ids(ids: Any, argvalues: Sequence[Any]) -> Optional[List[Any]]:
    """Explicit ids as a list aligned with ``argvalues`` (None entries mean
    "compute it"), or None. A callable is applied per value; an iterable (even
    an infinite generator) is consumed up to ``len(argvalues)``."""
    if ids is None:
        return None
    if callable(ids):
        return [ids(v) for v in argvalues]
    n = len(argvalues)
    if hasattr(ids, "__len__"):
        taken = list(ids)
    else:
        taken = list(itertools.islice(iter(ids), n))
    if len(taken) != n:
        raise ValueError(
            "Explicit list or generator of `ids` provided has a different length (%d)"
            " than the number of argvalues (%d). Please make sure that you provide"
            " one id per argvalue" % (len(taken), n)
        )
    return taken


def id_to_str(idval: Any) -> Optional[str]:
    """Normalize a user-given id (pytest accepts any object with ``str``)."""
    if idval is None:
        return None
    if isinstance(idval, str):
        return idval
    return str(idval)


def make_unique(ids: List[str]) -> List[str]:
    """Suffix duplicates with their counter, as pytest does for test ids."""
    from collections import Counter

    counts = Counter(ids)
    if all(c == 1 for c in counts.values()):
        return ids
    seen: dict = {}
    out = []
    for i in ids:
        if counts[i] > 1:
            suffix = "_" if i and i[-1].isdigit() else ""
            n = seen.get(i, 0)
            new = "%s%s%d" % (i, suffix, n)
            while new in counts:
                n += 1
                new = "%s%s%d" % (i, suffix, n)
            seen[i] = n + 1
            out.append(new)
        else:
            out.append(i)
    return out


def call_idgen(idgen: Callable[..., Any], **params: Any) -> str:
    return str(idgen(**params))
