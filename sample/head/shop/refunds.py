"""Refunds of the sample shop."""

from shop.db import connect


def refund(order_id: int, amount: int) -> None:
    with connect() as db:
        db.execute("INSERT INTO refunds (order_id, amount) VALUES (?, ?)", (order_id, amount))
