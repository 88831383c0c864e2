"""Trap family: introspection of instrumented functions, and traceback line numbers."""
import functools
import inspect
import traceback
import types


def documented(a, b: int = 2, *args, c, d=4, **kwargs) -> str:
    """Doc of documented."""
    return f"{a}{b}{args}{c}{d}{kwargs}"


def counting():
    yield 1


async def waiting(delay):
    return delay


async def streaming():
    yield 1


def plain_decorator(func):
    @functools.wraps(func)
    def wrapper(*args):
        return func(*args)
    return wrapper


@plain_decorator
def decorated(x):
    """Decorated doc."""
    return x


class Klass:
    """Klass doc."""

    def method(self, x):
        """Method doc."""
        return x

    @classmethod
    def make(cls):
        return cls()

    @staticmethod
    def helper(y=1):
        return y


def mark(func):
    func.marked = "yes"
    return func


@plain_decorator
@mark
def marked_function(x):
    return x


def fails(value):
    if value:
        raise ValueError(f"bad {value}")
    return value


def calls_fails(value):
    return fails(value) + 1


def describe(func):
    code = func.__code__
    return [
        func.__name__, func.__qualname__, func.__doc__, func.__module__, str(inspect.signature(func)),
        inspect.isfunction(func), inspect.ismethod(func), inspect.isgeneratorfunction(func),
        inspect.iscoroutinefunction(func), inspect.isasyncgenfunction(func), callable(func),
        isinstance(func, (types.FunctionType, types.MethodType)), func.__defaults__, func.__kwdefaults__,
        # (the parameters: a function recording in its body has one local more, see inline)
        func.__annotations__, code.co_firstlineno, code.co_name,
        code.co_varnames[:code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & 4) + bool(code.co_flags & 8)],
        inspect.getsourcelines(func)[1], inspect.getsource(func).splitlines()[0].strip(),
        inspect.getfile(func).endswith("introspect.py"), inspect.unwrap(func).__name__,
    ]


def main():
    instance = Klass()
    for func in (documented, counting, waiting, streaming, decorated, Klass.method, instance.method,
                 Klass.make, Klass.helper, fails):
        print(describe(func))
    # (plain functions record in their body and stay functions; generators and coroutines
    # keep a wrapper, see cleanup_trace.inline)
    print("function types", [type(func) is types.FunctionType for func in (
        documented, inspect.unwrap(decorated), Klass.__dict__["method"], Klass.__dict__["make"].__func__,
        Klass.__dict__["helper"].__func__, fails, calls_fails)])
    print("calls", documented(1, c=3, e=5), instance.method(5), Klass.make().helper(), decorated(2))
    print("wrapped", decorated.__wrapped__.__name__, decorated.__wrapped__.__doc__)
    print("attributes", Klass.__doc__, Klass.__dict__["method"].__doc__)
    documented.tag = "set"
    print("set attribute", documented.tag, getattr(inspect.unwrap(documented), "tag", None))
    print("bound", instance.method.__self__ is instance, instance.method.__func__.__name__)
    print("bound kinds", type(instance.method) is types.MethodType, type(Klass.make) is types.MethodType,
          instance.method.__func__ is Klass.__dict__["method"], Klass.make.__func__ is Klass.__dict__["make"].__func__,
          instance.method == instance.method, instance.method != Klass().method)
    print("class members", inspect.getmembers(Klass, inspect.isfunction)[0][0],
          [name for name, _ in inspect.getmembers(instance, inspect.ismethod)])
    print("closure", documented.__closure__, documented.__globals__ is globals())
    for value in (0, 3):
        try:
            print("called", calls_fails(value))
        except ValueError as error:
            frames = [(frame.name, frame.lineno, frame.line) for frame in traceback.extract_tb(error.__traceback__)
                      if frame.filename == __file__]
            print("traceback", frames)
            print("stack", [(frame.function, frame.lineno) for frame in inspect.trace()
                            if frame.filename == __file__])


def main_function_attributes():
    """A function's __dict__: vars(), and what functools.wraps copies from it."""
    print("vars", sorted(vars(documented)), documented.__dict__ is inspect.unwrap(documented).__dict__)
    print("copied by wraps", getattr(marked_function, "marked", "missing"), marked_function(1))
