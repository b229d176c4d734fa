"""Database layer: peewee tables, opening the shop file safely, numbered schema migrations."""
