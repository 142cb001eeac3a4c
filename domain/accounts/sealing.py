"""Sealing the names and e-mail addresses of accounts stored before they were sealed at rest.

Revision 0008 made room for sealed names and addresses but could not seal the
accounts already stored (a migration holds no keys), nor drop them. This step,
run with the app's keys, does: batch by batch, each batch its own transaction,
every account still holding its name or address in the clear gets them sealed
(the address with its keyed lookup) and the plaintext cleared, and the batch is
audited (field names only). Rows another transaction holds are passed over and
taken by the next run; a run finds only what is still in the clear, so running
it again is harmless and a crash loses at most the batch in flight.

``healthplat`` runs it right after applying the migrations, before it starts
any process; ``healthplat-admin seal-accounts`` runs it for deployments that
migrate on their own. Until it has run, those accounts still sign in by their
plaintext address.
"""

from __future__ import annotations

import msgspec

from domain.accounts.ports import UnitOfWork
from domain.auditing import AuditContext, AuditEntry
from domain.transactions import UnitOfWorkFactory

SEAL_BATCH_SIZE = 500
SEALED_FIELDS = ("name", "email")


class SealingReport(msgspec.Struct, frozen=True, kw_only=True):
    sealed: int  # accounts sealed by this run
    conflicts: int  # left in the clear: another account holds their address sealed
    left: int  # accounts still in the clear when the run ended (conflicts, rows held)

    @property
    def done(self) -> bool:
        """No name or address is stored in the clear any more."""
        return self.left == 0


async def seal_accounts(
    audit: AuditContext,
    batch_size: int = SEAL_BATCH_SIZE,
    *,
    uow_factory: UnitOfWorkFactory[UnitOfWork],
) -> SealingReport:
    sealed = conflicts = 0
    after = None
    while True:
        async with uow_factory() as uow:
            batch = await uow.users.seal_plaintext(after, batch_size)
            if batch.sealed:
                await uow.audit.record(
                    audit,
                    AuditEntry(
                        action="phi.seal", resource_type="users", changed_fields=SEALED_FIELDS
                    ),
                )
        sealed += batch.sealed
        conflicts += batch.conflicts
        if batch.taken < batch_size:
            break
        after = batch.last_id
    async with uow_factory() as uow:
        left = await uow.users.plaintext_left()
    return SealingReport(sealed=sealed, conflicts=conflicts, left=left)
