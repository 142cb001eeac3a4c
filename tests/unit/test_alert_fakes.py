"""The vitals' and alerts' fakes and PostgreSQL stores implement the very ports the use cases
are typed against: every method, with the same parameters, async where the port is."""

from __future__ import annotations

import inspect
from functools import cached_property

import pytest

from domain.adapters.alerts.rules import PgCareTeam, PgRuleOverrides
from domain.adapters.alerts.store import PgAlertRepository
from domain.adapters.unit_of_work import PgUnitOfWork
from domain.adapters.vitals.store import PgReadingRepository
from domain.alerts import ports as alert_ports
from domain.vitals import ports as vital_ports
from tests.fakes import alerts, vitals
from tests.unit.test_account_fakes import methods

PAIRS = [
    (vital_ports.ReadingRepository, vitals.FakeReadingRepository),
    (vital_ports.ReadingRepository, PgReadingRepository),
    (alert_ports.AlertRepository, alerts.FakeAlertRepository),
    (alert_ports.AlertRepository, PgAlertRepository),
    (alert_ports.RuleOverrides, alerts.FakeRuleOverrides),
    (alert_ports.RuleOverrides, PgRuleOverrides),
    (alert_ports.CareTeam, alerts.FakeCareTeam),
    (alert_ports.CareTeam, PgCareTeam),
]


@pytest.mark.parametrize(
    ("port", "implementation"), PAIRS, ids=[f"{p.__name__}-{i.__name__}" for p, i in PAIRS]
)
def test_each_implementation_has_every_method_of_its_port(port, implementation) -> None:
    wanted, held = methods(port), methods(implementation)
    assert wanted, f"{port.__name__} declares no methods"
    for name, signature in wanted.items():
        assert name in held, f"{implementation.__name__} lacks {name}"
        assert list(held[name].parameters) == list(signature.parameters), name
        assert inspect.iscoroutinefunction(getattr(implementation, name))


def test_the_postgres_unit_of_work_holds_what_vitals_and_alerts_name() -> None:
    built = {  # each repository is built on first use
        name for name, value in vars(PgUnitOfWork).items() if isinstance(value, cached_property)
    }
    names = set(vital_ports.UnitOfWork.__annotations__) | set(
        alert_ports.UnitOfWork.__annotations__
    )
    for name in names:
        assert name in built, name
