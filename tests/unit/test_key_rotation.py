"""Re-sealing PHI under a new key, through fakes and the real cipher: every value moves, a value
that will not open is left alone and counted, and a second run has nothing to do."""

from __future__ import annotations

import uuid

from domain.adapters.phi.cipher import PhiCipher
from domain.auditing import SYSTEM
from domain.phi.columns import PATIENT_CLINICAL_NOTES, USER_PHONE
from domain.phi.rotation import rotate_keys
from tests.fakes.audit import FakeAuditLog, audited
from tests.fakes.database import FakeUnitOfWorkFactory
from tests.fakes.phi import FakeSealedValues

OLD, NEW = bytes(range(32)), bytes(range(32, 64))
COLUMNS = (USER_PHONE, PATIENT_CLINICAL_NOTES)


def platform() -> tuple[FakeUnitOfWorkFactory, PhiCipher]:
    uow = FakeUnitOfWorkFactory({"sealed": FakeSealedValues, "audit": FakeAuditLog})
    return uow, PhiCipher({"old": OLD, "new": NEW}, "new")


def stored(uow, column) -> dict:
    return uow.database.table(f"{column.table}.{column.column}")


async def test_every_value_is_resealed_under_the_active_key_in_batches() -> None:
    uow, cipher = platform()
    before = PhiCipher({"old": OLD}, "old")
    phones = {uuid.uuid4(): f"+8551200{n:04d}".encode() for n in range(7)}
    for row_id, phone in phones.items():
        stored(uow, USER_PHONE)[row_id] = before.seal(phone, USER_PHONE.context(row_id))

    report = await rotate_keys(uow, cipher, SYSTEM, columns=COLUMNS, batch_size=3)

    assert report.resealed == {"users.phone": 7, "patient_profiles.clinical_notes": 0}
    assert report.unreadable == {}
    for row_id, sealed in stored(uow, USER_PHONE).items():
        assert sealed.key_id == "new"
        assert cipher.open(sealed, USER_PHONE.context(row_id)) == phones[row_id]
    assert [entry.action for entry in audited(uow.database)] == ["phi.rotate"] * 3  # per batch
    again = await rotate_keys(uow, cipher, SYSTEM, columns=COLUMNS, batch_size=3)
    assert again.resealed == {"users.phone": 0, "patient_profiles.clinical_notes": 0}


async def test_a_value_that_will_not_open_is_left_as_it_is_and_counted() -> None:
    uow, cipher = platform()
    before = PhiCipher({"old": OLD}, "old")
    good, moved = uuid.uuid4(), uuid.uuid4()
    stored(uow, USER_PHONE)[good] = before.seal(b"+85512000111", USER_PHONE.context(good))
    # a ciphertext copied from another row does not open in this one
    stored(uow, USER_PHONE)[moved] = stored(uow, USER_PHONE)[good]

    report = await rotate_keys(uow, cipher, SYSTEM, columns=COLUMNS)

    assert report.resealed["users.phone"] == 1
    assert report.unreadable == {"users.phone": 1}
    assert stored(uow, USER_PHONE)[moved].key_id == "old"  # never overwritten
