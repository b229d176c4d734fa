"""Use cases in plain Python: they take the open shop database and return plain values."""
