"""What the database keeps, searched as a thief would: every text and binary column of every table."""

from sqlalchemy import LargeBinary, String, Text, text

from portal.db import Base


def stored_text_anywhere(app, needle: str) -> list[str]:
    """The ``table.column`` names whose stored values contain ``needle`` (on SQLite and PostgreSQL alike)."""
    found = []
    with app.extensions["portal.sessions"]() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c.name for c in table.columns if isinstance(c.type, (String, Text, LargeBinary))]
            for column in columns:
                for (value,) in session.execute(text(f'SELECT "{column}" FROM "{table.name}"')):
                    if value is not None and needle.encode() in (value if isinstance(value, bytes)
                                                                 else str(value).encode()):
                        found.append(f"{table.name}.{column}")
    return found
