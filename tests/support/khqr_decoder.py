"""NBC's own KHQR SDK (npm bakong-khqr, tools/khqr), run as the suite's independent decoder:
many codes per node process, since starting node costs more than checking a code."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.support.paths import PROJECT_ROOT

SCRIPT = PROJECT_ROOT / "tools" / "khqr" / "khqr.js"


def decoded(codes: list[str]) -> list[dict[str, Any]]:
    """For each code: ``{"valid": bool, "decoded": {...} | None}`` as the SDK sees it."""
    if not (SCRIPT.parent / "node_modules" / "bakong-khqr").is_dir():
        raise AssertionError("the KHQR decoder is not installed: run tools/khqr/install.sh")
    done = subprocess.run(
        ["node", str(SCRIPT)], input=json.dumps(codes), capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


async def assert_every_stored_code_verifies(services: Any) -> int:
    """Every KHQR code stored in ``services``' database passes NBC's decoder, with the amount,
    currency and bill number its payment holds; returns how many were checked."""
    from domain.payments.khqr import bill_number
    from domain.payments.model import PaymentFilter
    from domain.payments.money import amount_text

    async with services.uow() as uow:
        payments = (await uow.payments.page(PaymentFilter(limit=100_000))).items
    if not payments:
        return 0
    for payment, answer in zip(payments, decoded([p.khqr for p in payments]), strict=True):
        assert answer["valid"], payment.khqr
        code = answer["decoded"]
        assert code["transactionAmount"] == amount_text(payment.amount_minor, payment.currency)
        assert code["transactionCurrency"] == payment.currency.numeric
        assert code["billNumber"] == bill_number(payment.id)
    return len(payments)
