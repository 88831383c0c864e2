"""Price rules."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def apply_discount(price: Decimal, percent: int) -> Decimal:
    if not 0 <= percent <= 100:
        raise ValueError(f"discount must be between 0 and 100, got {percent}")
    discounted = price * (Decimal(100 - percent) / Decimal(100))
    return discounted.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def bulk_prices(price: Decimal, tiers):
    """Yield (quantity, unit price) for each discount tier."""
    for quantity, percent in tiers:
        yield quantity, apply_discount(price, percent)
