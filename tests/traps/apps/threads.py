"""Trap family: concurrent calls from a thread pool."""
import threading
from concurrent.futures import ThreadPoolExecutor

LOCK = threading.Lock()
SEEN = []


def work(number):
    with LOCK:
        SEEN.append(number)
    return number * number


def same(value):
    return value + 1


def main():
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(200)))
        repeated = list(pool.map(same, [1] * 200))
    print(sum(results), len(SEEN), sorted(SEEN) == list(range(200)), set(repeated))
