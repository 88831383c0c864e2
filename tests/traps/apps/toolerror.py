"""Trap family: failure containment. An argument on which the tool itself fails."""


class Broken(BaseException):
    """Some libraries derive their errors from BaseException: the tool's encoder does not
    expect it."""


class Record:
    """A __getstate__ raising Broken: storing a Record fails inside the tool."""

    def __init__(self, data):
        self.data = data

    def __getstate__(self):
        raise Broken("no state to give")

    def __getattr__(self, name):
        return self.data[name]


def field(record, name):
    return getattr(record, name)


def main():
    record = Record({"a": 1, "b": 2})
    print("field", field(record, "a"), field(record, "b"), field(Record({"c": 3}), "c"))
    try:
        field(record, "zz")
    except KeyError as error:
        print("KeyError", error)
