"""Trap family: coroutines, async generators, asyncio.gather."""
import asyncio
import inspect


async def fetch(number):
    await asyncio.sleep(0)
    return number * 2


async def missing(key):
    await asyncio.sleep(0)
    raise LookupError(f"missing {key}")


async def ticks(count):
    for tick in range(count):
        await asyncio.sleep(0)
        yield tick


async def endless(start):
    while True:
        yield start
        start += 1


async def gather_all(numbers):
    return await asyncio.gather(*(fetch(number) for number in numbers))


class Service:
    def __init__(self, prefix):
        self.prefix = prefix

    async def get(self, key):
        await asyncio.sleep(0)
        return f"{self.prefix}{key}"


async def amain():
    print("await", await fetch(2), await Service("s:").get("k"))
    print("gather", await gather_all([1, 2, 3]), await asyncio.gather(fetch(5), fetch(6)))
    try:
        await missing("x")
    except LookupError as error:
        print("raised", error)
    print("async for", [tick async for tick in ticks(3)])
    stream = endless(10)
    print("partial", await stream.__anext__(), await stream.__anext__())
    await stream.aclose()
    print("inspect", inspect.iscoroutinefunction(fetch), inspect.isasyncgenfunction(ticks),
          inspect.iscoroutinefunction(Service.get), inspect.isasyncgenfunction(endless))
    coroutine = fetch(1)
    print("coroutine", inspect.iscoroutine(coroutine), await coroutine)
    tasks = [asyncio.create_task(fetch(number)) for number in (7, 8)]
    print("tasks", [await task for task in tasks])


def main():
    asyncio.run(amain())
