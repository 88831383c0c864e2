"""Trap family: functions passed as values (lambdas, closures) and mutated arguments."""


def apply(func, value):
    return func(value)


def make_adder(amount):
    return lambda value: value + amount


def make_scaler(factor):
    def scale(value):
        return value * factor
    return scale


def compose(first, second):
    return [second(first(value)) for value in range(3)]


def append_length(items):
    items.append(len(items))
    return len(items)


def fill(mapping, key):
    mapping[key] = len(mapping)
    mapping.setdefault("log", []).append(key)


def drain(items):
    total = 0
    while items:
        total += items.pop()
    return total


class Bag:
    def __init__(self):
        self.items = []

    def add(self, item):
        self.items.append(item)
        return len(self.items)


def negate(value):
    return -value


def main():
    print("builtin", apply(abs, -2), apply(negate, 4))
    print("closure", apply(make_scaler(3), 2), make_scaler(2)(5))
    print("compose", compose(make_scaler(4), negate), compose(negate, make_scaler(-1)))
    items = [1, 2]
    print("mutated", append_length(items), append_length(items), items)
    mapping = {}
    fill(mapping, "a")
    fill(mapping, "b")
    print("filled", mapping)
    print("drained", drain([1, 2, 3]), drain([]))
    bag = Bag()
    print("bag", bag.add("x"), bag.add("y"), bag.items)


def main_lambdas():
    """Lambdas, also closures made of lambdas, as arguments and as return values."""
    print("lambda", apply(lambda value: value * 3, 4))
    add_five = make_adder(5)
    print("closure", apply(add_five, 1), add_five(2))
    print("compose", compose(add_five, lambda value: -value))
