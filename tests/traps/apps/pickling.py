"""Trap family: pickling and copying instrumented functions; multiprocessing pools."""
import copy
import multiprocessing
import pickle


def square(number):
    return number * number


class Holder:
    def __init__(self, callback):
        self.callback = callback

    def call(self, value):
        return self.callback(value)

    @classmethod
    def build(cls):
        return cls(square)

    @staticmethod
    def triple(value):
        return value * 3


def main():
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        restored = pickle.loads(pickle.dumps(square, protocol))
        print("pickle", protocol, restored is square, restored(7))
    print("class members", pickle.loads(pickle.dumps(Holder.triple))(2),
          pickle.loads(pickle.dumps(Holder.build))().call(3))
    structure = {"callback": square, "items": [1, 2]}
    deep = copy.deepcopy(structure)
    print("deepcopy", deep["callback"] is square, deep["callback"](3), deep["items"] is structure["items"])
    print("copy", copy.copy(square) is square)
    holder = copy.deepcopy(Holder(square))
    print("deepcopy object", holder.call(4), holder.callback is square)
    print("pickle object", pickle.loads(pickle.dumps(Holder(square))).call(5))
    for method in ("fork", "spawn"):
        context = multiprocessing.get_context(method)
        with context.Pool(2) as pool:
            print(method, pool.map(square, range(6)), pool.map(Holder.triple, [1, 2]))


def main_bound_method():
    """A bound method pickles as (instance, name): it must keep its instance."""
    holder = Holder(square)
    restored = pickle.loads(pickle.dumps(holder.call))
    print("bound", restored(6), type(restored.__self__).__name__)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        print("pool", pool.map(holder.call, [1, 2]))
