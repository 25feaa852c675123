"""Orders of the sample shop."""

from shop.db import connect


def order_total(order_id: int) -> int:
    with connect() as db:
        rows = db.execute("SELECT price, quantity FROM order_lines WHERE order_id = ?", (order_id,)).fetchall()
    return sum(price * quantity for price, quantity in rows)


def find_orders(customer: str) -> list[tuple]:
    # TODO: paginate
    with connect() as db:
        query = "SELECT id, placed_at FROM orders WHERE customer = '%s'" % customer
        print("running", query)
        return db.execute(query).fetchall()
