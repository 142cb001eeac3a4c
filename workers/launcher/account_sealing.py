"""The launcher's sealing step: accounts stored before names and addresses were sealed
(revision 0008) are sealed with the keys the processes get, before any process starts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from workers.launcher.console import LaunchError, say


def seal_stored_accounts(env: Mapping[str, str]) -> None:
    """Idempotent: on later starts it finds nothing to do and says nothing."""
    from domain.accounts.sealing import SealingReport, seal_accounts
    from domain.adapters.bootstrap import one_shot_units_of_work
    from domain.auditing import SYSTEM
    from domain.settings import SettingsError, load_settings
    from domain.wiring import Wired

    try:
        settings = load_settings(env)
    except SettingsError as exc:
        raise LaunchError(str(exc)) from None

    async def run() -> SealingReport:
        async with one_shot_units_of_work(settings) as units:
            return await Wired({"uow_factory": units}).run(seal_accounts, SYSTEM)

    report = asyncio.run(run())
    if report.sealed:
        say(f"sealed the name and e-mail address of {report.sealed} account(s) stored in the clear")
    if not report.done:
        say(
            f"{report.left} account(s) still hold a name or e-mail address in the clear; "
            "they sign in as before: run `healthplat-admin seal-accounts` to finish"
        )
