"""The API keeps its OpenAPI contract: schemathesis against the real API process.

Every phase (examples, coverage, fuzzing, stateful) and every check, as a
patient, a doctor and an admin (tests/e2e/schemathesis.toml says who calls
what). The run must find no server error and no conformance failure: an
undocumented status, a schema-valid request refused, a schema-invalid one
accepted, an OPTIONS or 405 answer without a right ``Allow`` ... Derandomized,
so it generates the same cases each time; bounded by the examples per operation.
"""

from __future__ import annotations

import asyncio
import re

import msgspec
import pytest

from tests.support.contract import (
    CONTRACT_RATE_PER_MINUTE,
    contract_accounts,
    schemathesis_argv,
    schemathesis_env,
)
from tests.support.processes import start_api
from tests.support.servers import free_port

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 12
RUN_TIMEOUT_SECONDS = 170.0
OPERATIONS = 136  # every operation of the document is tested; a new one raises this


async def test_the_api_keeps_its_openapi_contract(
    settings, services, processes, log_dir, tmp_path
) -> None:
    tokens = await contract_accounts(services)
    unlimited = msgspec.structs.replace(
        settings,
        rate_limit_auth_per_minute=CONTRACT_RATE_PER_MINUTE,
        rate_limit_user_per_minute=CONTRACT_RATE_PER_MINUTE,
    )
    port = free_port()
    processes.append(start_api(unlimited, log_dir, port))

    run = await asyncio.create_subprocess_exec(
        *schemathesis_argv(f"http://127.0.0.1:{port}", max_examples=MAX_EXAMPLES),
        env=schemathesis_env(tokens),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(run.communicate(), RUN_TIMEOUT_SECONDS)
    except TimeoutError:
        run.kill()
        output, _ = await run.communicate()
        pytest.fail(f"schemathesis ran past {RUN_TIMEOUT_SECONDS:g} s:\n{output.decode()}")
    report = output.decode()

    assert run.returncode == 0, report
    assert f"Tested: {OPERATIONS}" in report, report
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert generated and generated[1] == generated[2] and int(generated[1]) > 1000, report
    assert processes[0].process.poll() is None, processes[0].output()[-3000:]
