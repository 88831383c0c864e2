"""Trap family: methods and descriptors of every kind."""
import abc
import dataclasses
import enum
import inspect
import sys


class Account:
    """No __eq__: replay compares state structurally."""

    rate = 2

    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance

    def deposit(self, amount):
        self.balance += amount
        return self.balance

    @classmethod
    def opened(cls, owner):
        return cls(owner, 10)

    @staticmethod
    def fee(amount):
        return amount // 10

    @property
    def label(self):
        return f"{self.owner}:{self.balance}"

    @label.setter
    def label(self, text):
        owner, _, balance = text.partition(":")
        self.owner = owner
        self.balance = int(balance)

    def __private(self):
        return self.balance * 2

    def doubled(self):
        return self.__private()

    class Audit:
        def check(self, value):
            return value >= 0

        class Deep:
            @staticmethod
            def level(depth):
                return depth + 3


class Point:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def norm1(self):
        return abs(self.x) + abs(self.y)

    def moved(self, dx):
        return Point(self.x + dx, self.y)


@dataclasses.dataclass
class Item:
    name: str
    quantity: int = 1

    def total(self, price):
        return self.quantity * price


@dataclasses.dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int

    def bump(self):
        return Version(self.major, self.minor + 1)


if sys.version_info >= (3, 10):
    @dataclasses.dataclass(slots=True)
    class Slotted:
        first: int
        second: int = 0

        def total(self):
            return self.first + self.second


class Color(enum.Enum):
    RED = 1
    GREEN = 2

    def describe(self):
        return f"{self.name}={self.value}"

    @classmethod
    def parse(cls, text):
        return cls[text.upper()]


class Shape(abc.ABC):
    @abc.abstractmethod
    def area(self):
        """The area."""

    def describe(self):
        return f"{type(self).__name__} with area {self.area()}"


class Square(Shape):
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side ** 2


class Plugin:
    registry = []

    def __init_subclass__(cls, key=None, **kwargs):
        super().__init_subclass__(**kwargs)
        Plugin.registry.append((cls.__name__, key))

    def run(self, value):
        return f"{type(self).__name__}({value})"


class CsvPlugin(Plugin, key="csv"):
    def run(self, value):
        return super().run(value).lower()


class Box:
    def __class_getitem__(cls, item):
        return f"Box[{item.__name__}]"


class Base:
    def greet(self, name):
        return f"hello {name}"


class Child(Base):
    def greet(self, name):
        return super().greet(name).upper()


def main():
    account = Account.opened("ann")
    print("deposit", account.deposit(5), account.deposit(7), "fee", Account.fee(95), account.fee(30))
    print("label", account.label)
    account.label = "bob:40"
    print("after setter", account.owner, account.balance, account.label, "doubled", account.doubled())
    print("nested", Account.Audit().check(3), Account.Audit().check(-1), Account.Audit.Deep.level(1))
    print("descriptors", type(Account.__dict__["fee"]).__name__, type(Account.__dict__["opened"]).__name__,
          type(Account.__dict__["label"]).__name__, "_Account__private" in Account.__dict__)
    print("bound", Account.opened.__self__ is Account, account.deposit.__self__ is account,
          inspect.ismethod(account.deposit), inspect.ismethod(Account.opened), inspect.isfunction(Account.fee))
    point = Point(3, -4)
    print("slots", point.norm1(), point.moved(2).norm1(), hasattr(point, "__dict__"), Point.__slots__)
    item = Item("pen", 3)
    print("dataclass", item.total(2), item, dataclasses.asdict(item), item == Item("pen", 3))
    print("frozen", Version(1, 2).bump(), Version(1, 2) < Version(1, 3), hash(Version(1, 2)) == hash(Version(1, 2)))
    if sys.version_info >= (3, 10):
        slotted = Slotted(2, 5)
        print("slots=True", slotted.total(), slotted, Slotted.__slots__)
    print("enum", Color.RED.describe(), Color.parse("green"), list(Color), Color(2).describe())
    try:
        Shape()
    except TypeError as error:
        print("abstract", error)
    print("abc", Square(3).describe(), sorted(Shape.__abstractmethods__), isinstance(Square(1), Shape))
    print("init_subclass", Plugin.registry, CsvPlugin().run("X"))
    print("class_getitem", Box[int], Box[str])
    print("super", Child().greet("z"), Base().greet("y"))
