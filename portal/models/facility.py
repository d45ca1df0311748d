from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Facility(Base):
    """A production facility from the contractor's disclosure.

    A facility dropped from a later disclosure is kept, inactive: old cases
    still point at it, and the record shows what was disclosed when.
    """

    __tablename__ = "facilities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The contractor's own identifier of the facility, stable across disclosures.
    reference: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    supplier_office: Mapped[str] = mapped_column(Text, default="")
    country: Mapped[str] = mapped_column(String(2), index=True)
    name: Mapped[str] = mapped_column(String(300))
    # The name workers use, in the local script.
    local_name: Mapped[str] = mapped_column(String(300))
    supplier: Mapped[str] = mapped_column(String(300))
    address: Mapped[str] = mapped_column(Text)
    products: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class DisclosureImport(Base):
    """One disclosure file as it was imported (or previewed): the history the
    contracting authority and Electronics Watch ask for."""

    __tablename__ = "disclosure_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    content: Mapped[str] = mapped_column(Text)
    # JSON: the facilities added, removed and changed against the registry of the time.
    changes: Mapped[str] = mapped_column(Text, default="{}")
    # How the file was read: "utf-8", "utf-8-sig", "windows-1252" or "xlsx:<sheet>".
    read_as: Mapped[str] = mapped_column(String(60), default="utf-8", server_default="utf-8")
    # The file's bytes when they are not UTF-8 text (``content`` is then empty).
    original: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # JSON: the column of the disclosure each header cell holds ("" ignored, null not placed yet).
    columns: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A column is not placed yet: the administrator places it before the changes are shown.
    awaiting_columns: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
