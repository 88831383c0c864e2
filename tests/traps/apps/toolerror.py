"""Trap family: failure containment. An argument on which the tool itself fails."""


class Record:
    """__slots__ and a __getattr__ that raises KeyError: the tool's probe of __dict__ fails."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data

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
