"""Audit events written through the real unit of work, and the trail changed as an intruder
with the database owner's rights could change it."""

from __future__ import annotations

import psycopg

from domain.auditing import AuditContext, AuditEntry

ALICE = AuditContext(actor_id="user-alice", actor_role="patient", ip="10.0.0.1")
CHANTHA = AuditContext(actor_id="user-chantha", actor_role="doctor", ip="10.0.0.2")


async def record(services, context: AuditContext, entry: AuditEntry) -> None:
    async with services.uow() as uow:
        await uow.audit.record(context, entry)


async def seed(services, count: int = 5) -> None:
    """``count`` events alternating between two actors and two patients' profiles."""
    for i in range(count):
        context = ALICE if i % 2 == 0 else CHANTHA
        await record(
            services,
            context,
            AuditEntry(
                action="patient.read" if i % 2 else "patient.update",
                resource_type="patient",
                resource_id=f"patient-{i % 2}",
                changed_fields=("phone",) if i % 2 == 0 else (),
            ),
        )


def tamper(database_url: str, statement: str, params: tuple = ()) -> None:
    """Change the trail the way an intruder with the database owner's rights could."""
    with psycopg.connect(database_url) as conn:
        conn.execute("SET session_replication_role = replica")  # the append-only trigger sleeps
        conn.execute(statement, params)
