"""Trap family: decorated functions (wraps, lru_cache, contextmanager, singledispatch...)."""
import contextlib
import functools
import inspect

CALLS = []
REGISTRY = {}


def traced(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        CALLS.append(func.__name__)
        return func(*args, **kwargs)
    return wrapper


@traced
def double(number):
    """Twice the number."""
    return number * 2


@functools.lru_cache(maxsize=None)
def fib(number):
    return number if number < 2 else fib(number - 1) + fib(number - 2)


@functools.lru_cache(maxsize=2)
def slow_square(number):
    CALLS.append(("square", number))
    return number * number


@contextlib.contextmanager
def tag(name):
    print(f"<{name}>")
    try:
        yield name.upper()
    finally:
        print(f"</{name}>")


@contextlib.contextmanager
def suppressing(kind):
    try:
        yield
    except kind as error:
        print("suppressed", type(error).__name__, error)


@functools.singledispatch
def show(value):
    return f"object:{value!r}"


@show.register
def _(value: int):
    return f"int:{value}"


@show.register(list)
def _show_list(value):
    return "list:" + ",".join(show(item) for item in value)


class Formatter:
    @functools.singledispatchmethod
    def fmt(self, arg):
        return f"? {arg}"

    @fmt.register
    def _(self, arg: int):
        return f"int {arg}"


class Report:
    def __init__(self, rows):
        self.rows = rows

    @functools.cached_property
    def total(self):
        CALLS.append("total computed")
        return sum(self.rows)


class Command:
    """A decorator that returns a non-function."""

    def __init__(self, func):
        self.func = func
        self.name = func.__name__

    def __call__(self, *args):
        return self.func(*args)


def command(func):
    return Command(func)


def register(func):
    REGISTRY[func.__name__] = func
    return "registered"


@command
def greet(name):
    return f"hello {name}"


@register
def handler(event):
    return f"handled {event}"


def with_default(value, suffix="!"):
    return f"{value}{suffix}"


partial_default = functools.partial(with_default, suffix="?")


def main():
    print("wraps", double(4), double.__name__, double.__doc__, double.__wrapped__.__name__, CALLS)
    print("signature", inspect.signature(double))
    print("lru", fib(20), fib.cache_info())
    fib.cache_clear()
    print("cleared", fib.cache_info(), fib(5), fib.cache_info())
    print("lru bounded", [slow_square(n) for n in (1, 2, 1, 3, 1)], slow_square.cache_info(), CALLS[-4:])
    with tag("b") as name:
        print("inside", name)
    try:
        with tag("i"):
            raise ValueError("inner")
    except ValueError as error:
        print("propagated", error)
    with suppressing(KeyError):
        raise KeyError("k")
    print("dispatch", show("s"), show(3), show([1, "a"]), show(2.5), sorted(show.registry, key=str))
    print("dispatch method", Formatter().fmt("x"), Formatter().fmt(1))
    report = Report([1, 2, 3])
    print("cached_property", report.total, report.total, CALLS.count("total computed"), "total" in vars(report))
    print("non-function", type(greet).__name__, greet("ann"), greet.name, handler, REGISTRY["handler"]("e"))
    print("partial", partial_default("a"), with_default("b"))
