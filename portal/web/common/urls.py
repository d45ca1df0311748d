"""How numbers in URLs are read."""

from werkzeug.routing import IntegerConverter

# The largest id a database integer column holds (PostgreSQL's INTEGER).
LARGEST_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """``<int:...>`` only matches ids the database can hold: a larger number is a 404, not a database error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)
