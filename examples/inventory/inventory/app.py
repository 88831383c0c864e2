"""Run a day of stock movements and print a report."""
from __future__ import annotations

from decimal import Decimal

from inventory.models import Inventory, Item, OutOfStock
from inventory.pricing import apply_discount, bulk_prices

STOCK = """\
a-100, Widget, 2.50, 40
b-200, Gadget, 12.00, 5
c-300, Gizmo, 7.25, 0
"""


def load(text: str) -> Inventory:
    inventory = Inventory()
    for line in text.strip().splitlines():
        item = Item.from_line(line)
        item.sku = Item.normalise_sku(item.sku)
        inventory.add(item)
    return inventory


def main() -> None:
    inventory = load(STOCK)
    print("stock value:", inventory.total_value())
    for sku, quantity in (("A-100", 15), ("B-200", 2), ("B-200", 9)):
        try:
            item = inventory.take(sku, quantity)
            print(f"took {quantity} x {item.name}, {item.quantity} left")
        except OutOfStock as error:
            print("refused:", error)
    print("low stock:", list(inventory.low_stock(3)))
    print("sale price:", apply_discount(Decimal("12.00"), 25))
    try:
        apply_discount(Decimal("1.00"), 120)
    except ValueError as error:
        print("bad discount:", error)
    for quantity, price in bulk_prices(Decimal("2.50"), [(10, 5), (100, 15)]):
        print(f"from {quantity} units: {price} each")
    print("stock value:", inventory.total_value())


if __name__ == "__main__":
    main()
