"""Database access of the sample shop."""

import sqlite3


def connect() -> sqlite3.Connection:
    return sqlite3.connect("shop.sqlite3")
