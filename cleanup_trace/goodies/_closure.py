"""Split a test's fixture closure into a tree of union branches (pure).

A fixture union makes the closure a tree: at each union, one child per
alternative. Names are gathered depth first (a fixture is followed by its
dependencies, a union by its chosen alternative, then whatever was still
pending). Kept free of pytest so it can be tested on plain dictionaries.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence


class Node(object):
    """``names`` in parametrization order; if ``split`` is a union name (the
    last of ``names``), ``children[i]`` continues with its alternative i."""

    __slots__ = ("names", "split", "children")

    def __init__(self, names: List[str]) -> None:
        self.names = names
        self.split: Optional[str] = None
        self.children: List["Node"] = []

    def leaves(self, prefix: Sequence[str] = ()) -> List[List[str]]:
        """The full ordered name list of every root-to-leaf branch."""
        path = list(prefix) + self.names
        if not self.children:
            return [path]
        return [leaf for child in self.children for leaf in child.leaves(path)]


def split_closure(
    initialnames: Sequence[str],
    deps_of: Callable[[str], Sequence[str]],
    alternatives_of: Callable[[str], Optional[Sequence[str]]],
) -> Node:
    """The closure tree of a test whose direct fixtures are ``initialnames``."""
    return _build(list(initialnames), set(), deps_of, alternatives_of)


def _build(pending, seen, deps_of, alternatives_of) -> Node:
    node = Node([])
    seen = set(seen)
    pending = list(pending)
    while pending:
        name = pending.pop(0)
        if name in seen:
            continue
        seen.add(name)
        node.names.append(name)
        alts = alternatives_of(name)
        if alts is not None:
            node.split = name
            node.children = [_build([alt] + pending, seen, deps_of, alternatives_of) for alt in alts]
            return node
        pending = [d for d in deps_of(name) if d not in seen] + pending
    return node
