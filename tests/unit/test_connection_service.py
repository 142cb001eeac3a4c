"""Connecting doctors and patients, through fakes: who may ask, who answers, what expires."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from domain.connections import service
from domain.connections.model import REQUEST_TTL, ConnectionFilter, ConnectionStatus
from domain.errors import Conflict, Forbidden, InvalidTransition, NotFound
from tests.fakes.world import World


@pytest.fixture
def world() -> World:
    return World()


def as_id(principal) -> uuid.UUID:
    return uuid.UUID(principal.user_id)


async def test_a_patient_asks_and_the_doctor_accepts(world) -> None:
    patient, doctor = world.patient(), world.doctor()
    asked = await world.run(
        service.request_connection, patient, "connection.request", as_id(doctor)
    )
    assert asked.status is ConnectionStatus.PENDING

    accepted = await world.run(
        service.answer_connection, doctor, "connection.accept", asked.id, "accept"
    )

    assert accepted.status is ConnectionStatus.ACTIVE
    assert world.audited() == ["connection.request", "connection.accept"]


async def test_nobody_answers_their_own_request(world) -> None:
    patient, doctor = world.patient(), world.doctor()
    asked = await world.run(
        service.request_connection, patient, "connection.request", as_id(doctor)
    )
    with pytest.raises((InvalidTransition, Forbidden)):
        await world.run(service.answer_connection, patient, "connection.accept", asked.id, "accept")
    assert world.audited() == ["connection.request"]  # the refusal changed and recorded nothing


async def test_a_stranger_finds_no_connection_to_answer(world) -> None:
    patient, doctor, other = world.patient(), world.doctor(), world.doctor("Dr Other")
    asked = await world.run(
        service.request_connection, patient, "connection.request", as_id(doctor)
    )
    with pytest.raises(NotFound):
        await world.run(service.answer_connection, other, "connection.accept", asked.id, "accept")


async def test_a_pair_has_one_live_connection(world) -> None:
    patient, doctor = world.patient(), world.doctor()
    await world.run(service.request_connection, patient, "connection.request", as_id(doctor))
    with pytest.raises(Conflict):
        await world.run(service.request_connection, patient, "connection.request", as_id(doctor))


async def test_a_lapsed_request_cannot_be_accepted_and_the_pair_may_ask_anew(world) -> None:
    patient, doctor = world.patient(), world.doctor()
    asked = await world.run(
        service.request_connection, patient, "connection.request", as_id(doctor)
    )
    world.clock.advance((REQUEST_TTL + timedelta(minutes=1)).total_seconds())

    with pytest.raises(InvalidTransition) as refused:
        await world.run(service.answer_connection, doctor, "connection.accept", asked.id, "accept")
    assert refused.value.code == "connection_expired"

    again = await world.run(
        service.request_connection, patient, "connection.request", as_id(doctor)
    )
    assert again.id != asked.id
    assert "connection.expire" in world.audited()  # the lapsed one is stored as expired


async def test_only_listed_doctors_and_real_patients_connect(world) -> None:
    patient, doctor = world.patient(), world.doctor()
    with pytest.raises(NotFound):
        await world.run(service.request_connection, patient, "connection.request", uuid.uuid4())
    not_a_patient = world.doctor("Dr Not A Patient")
    with pytest.raises(Forbidden):
        await world.run(
            service.request_connection, not_a_patient, "connection.request", as_id(doctor)
        )


async def test_an_invitation_is_accepted_by_the_patient_holding_its_token(world) -> None:
    patient, doctor = world.patient(), world.doctor()
    invitation = await world.run(service.invite_patient, doctor, "connection.invite")
    accepted = await world.run(
        service.accept_invitation, patient, "connection.accept_invitation", invitation.token
    )
    assert accepted.status is ConnectionStatus.ACTIVE and accepted.patient_id == as_id(patient)
    with pytest.raises(NotFound):
        await world.run(
            service.accept_invitation, patient, "connection.accept_invitation", "not-a-token"
        )


async def test_either_side_revokes_and_a_list_shows_only_ones_own(world) -> None:
    patient, doctor, other = world.patient(), world.doctor(), world.patient("Chanthy")
    asked = await world.run(
        service.request_connection, patient, "connection.request", as_id(doctor)
    )
    await world.run(service.answer_connection, doctor, "connection.accept", asked.id, "accept")
    await world.run(service.request_connection, other, "connection.request", as_id(doctor))

    mine = await world.run(service.list_connections, patient, "connection.list", ConnectionFilter())
    assert [item.connection.id for item in mine.items] == [asked.id]
    revoked = await world.run(
        service.answer_connection, patient, "connection.revoke", asked.id, "revoke"
    )
    assert revoked.status is ConnectionStatus.REVOKED
    everyone = await world.run(
        service.list_connections, world.admin(), "connection.list", ConnectionFilter()
    )
    assert len(everyone.items) == 2
