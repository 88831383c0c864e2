"""Trap family: instrumented __repr__/__eq__/__getstate__ called while the tool serialises."""
import pickle


class Node:
    def __init__(self, name, children=()):
        self.name = name
        self.children = list(children)

    def label(self):
        return f"<{self.name}>"

    def __repr__(self):
        return f"Node({self.label()}, {self.children!r})"

    def __eq__(self, other):
        return isinstance(other, Node) and (self.name, self.children) == (other.name, other.children)

    def __hash__(self):
        return hash(self.name)

    def __getstate__(self):
        return {"name": self.name, "children": self.children}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def size(self):
        return 1 + sum(child.size() for child in self.children)

    def rename(self, name):
        self.name = name
        return self


def main():
    tree = Node("a", [Node("b"), Node("c", [Node("d")])])
    print("size", tree.size(), tree.children[1].size())
    print("repr", repr(tree))
    print("eq", tree == Node("a", [Node("b"), Node("c", [Node("d")])]), tree == Node("z"))
    print("rename", tree.children[0].rename("bb"))
    print("pickle", pickle.loads(pickle.dumps(tree)) == tree)
