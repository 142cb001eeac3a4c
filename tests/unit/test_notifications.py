"""The e-mail template catalogue, Message-IDs and template rendering, without IO."""

from __future__ import annotations

import ast
import sys
import uuid
from email.utils import parseaddr
from pathlib import Path

import jinja2
import jinja2.meta
import markupsafe
import msgspec
import pytest

import domain.notifications.email
from domain.adapters.notifications.renderer import TEMPLATE_DIR, JinjaEmailRenderer
from domain.errors import ValidationFailed
from domain.notifications.email import (
    TEMPLATES,
    FieldKind,
    SendEmail,
    message_id_for,
    sender_domain,
    validate_template_data,
)

SAMPLE_DATA: dict[str, dict[str, str | int]] = {
    "welcome": {"name": "Sokha Chan"},
    "account_verification": {
        "name": "Sokha Chan",
        "verifyUrl": "https://app.example.org/verify?t=abc123",
        "expiresInHours": 24,
    },
    "account_exists": {"name": "Sokha Chan", "signInUrl": "https://app.example.org/sign-in"},
    "one_time_code": {"code": "048213", "expiresInMinutes": 5},
    "password_reset": {
        "name": "Sokha Chan",
        "resetUrl": "https://app.example.org/reset?t=xyz789",
        "expiresInMinutes": 30,
    },
    "prescription_shared": {
        "name": "Sokha Chan",
        "doctorName": "Dr. Dara Kim",
        "prescriptionUrl": "https://app.example.org/prescriptions/42",
    },
    "appointment_reminder": {
        "name": "Sokha Chan",
        "doctorName": "Dr. Dara Kim",
        "startsAt": "Tuesday 4 March 2025, 14:30 (ICT)",
        "appointmentUrl": "https://app.example.org/appointments/7",
    },
    "health_alert": {
        "name": "Sokha Chan",
        "alertTitle": "Blood pressure above your target",
        "alertMessage": "Your last three readings were above 140/90 mmHg.",
    },
    "dose_reminder": {
        "name": "Sokha Chan",
        "dueAt": "08:00 (Asia/Phnom_Penh)",
        "dosesUrl": "https://app.example.org/doses",
    },
    "payment_receipt": {
        "name": "Sokha Chan",
        "receiptNumber": "00I45FZY7UDM4550JTMF2626S",
        "amount": "USD 12.50",
        "paidAt": "2031-03-09 09:00 UTC",
    },
    "subscription_renewal": {"name": "Sokha Chan", "planName": "Basic", "endsOn": "2031-04-08"},
    "consultation_update": {
        "name": "Sokha Chan",
        "status": "confirmed",
        "startsAt": "2031-03-09 09:00 UTC",
        "appointmentUrl": "https://app.example.org/consultations/7",
    },
}

SECRET = "SECRET-VALUE-0193"


@pytest.fixture(scope="module")
def renderer() -> JinjaEmailRenderer:
    return JinjaEmailRenderer()


# -- the command ---------------------------------------------------------------------------


def test_send_email_decodes_from_json_with_python_names() -> None:
    raw = b'{"to":"a@example.org","template":"welcome","data":{"name":"A","n":1,"x":1.5,"b":true}}'
    command = msgspec.json.decode(raw, type=SendEmail)
    assert command == SendEmail(
        to="a@example.org", template="welcome", data={"name": "A", "n": 1, "x": 1.5, "b": True}
    )
    assert (
        msgspec.json.decode(b'{"to":"a@example.org","template":"welcome"}', type=SendEmail).data
        == {}
    )


def test_send_email_refuses_unknown_fields() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"to":"a@example.org","template":"welcome","cc":"x"}', type=SendEmail)


# -- the catalogue -------------------------------------------------------------------------


def test_samples_cover_the_catalogue() -> None:
    assert set(SAMPLE_DATA) == set(TEMPLATES)


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_sample_data_is_accepted(template: str) -> None:
    validate_template_data(template, SAMPLE_DATA[template])


def test_unknown_template_is_refused_without_echo() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_template_data(SECRET, {})
    assert caught.value.field == "template"
    assert SECRET not in caught.value.message
    assert "welcome" in caught.value.message  # says what would have been accepted


def test_missing_fields_are_named() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_template_data("password_reset", {"name": SECRET})
    assert caught.value.field == "data"
    assert "resetUrl" in caught.value.message
    assert "expiresInMinutes" in caught.value.message
    assert SECRET not in caught.value.message


def test_unexpected_fields_are_named_but_values_are_not() -> None:
    data = {**SAMPLE_DATA["welcome"], "nickname": SECRET}
    with pytest.raises(ValidationFailed) as caught:
        validate_template_data("welcome", data)
    assert caught.value.field == "data"
    assert "nickname" in caught.value.message
    assert SECRET not in caught.value.message


def test_a_field_name_that_looks_like_a_value_is_counted_not_quoted() -> None:
    data = {**SAMPLE_DATA["welcome"], "patient@example.org": "x"}
    with pytest.raises(ValidationFailed) as caught:
        validate_template_data("welcome", data)
    assert "patient@example.org" not in caught.value.message
    assert "1 other" in caught.value.message


