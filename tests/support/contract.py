"""The API contract run: who schemathesis calls as, and the command line it runs with.

The run calls the API as real accounts (tests/support/users.py): a patient
connected to a doctor, that doctor, and an admin. Which routes get which token
is the config file's business (tests/e2e/schemathesis.toml), which reads the
tokens from the environment this module builds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import msgspec

from domain.adapters.bootstrap import Services
from tests.support.paths import PROJECT_ROOT
from tests.support.users import add_cast, connect

CONFIG_FILE = PROJECT_ROOT / "tests" / "e2e" / "schemathesis.toml"
OPENAPI_PATH = "/schema/openapi.json"
# High enough that no request of a run is refused for its rate (429 is still documented).
CONTRACT_RATE_PER_MINUTE = 1_000_000


class ContractTokens(msgspec.Struct, frozen=True):
    patient: str
    doctor: str
    admin: str

    def environ(self) -> dict[str, str]:
        """The variables the config file reads its bearer tokens from."""
        return {
            "CONTRACT_PATIENT_TOKEN": self.patient,
            "CONTRACT_DOCTOR_TOKEN": self.doctor,
            "CONTRACT_ADMIN_TOKEN": self.admin,
        }


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def contract_accounts(services: Services) -> ContractTokens:
    """The fixture people, with a patient (Alice) connected to a doctor (Chantha)."""
    cast = await add_cast(services)
    await connect(services, cast.alice.id, cast.chantha.id)
    return ContractTokens(
        patient=_token(cast.alice.headers),
        doctor=_token(cast.chantha.headers),
        admin=_token(cast.eang.headers),
    )


def schemathesis_argv(base_url: str, *, max_examples: int) -> list[str]:
    """``st run`` over every phase with every check, derandomized so a run repeats exactly.

    Every check runs because that is schemathesis' default: ``--checks all`` on the command
    line would also switch back on the one check the config file turns off for one route."""
    return [
        str(Path(sys.executable).parent / "st"),
        "--no-color",
        "--config-file",
        str(CONFIG_FILE),
        "run",
        base_url + OPENAPI_PATH,
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(max_examples),
        "--generation-deterministic",
    ]


def schemathesis_env(tokens: ContractTokens) -> dict[str, str]:
    return {**os.environ, **tokens.environ()}
