"""The suite's fictional people. Their PHI must never show up in any log the suite produces.

Tests that need patients or doctors take them from here, so the log scan
knows exactly which names, phones and dates of birth to look for.
"""

from __future__ import annotations

import msgspec


class Person(msgspec.Struct, frozen=True, kw_only=True):
    email: str
    name: str
    password: str
    phone: str | None = None
    date_of_birth: str | None = None  # ISO date
    specialty: str | None = None
    licence_number: str | None = None
    consultation_fee_cents: int | None = None


PATIENT_ALICE = Person(
    email="alice.sokunthea@example.org",
    name="Alice Sokunthea",
    password="correct horse battery staple 1",
    phone="+85512345678",
    date_of_birth="1984-02-29",
)
PATIENT_BOREY = Person(
    email="borey.vannak@example.org",
    name="Borey Vannak",
    password="correct horse battery staple 2",
    phone="+85598765432",
    date_of_birth="1991-07-14",
)
DOCTOR_CHANTHA = Person(
    email="dr.chantha.meas@example.org",
    name="Chantha Meas",
    password="correct horse battery staple 3",
    phone="+85577001122",
    specialty="cardiology",
    licence_number="KH-MED-20931",
    consultation_fee_cents=2500,
)
DOCTOR_DARARITH = Person(
    email="dr.dararith.keo@example.org",
    name="Dararith Keo",
    password="correct horse battery staple 4",
    phone="+85566554433",
    specialty="endocrinology",
    licence_number="KH-MED-44120",
    consultation_fee_cents=3000,
)
ADMIN_EANG = Person(
    email="eang.admin@example.org",
    name="Eang Sopheap",
    password="correct horse battery staple 5",
    phone="+85511223344",
)

PEOPLE = (PATIENT_ALICE, PATIENT_BOREY, DOCTOR_CHANTHA, DOCTOR_DARARITH, ADMIN_EANG)


def phi_markers() -> set[str]:
    """Every PHI value of the fixtures, in the forms a log line could carry them."""
    markers: set[str] = set()
    for person in PEOPLE:
        markers.add(person.name)
        markers.update(person.name.split())
        if person.phone:
            markers.update({person.phone, person.phone.lstrip("+")})
        if person.date_of_birth:
            markers.add(person.date_of_birth)
    return {marker for marker in markers if len(marker) >= 5}
