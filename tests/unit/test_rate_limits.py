"""What a count means: decisions, the binding budget and the headers a client sees."""

from __future__ import annotations

from domain.rate_limits import (
    AddressMail,
    RateCount,
    RateDecision,
    RateLimit,
    account_failure_limit,
    account_key,
    address_mail_limit,
    anonymous_limit,
    auth_limit,
    binding,
    login_code_limit,
    rate_limit_headers,
    user_limit,
)

LIMIT = RateLimit("k", 3)


def test_within_the_limit_counts_down() -> None:
    decision = RateDecision.of(LIMIT, RateCount(count=1, reset_ms=59_001))
    assert decision.allowed and decision.remaining == 2 and decision.reset_seconds == 60
    assert rate_limit_headers(decision) == {
        "RateLimit-Limit": "3",
        "RateLimit-Remaining": "2",
        "RateLimit-Reset": "60",
    }


def test_the_last_allowed_hit_leaves_nothing() -> None:
    decision = RateDecision.of(LIMIT, RateCount(count=3, reset_ms=1000))
    assert decision.allowed and decision.remaining == 0 and not decision.first_refusal


def test_only_the_hit_that_crosses_the_limit_is_the_first_refusal() -> None:
    crossing = RateDecision.of(LIMIT, RateCount(count=4, reset_ms=30_500))
    later = RateDecision.of(LIMIT, RateCount(count=9, reset_ms=20_000))
    assert not crossing.allowed and crossing.first_refusal and crossing.remaining == 0
    assert not later.allowed and not later.first_refusal
    assert rate_limit_headers(crossing)["Retry-After"] == "31"


def test_a_reset_never_reads_zero_or_negative() -> None:
    assert RateDecision.of(LIMIT, RateCount(count=1, reset_ms=1)).reset_seconds == 1
    assert RateDecision.of(LIMIT, RateCount(count=1, reset_ms=-1)).reset_seconds == 60


def test_binding_prefers_a_refusal_then_the_least_room() -> None:
    roomy = RateDecision.of(RateLimit("a", 100), RateCount(5, 50_000))
    tight = RateDecision.of(RateLimit("b", 3), RateCount(2, 10_000))
    refused_soon = RateDecision.of(RateLimit("c", 3), RateCount(5, 5_000))
    refused_late = RateDecision.of(RateLimit("d", 3), RateCount(4, 40_000))
    assert binding([roomy, tight]) is tight
    assert binding([roomy, refused_soon, refused_late]) is refused_late


def test_keys_separate_budgets_by_kind() -> None:
    keys = {
        auth_limit("10.0.0.1", 10).key,
        user_limit("10.0.0.1", 100).key,
        anonymous_limit("10.0.0.1", 100).key,
        account_failure_limit("10.0.0.1").key,
        login_code_limit("10.0.0.1").key,
        address_mail_limit(AddressMail.RESET_LINK, "10.0.0.1").key,
        address_mail_limit(AddressMail.SIGNUP, "10.0.0.1").key,
    }
    assert len(keys) == 7


SECRET = "s" * 40


def test_an_account_key_hides_the_address_behind_the_server_secret() -> None:
    key = account_key(SECRET, "alice.sok@example.org")
    assert "alice" not in key and "example" not in key and len(key) == 32
    assert key == account_key(SECRET, "Alice.Sok@EXAMPLE.org")  # one account whatever the case
    assert key != account_key(SECRET, "borey.vannak@example.org")
    assert key != account_key("t" * 40, "alice.sok@example.org")  # guessable only with the secret
