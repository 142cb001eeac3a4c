"""Standard Webhooks signatures (the ``standardwebhooks`` package), one provider's secrets each.

A delivery verifies when any active secret of its provider signed it: during a
rotation the provider may sign with the old or the new secret (or both, in one
``webhook-signature`` header). The package checks the timestamp (within five
minutes of now); replays are the store's business (one row per webhook id).
"""

from __future__ import annotations

from collections.abc import Mapping

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from domain.errors import Unauthorized


class StandardWebhooksVerifier:
    def __init__(self, secrets: Mapping[str, tuple[str, ...]]) -> None:
        self._hooks = {
            provider: tuple(Webhook(secret) for secret in provider_secrets)
            for provider, provider_secrets in secrets.items()
        }

    def verify(self, provider: str, body: bytes, headers: Mapping[str, str]) -> None:
        hooks = self._hooks.get(provider, ())
        for hook in hooks:
            try:
                hook.verify(body, dict(headers), json_parse=False)
            except WebhookVerificationError:
                continue
            return
        # one answer for every refusal: which check failed helps only a forger
        raise Unauthorized("the webhook's signature or timestamp did not verify")
