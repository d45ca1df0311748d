"""How numbers in URLs are read."""

from werkzeug.routing import IntegerConverter

from ...db import LARGEST_ID


class RowIdConverter(IntegerConverter):
    """``<int:...>`` only matches ids the database can hold: a larger number is a 404, not a database error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)
