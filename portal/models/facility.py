from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Facility(Base):
    """A production facility from the contractor's disclosure."""

    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    name: Mapped[str] = mapped_column(String(300))
    # The name workers use, in the local script.
    local_name: Mapped[str] = mapped_column(String(300))
    supplier: Mapped[str] = mapped_column(String(300))
    address: Mapped[str] = mapped_column(Text)
    products: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
