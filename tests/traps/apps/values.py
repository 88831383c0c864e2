"""Trap family: values of many types, and user objects without __eq__."""
import datetime
import math
from decimal import Decimal
from fractions import Fraction


class Money:
    """No __eq__: replay compares the state."""

    def __init__(self, amount, currency):
        self.amount = amount
        self.currency = currency

    def __repr__(self):
        return f"Money({self.amount!r}, {self.currency!r})"


def add_tax(price, rate):
    return (price * (1 + Decimal(rate.numerator) / Decimal(rate.denominator))).quantize(Decimal("0.01"))


def halve(value):
    return value / 2


def shift(moment, days):
    return moment + datetime.timedelta(days=days)


def weekday(day):
    return day.strftime("%A"), day.isoformat()


def unique(items):
    return set(items)


def frozen(items):
    return frozenset(items)


def pair(first, second):
    return (first, second)


def as_list(values):
    return list(values)


def ratio(numerator, denominator):
    return numerator / denominator if denominator else math.nan


def nan_inside(values):
    return {"mean": math.fsum(values) / len(values), "values": values}


def infinite(sign):
    return sign * math.inf


def flip(data):
    return bytes(reversed(data)), data.hex()


def mutable_bytes(data):
    return bytearray(data) + b"!"


def deep(levels):
    result = {}
    node = result
    for level in range(levels):
        node[f"level{level}"] = {"n": level, "tags": (level, str(level))}
        node = node[f"level{level}"]
    return result


def mixed_keys():
    return {1: "int", (2, 3): "tuple", None: "none", "s": {frozenset({1}): b"x"}}


def convert(money, rate):
    return Money(money.amount * rate, "EUR")


def wallet(amounts):
    return [Money(amount, "USD") for amount in amounts]


def complex_square(number):
    return number * number


def main():
    print("decimal", add_tax(Decimal("10.00"), Fraction(1, 5)), halve(Fraction(3, 4)), halve(Decimal("1.1")))
    moment = datetime.datetime(2024, 2, 28, 12, 30, tzinfo=datetime.timezone.utc)
    print("datetime", shift(moment, 1), shift(datetime.date(2024, 2, 28), 2), weekday(datetime.date(2024, 3, 1)))
    print("sets", sorted(unique(["b", "a", "b"])), sorted(frozen([3, 1])), unique([]))
    print("tuples", pair(1, [2]), as_list((1, 2)), pair((1,), (2,)))
    print("nan", ratio(1, 0), ratio(1, 4), nan_inside([1.0, math.nan]), infinite(-1))
    print("bytes", flip(b"abc"))
    print("nested", deep(3), mixed_keys())
    print("objects", convert(Money(10, "USD"), 2), wallet([1, 2]))
    print("complex", complex_square(1 + 2j))


def main_bytearray():
    print("bytearray", mutable_bytes(b"abc"), mutable_bytes(bytearray(b"x")))
