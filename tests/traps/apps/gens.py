"""Trap family: generators (laziness, send/throw/close, return values, yield from)."""
import inspect
import itertools

LOG = []


def naturals(start):
    """Infinite: must never be drained by the tool."""
    number = start
    while True:
        LOG.append(number)
        yield number
        number += 1


def countdown(number):
    while number > 0:
        yield number
        number -= 1
    return "liftoff"


def accumulator():
    total = 0
    while True:
        value = yield total
        if value is None:
            return total
        total += value


def guarded():
    try:
        yield 1
        yield 2
    except ValueError as error:
        yield f"caught {error}"
    finally:
        LOG.append("guarded finally")


def delegating(number):
    result = yield from countdown(number)
    yield result


def failing(number):
    yield number
    raise KeyError(number)


def empty(value):
    return value
    yield  # pragma: no cover


def pairs(words):
    for index, word in enumerate(words):
        yield (index, word)


def state_name(generator):
    return inspect.getgeneratorstate(generator)


def main():
    print("islice", list(itertools.islice(naturals(10), 3)), "produced", LOG)
    LOG.clear()
    generator = naturals(100)
    print("halfway", next(generator), next(generator), "produced", LOG, state_name(generator))
    generator.close()
    print("closed", state_name(generator), LOG)
    LOG.clear()
    print("countdown", list(countdown(3)))
    generator = countdown(2)
    collected = []
    try:
        while True:
            collected.append(next(generator))
    except StopIteration as stop:
        print("returned", collected, stop.value)
    accumulating = accumulator()
    print("send", next(accumulating), accumulating.send(5), accumulating.send(7))
    try:
        accumulating.send(None)
    except StopIteration as stop:
        print("send returned", stop.value)
    handled = guarded()
    print("throw", next(handled), handled.throw(ValueError("boom")))
    handled.close()
    print("after close", LOG, state_name(handled))
    unhandled = guarded()
    next(unhandled)
    try:
        unhandled.throw(TypeError("bad"))
    except TypeError as error:
        print("thrown out", type(error).__name__, error, LOG)
    print("yield from", list(delegating(2)))
    try:
        for item in failing(7):
            print("failing yielded", item)
    except KeyError as error:
        print("KeyError", error)
    try:
        next(empty(5))
    except StopIteration as stop:
        print("empty returned", stop.value)
    print("pairs", dict(pairs(["a", "b"])), list(pairs(("x",))))
    print("isgenerator", inspect.isgenerator(countdown(1)), inspect.isgeneratorfunction(countdown))
    print("iter is self", iter(generator) is generator)


def main_object_names():
    """What a generator object tells about itself (logging, repr)."""
    generator = countdown(1)
    print(generator.__name__, generator.__qualname__)
    print(repr(generator).split(" at ")[0])
