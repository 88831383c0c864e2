"""Trap family: identity of functions once their budgets are full and wrappers go back.

Every line printed must be the same with and without the tool: ``type()`` of a function
shows the plain ``function`` once the wrapper has been put back; identities between
holders stay true whatever the tool did.
"""
import functools
import types

import identity_lib
from identity_lib import shared


def main():
    partial = functools.partial(identity_lib.in_partial, 10)
    # More distinct calls than any budget, and than the calls a full budget stays watched
    # for (repeated calls of recorded cases are compared with them for a while).
    for value in range(60):
        identity_lib.alone(value)
        shared(value)
        partial(value)
        identity_lib.Holder().method(value)
    identity_lib.trigger(1)
    identity_lib.trigger(2)
    print("alone is a plain function:", type(identity_lib.alone) is types.FunctionType)
    print("method is a plain function:", type(vars(identity_lib.Holder)["method"]) is types.FunctionType)
    print("shared is the module's:", shared is identity_lib.shared)
    print("partial holds the module's:", partial.func is identity_lib.in_partial)
    print("results:", identity_lib.alone(1), shared(2), partial(3), identity_lib.Holder().method(4))
