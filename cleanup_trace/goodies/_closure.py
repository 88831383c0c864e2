"""Split a test's fixture closure into union branches (pure functions).

A fixture union makes the closure a tree: at each union, one branch per
alternative. Each branch is the ordered list of fixtures it needs, computed
depth first (a fixture is followed by its dependencies, a union by its chosen
alternative, then whatever was still pending). Kept free of pytest so it can
be tested on plain dictionaries.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

Branch = Tuple[List[str], Dict[str, int]]  # (ordered names, union -> chosen index)


def _walk_impl(pending, names, choices, deps_of, alternatives_of) -> List[Branch]:
    names = list(names)
    seen = set(names)
    pending = list(pending)
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        names.append(name)
        alts = alternatives_of(name)
        if alts is not None:
            out: List[Branch] = []
            for index, alt in enumerate(alts):
                sub_choices = dict(choices)
                sub_choices[name] = index
                out.extend(_walk_impl([alt] + pending, names, sub_choices, deps_of, alternatives_of))
            return out
        pending = [d for d in deps_of(name) if d not in seen] + pending
    return [(names, choices)]


def split_closure(
    initialnames: Sequence[str],
    deps_of: Callable[[str], Sequence[str]],
    alternatives_of: Callable[[str], Optional[Sequence[str]]],
) -> List[Branch]:
    """All root-to-leaf branches of the closure tree, in depth-first order."""
    return _walk_impl(list(initialnames), [], {}, deps_of, alternatives_of)
