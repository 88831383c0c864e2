"""Functions whose wrappers are put back (or not) once their budgets are full."""


def alone(x):
    """Held by this module only: its plain function goes back once its budget is full."""
    return x + 1


def shared(x):
    """Also held by ``identity`` (``from identity_lib import shared``): keeps its wrapper."""
    return x * 2


def in_partial(x, y):
    """Held by a ``functools.partial`` that calls it: keeps its wrapper."""
    return x - y


def trigger(x):
    """A fresh function: its recorded call gives the tool a moment to put wrappers back."""
    return -x


class Holder:
    def method(self, x):
        return x * 3
