from datetime import date

from sqlalchemy import Date, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class KeptFile(Base):
    """A cleaned evidence file kept between two sends of one reporter's form.

    Sealed under a key that only the reporter's own session holds; in clear a
    random id and the day from which it may be deleted, nothing finer.
    """

    __tablename__ = "kept_files"

    # Random, not a sequence: the ids tell nothing of the order files came in.
    id: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    deletable_on: Mapped[date] = mapped_column(Date, index=True)
