"""A call-heavy synthetic application: many small calls into user functions.

Copied into a temporary directory and imported from there as ``bench_app`` (user code:
neither site-packages nor the standard library), so every tool under test sees it as the
program to record. Only plain functions and instance methods: pytest-cleanup 0.4 turns
static and class methods into plain functions when it patches a class.
"""

_LABELS = ("zero", "one", "two", "three")


class Vec:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def dot(self, other):
        return self.x * other.x + self.y * other.y

    def scaled(self, k):
        return Vec(self.x * k, self.y * k)


def add(a, b):
    return a + b


def mul(a, b):
    return a * b


def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def parity(n):
    return n % 2 == 0


def label(code):
    return _LABELS[code % 4]


def step(i, v):
    """Nine instrumented calls: step, add, mul, clamp, parity, scaled, Vec.__init__, dot, add|label."""
    a = add(i, 3)
    b = mul(a, 2)
    c = clamp(b - (i & 1), 0, 1000)
    p = parity(c)
    w = v.scaled(2)
    d = v.dot(w)
    return add(c, d) if p else label(c)


CALLS_PER_STEP = 9


def warm(rounds):
    """Distinct arguments for every function: fills each budget (5 by default)."""
    result = None
    for i in range(rounds):
        result = step(i, Vec(i, i + 1))
    return result


def steady(n):
    """The measured loop; its own call and Vec(1, 2) are two more calls."""
    v = Vec(1, 2)
    result = None
    for i in range(n):
        result = step(i, v)
    return result
