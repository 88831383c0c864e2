"""Items and the inventory that holds them."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


class OutOfStock(Exception):
    """Raised when more units are taken than the inventory holds."""


@dataclass
class Item:
    sku: str
    name: str
    price: Decimal
    quantity: int = 0
    tags: list = field(default_factory=list)

    @property
    def value(self) -> Decimal:
        return self.price * self.quantity

    @classmethod
    def from_line(cls, line: str) -> "Item":
        sku, name, price, quantity = (part.strip() for part in line.split(","))
        return cls(sku, name, Decimal(price), int(quantity))

    @staticmethod
    def normalise_sku(raw: str) -> str:
        return raw.strip().upper().replace(" ", "-")


class Inventory:
    def __init__(self) -> None:
        self.items: dict[str, Item] = {}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Inventory) and self.items == other.items

    def add(self, item: Item) -> None:
        self.items[item.sku] = item

    def take(self, sku: str, quantity: int) -> Item:
        item = self.items[sku]
        if quantity > item.quantity:
            raise OutOfStock(f"{sku}: wanted {quantity}, have {item.quantity}")
        item.quantity -= quantity
        return item

    def total_value(self) -> Decimal:
        return sum((item.value for item in self.items.values()), Decimal("0"))

    def low_stock(self, threshold: int):
        """Yield the SKUs at or below ``threshold`` units, lazily."""
        for sku, item in sorted(self.items.items()):
            if item.quantity <= threshold:
                yield sku
