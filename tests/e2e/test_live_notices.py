"""Live notices over WebSockets across two API processes, with Redis pub/sub between them.

A doctor's client is connected to one API process; a patient's connection
request is made through the other; the notice reaches the client. A client
that was away reconnects with its last event id and receives what it missed,
nothing twice; an alert raised by a job in a worker process reaches a client on an API
process; a bad first message or token closes the socket.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date

import httpx
import pytest
import websockets

from domain.adherence.jobs import plan_rollup
from tests.support.api import bearer
from tests.support.doses import add_dose, add_prescription
from tests.support.platform import wired
from tests.support.processes import start_api, start_worker
from tests.support.servers import free_port
from tests.support.users import add_cast, connect

pytestmark = pytest.mark.slow

LIVE = "/api/v1/notifications/live"


def token_of(member) -> str:
    return member.headers["Authorization"].removeprefix("Bearer ")


async def hello(socket, member, last_event_id=None) -> None:
    await socket.send(
        json.dumps({"type": "auth", "token": token_of(member), "lastEventId": last_event_id})
    )


async def next_event(socket, timeout: float = 15.0) -> dict:
    return json.loads(await asyncio.wait_for(socket.recv(), timeout))


async def request_connection(port: int, patient, doctor) -> str:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"http://127.0.0.1:{port}/api/v1/connections",
            json={"doctorId": str(doctor.id)},
            headers=patient.headers,
        )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_a_notice_made_on_one_process_reaches_a_client_on_the_other(
    services, settings, processes, log_dir
) -> None:
    cast = await add_cast(services)
    here, there = free_port(), free_port()
    processes.extend([start_api(settings, log_dir, here), start_api(settings, log_dir, there)])

    async with websockets.connect(f"ws://127.0.0.1:{there}{LIVE}") as doctor_socket:
        await hello(doctor_socket, cast.chantha)
        await asyncio.sleep(0.5)  # subscribed before the news is made
        connection_id = await request_connection(here, cast.alice, cast.chantha)
        event = await next_event(doctor_socket)

    assert event["type"] == "connection.request"
    assert event["notice"]["data"] == {"connectionId": connection_id}
    first_id = event["eventId"]

    # Away: two more requests; back with the last event id seen, both arrive, in order, once.
    await request_connection(here, cast.borey, cast.chantha)
    await request_connection(there, cast.alice, cast.dararith)  # someone else's news
    async with websockets.connect(f"ws://127.0.0.1:{here}{LIVE}") as again:
        await hello(again, cast.chantha, last_event_id=first_id)
        missed = await next_event(again)
        with pytest.raises(TimeoutError):
            await next_event(again, timeout=1.5)
    assert missed["type"] == "connection.request" and missed["eventId"] > first_id


async def test_a_socket_without_a_good_first_message_is_closed(
    services, settings, processes, log_dir
) -> None:
    port = free_port()
    processes.append(start_api(settings, log_dir, port))
    url = f"ws://127.0.0.1:{port}{LIVE}"
    async with websockets.connect(url) as socket:
        await socket.send(json.dumps({"type": "hello"}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd.code == 4400
    async with websockets.connect(url) as socket:
        bad = bearer("x", secret="another-secret-" + "y" * 40)["Authorization"].split()[1]
        await socket.send(json.dumps({"type": "auth", "token": bad}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await socket.recv()
    assert closed.value.rcvd.code == 4401


async def test_an_alert_raised_in_a_worker_reaches_a_client_on_an_api_process(
    services, settings, processes, log_dir
) -> None:
    """The adherence roll-up runs in a worker process; the alert it raises reaches the doctor's
    client on an API process through Redis, and a reconnect with the last id repeats nothing."""
    cast = await add_cast(services)
    await connect(services, cast.alice.id, cast.chantha.id)
    today = date.today()
    async with services.pool.connection() as conn:
        prescribed = await add_prescription(conn, cast.alice.id, cast.chantha.id, today, 2)
        for slot in range(3):  # three missed doses in a row
            await add_dose(conn, cast.alice.id, prescribed, today, slot, "missed")
    port = free_port()
    processes.extend([start_api(settings, log_dir, port), start_worker(settings, log_dir)])

    async with websockets.connect(f"ws://127.0.0.1:{port}{LIVE}") as doctor_socket:
        await hello(doctor_socket, cast.chantha)
        await asyncio.sleep(0.5)  # subscribed before the news is made
        assert await wired(services)(plan_rollup)() is not None  # the scheduler's step
        event = await next_event(doctor_socket, timeout=30)
        assert event["type"] == "health.alert"
        assert event["notice"]["data"]["rule"] == "adherence.missed_doses"
        assert event["notice"]["data"]["patientId"] == str(cast.alice.id)

    async with websockets.connect(f"ws://127.0.0.1:{port}{LIVE}") as again:
        await hello(again, cast.chantha, last_event_id=event["eventId"])
        with pytest.raises(TimeoutError):
            await next_event(again, timeout=1.5)
