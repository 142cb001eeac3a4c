"""E-mail address checks with the ``email-validator`` package.

Addresses are kept ASCII (internationalised domains in their punycode form,
non-ASCII local parts refused): any mail server accepts them, so a valid
address here never turns into a job that fails for want of SMTPUTF8.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from domain.errors import ValidationFailed


class EmailValidatorAddresses:
    def normalize(self, address: str) -> str:
        if not isinstance(address, str):
            raise ValidationFailed("'to' is not a valid e-mail address", field="to")
        try:
            checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError:
            # The library's message quotes the address: never pass it on.
            raise ValidationFailed("'to' is not a valid e-mail address", field="to") from None
        return checked.ascii_email or checked.normalized
