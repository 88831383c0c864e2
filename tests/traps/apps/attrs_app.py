"""Trap family: attrs classes, slotted (the default of attrs.define) with super()."""
import attr
import attrs


@attr.s(slots=True)
class Base:
    x = attr.ib()

    def describe(self):
        return f"x={self.x}"


@attr.s(slots=True)
class Child(Base):
    y = attr.ib()

    def describe(self):
        return super().describe() + f", y={self.y}"


@attrs.define
class Point:
    x: int
    y: int = 0

    def norm1(self):
        return abs(self.x) + abs(self.y)


@attrs.define
class Point3(Point):
    z: int = 0

    def norm1(self):
        return super().norm1() + abs(self.z)

    @classmethod
    def origin(cls):
        return cls(0, 0, 0)


@attrs.frozen
class Frozen:
    name: str

    def shout(self):
        return self.name.upper()


def main():
    print(Child(1, 2).describe(), Base(5).describe())
    print(Point3(1, -2, 3).norm1(), Point(4).norm1(), Point3.origin())
    print(Frozen("a").shout(), Child(1, 2) == Child(1, 2), Point3.__slots__)
