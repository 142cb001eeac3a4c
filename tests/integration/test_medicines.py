"""The medicines catalogue through the API: the seeded list, search (prefix, any word order,
typos), admins' additions, edits and interactions, and who may write."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.support.api import api_client, assert_problem
from tests.support.rows import audit_events, rows
from tests.support.users import add_cast

MEDICINES = "/api/v1/medicines"
SEED = Path(__file__).resolve().parents[2] / "domain/medicines/data/essential_medicines.csv"


@pytest.fixture
async def api(settings):
    async with api_client(settings) as client:
        yield client


@pytest.fixture
async def cast(services):
    return await add_cast(services)


async def search(api, member, q: str, **params) -> list[dict]:
    response = await api.get(MEDICINES, params={"q": q, **params}, headers=member.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def names(items: list[dict]) -> list[str]:
    return [item["genericName"] for item in items]


async def test_the_migration_seeds_every_row_of_the_data_file(settings) -> None:
    with SEED.open(newline="") as data:
        expected = {(row["generic_name"], row["dosage_form"]) for row in csv.DictReader(data)}
    stored = rows(settings.database_url, "SELECT generic_name, dosage_form FROM medicines")
    assert {(row["generic_name"], row["dosage_form"]) for row in stored} == expected
    assert len(expected) >= 150


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("amox", "amoxicillin"),  # a prefix
        ("AMOXICILLIN", "amoxicillin"),  # any case
        ("amoxicilin", "amoxicillin"),  # a letter missing
        ("amoxycillin", "amoxicillin"),  # a common misspelling
        ("paracetamol", "paracetamol"),
        ("panadol", "paracetamol"),  # a brand
        ("metformn", "metformin"),
        ("salbutamo", "salbutamol"),
        ("N02BE01", "paracetamol"),  # an ATC code
    ],
)
async def test_search_finds_prefixes_brands_and_typos(api, cast, query, expected) -> None:
    found = await search(api, cast.alice, query)
    assert found and found[0]["genericName"].startswith(expected), names(found)


async def test_words_match_in_any_order(api, cast) -> None:
    for query in ("clavulanic amoxicillin", "amoxicillin clavulanic", "clav amox"):
        found = await search(api, cast.chantha, query)
        assert names(found)[:2] == ["amoxicillin + clavulanic acid"] * 2, (query, names(found))


async def test_a_word_that_matches_nothing_narrows_to_nothing(api, cast) -> None:
    assert await search(api, cast.alice, "amoxicillin zzzqqq") == []


async def test_the_limit_is_kept_and_a_query_without_words_finds_nothing(api, cast) -> None:
    assert len(await search(api, cast.alice, "a", limit=3)) == 3
    assert await search(api, cast.alice, " -- ") == []


async def test_without_a_query_the_catalogue_pages_in_name_order(api, cast) -> None:
    first = await api.get(MEDICINES, params={"limit": 5}, headers=cast.alice.headers)
    second = await api.get(MEDICINES, params={"limit": 5, "offset": 5}, headers=cast.alice.headers)
    listed = names(first.json()["items"]) + names(second.json()["items"])
    assert len(listed) == 10 and listed == sorted(listed)


async def test_an_admin_adds_and_edits_an_entry(api, cast, settings) -> None:
    body = {
        "genericName": "  Nifedipine ",
        "brandNames": ["Adalat"],
        "category": "Cardiovascular",
        "dosageForm": "modified_release_tablet",
        "strengths": ["20 mg", "30 mg"],
        "atcCode": "c08ca05",
    }
    created = await api.post(MEDICINES, json=body, headers=cast.eang.headers)
    assert created.status_code == 201, created.text
    medicine = created.json()
    assert medicine["genericName"] == "nifedipine" and medicine["atcCode"] == "C08CA05"
    assert names(await search(api, cast.alice, "adalat")) == ["nifedipine"]

    again = await api.post(MEDICINES, json=body, headers=cast.eang.headers)
    assert_problem(again, 409)

    edited = await api.patch(
        f"{MEDICINES}/{medicine['id']}",
        json={"strengths": ["10 mg", "20 mg"], "atcCode": None},
        headers=cast.eang.headers,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["strengths"] == ["10 mg", "20 mg"] and edited.json()["atcCode"] is None
    [update] = audit_events(settings.database_url, "medicine.update")
    assert set(update["changed_fields"]) == {"strengths", "atc_code"}
    assert len(audit_events(settings.database_url, "medicine.create")) == 1


async def test_bad_entries_are_refused_and_nothing_changes(api, cast, settings) -> None:
    before = rows(settings.database_url, "SELECT count(*) AS n FROM medicines")[0]["n"]
    malformed = [  # against the published schema: 400
        {"genericName": "x", "category": "c", "dosageForm": "tablet", "strengths": []},
        {"genericName": "x", "category": "c", "dosageForm": "potion", "strengths": ["1 mg"]},
    ]
    for body in malformed:
        assert_problem(await api.post(MEDICINES, json=body, headers=cast.eang.headers), 400)
    bad = [  # well-formed, but not acceptable: 422
        {"genericName": " ", "category": "c", "dosageForm": "tablet", "strengths": ["1 mg"]},
        {
            "genericName": "x",
            "category": "c",
            "dosageForm": "tablet",
            "strengths": ["1 mg"],
            "atcCode": "1234",
        },
    ]
    for body in bad:
        assert_problem(await api.post(MEDICINES, json=body, headers=cast.eang.headers), 422)
    assert rows(settings.database_url, "SELECT count(*) AS n FROM medicines")[0]["n"] == before


async def test_only_admins_write_the_catalogue(api, cast) -> None:
    body = {"genericName": "x", "category": "c", "dosageForm": "tablet", "strengths": ["1 mg"]}
    for member in (cast.alice, cast.chantha):
        assert_problem(await api.post(MEDICINES, json=body, headers=member.headers), 403)


async def test_interactions_are_recorded_once_per_pair(api, cast, settings) -> None:
    [warfarin] = await search(api, cast.eang, "warfarin")
    [aspirin] = await search(api, cast.eang, "acetylsalicylic acid")
    url = f"{MEDICINES}/{warfarin['id']}/interactions"
    first = await api.put(
        url,
        json={"otherId": aspirin["id"], "severity": "moderate", "note": "Bleeding risk."},
        headers=cast.eang.headers,
    )
    assert first.status_code == 200, first.text
    # the same pair named the other way round replaces it
    second = await api.put(
        f"{MEDICINES}/{aspirin['id']}/interactions",
        json={"otherId": warfarin["id"], "severity": "major", "note": "Bleeding risk: avoid."},
        headers=cast.eang.headers,
    )
    assert second.status_code == 200, second.text
    listed = await api.get(url, headers=cast.alice.headers)
    [interaction] = listed.json()["items"]
    assert interaction["severity"] == "major"
    assert set(interaction["medicineIds"]) == {warfarin["id"], aspirin["id"]}

    itself = await api.put(
        url,
        json={"otherId": warfarin["id"], "severity": "minor", "note": "n"},
        headers=cast.eang.headers,
    )
    assert_problem(itself, 422)

    removed = await api.delete(f"{url}/{aspirin['id']}", headers=cast.eang.headers)
    assert removed.status_code == 204, removed.text
    assert (await api.get(url, headers=cast.alice.headers)).json()["items"] == []
    assert_problem(await api.delete(f"{url}/{aspirin['id']}", headers=cast.eang.headers), 404)
    assert len(audit_events(settings.database_url, "medicine.interaction_record")) == 2
