"""Qt item models that page through the database (never the whole table in memory)."""
