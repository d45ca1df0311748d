"""The facility registry, from the contractor's disclosure."""

from sqlalchemy import select

from ..models import Facility


def add(session, *, country: str, name: str, local_name: str, supplier: str, address: str,
        products: str = "") -> Facility:
    facility = Facility(country=country.upper(), name=name, local_name=local_name or name,
                        supplier=supplier, address=address, products=products, active=True)
    session.add(facility)
    session.commit()
    return facility


def active(session) -> list[Facility]:
    return list(session.scalars(select(Facility).where(Facility.active.is_(True)).order_by(Facility.id)))