@pytest.mark.parametrize(
    ("template", "field", "value"),
    [
        ("welcome", "name", ""),
        ("welcome", "name", 12),
        ("one_time_code", "expiresInMinutes", True),
        ("one_time_code", "expiresInMinutes", 0),
        ("one_time_code", "expiresInMinutes", 2.5),
        ("one_time_code", "expiresInMinutes", "5"),
        ("password_reset", "resetUrl", "javascript:alert(1)//" + SECRET),
        ("password_reset", "resetUrl", 42),
    ],
)
def test_ill_typed_values_are_refused_without_echo(
    template: str, field: str, value: object
) -> None:
    data = {**SAMPLE_DATA[template], field: value}
    with pytest.raises(ValidationFailed) as caught:
        validate_template_data(template, data)  # type: ignore[arg-type]
    assert caught.value.field == "data"
    assert field in caught.value.message
    assert SECRET not in caught.value.message


def test_every_field_kind_is_used() -> None:
    used = {kind for fields in TEMPLATES.values() for kind in fields.values()}
    assert used == set(FieldKind)


# -- Message-IDs ---------------------------------------------------------------------------


def test_message_id_is_stable_and_well_formed() -> None:
    job_id = uuid.uuid4()
    first = message_id_for(job_id, "mail.example.org")
    assert first == message_id_for(job_id, "mail.example.org")
    assert first == f"<job-{job_id}@mail.example.org>"
    assert first != message_id_for(uuid.uuid4(), "mail.example.org")
    assert parseaddr(first)[1] == f"job-{job_id}@mail.example.org"


@pytest.mark.parametrize(
    ("smtp_from", "domain"),
    [
        ("Healthplat <no-reply@mail.example.org>", "mail.example.org"),
        ("no-reply@example.org", "example.org"),
        ("Healthplat <no-reply@localhost>", "localhost"),
        ("not an address", "localhost"),
    ],
)
def test_sender_domain(smtp_from: str, domain: str) -> None:
    assert sender_domain(smtp_from) == domain


# -- rendering -----------------------------------------------------------------------------


def test_the_templates_on_disk_are_the_catalogue(renderer: JinjaEmailRenderer) -> None:
    assert renderer.names == frozenset(TEMPLATES)


def _variables(name: str) -> set[str]:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR))
    source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
    return jinja2.meta.find_undeclared_variables(env.parse(source)) - {"product"}


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_templates_use_exactly_their_fields(template: str) -> None:
    fields = set(TEMPLATES[template])
    subject = _variables(f"{template}.subject.txt")
    text = _variables(f"{template}.txt")
    html = _variables(f"{template}.html")
    assert subject <= fields and text <= fields and html <= fields
    assert text == fields, "the text part must carry everything the HTML part does"
    assert html == fields
    assert subject == set(), "subjects carry no data: they show on lock screens"


@pytest.mark.parametrize("template", sorted(TEMPLATES))
def test_every_template_renders(renderer: JinjaEmailRenderer, template: str) -> None:
    data = SAMPLE_DATA[template]
    email = renderer.render(template, data)
    assert email.subject and "\n" not in email.subject and email.subject == email.subject.strip()
    assert "Healthplat" in email.text and "Healthplat" in email.html
    assert email.html.lstrip().startswith("<!DOCTYPE html>")
    assert "{{" not in email.text + email.html + email.subject
    for value in data.values():
        assert str(value) in email.text
        assert markupsafe.escape(str(value)) in email.html
    for value in data.values():
        assert str(value) not in email.subject


def test_html_is_autoescaped_and_text_is_not(renderer: JinjaEmailRenderer) -> None:
    script = "<script>alert('x')</script>"
    email = renderer.render("health_alert", {**SAMPLE_DATA["health_alert"], "alertMessage": script})
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert script in email.text


def test_urls_are_escaped_inside_attributes(renderer: JinjaEmailRenderer) -> None:
    url = 'https://app.example.org/reset?a=1&b="><img src=x>'
    email = renderer.render("password_reset", {**SAMPLE_DATA["password_reset"], "resetUrl": url})
    assert '"><img' not in email.html
    assert "&amp;b=&#34;&gt;&lt;img" in email.html


def test_render_refuses_unknown_template(renderer: JinjaEmailRenderer) -> None:
    with pytest.raises(ValidationFailed) as caught:
        renderer.render(SECRET, {})
    assert caught.value.field == "template"
    assert SECRET not in caught.value.message


def test_render_refuses_missing_data(renderer: JinjaEmailRenderer) -> None:
    with pytest.raises(ValidationFailed) as caught:
        renderer.render("welcome", {})
    assert caught.value.field == "data"


def test_singular_and_plural(renderer: JinjaEmailRenderer) -> None:
    one = renderer.render("one_time_code", {"code": "1", "expiresInMinutes": 1})
    five = renderer.render("one_time_code", {"code": "1", "expiresInMinutes": 5})
    assert "1 minute " in one.text
    assert "5 minutes" in five.text


# -- the import rule -----------------------------------------------------------------------


def test_notifications_imports_only_the_domain_core() -> None:
    tree = ast.parse(Path(domain.notifications.email.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.startswith("domain."):
                assert not node.module.startswith("domain.adapters"), f"{node.module} is an adapter"
            imported.add(node.module.split(".")[0])
    third_party = imported - {"__future__", "domain", "msgspec", "structlog"}
    assert third_party <= sys.stdlib_module_names
