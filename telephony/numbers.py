"""The one grammar for numbers people type: extensions, phone numbers, dial destinations.

Nothing typed by a person reaches an AMI frame or a dial string unless it matches one of these
patterns in full (`fullmatch`, ASCII digits only: `\\d` would admit other scripts' digits).
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

EXTENSION_RE = re.compile(r"[0-9]{2,10}")
PHONE_NUMBER_RE = re.compile(r"\+?[0-9]{3,20}")
DESTINATION_RE = re.compile(r"\+?[0-9*#]{1,32}")


def validate_extension(value: str) -> None:
    if not isinstance(value, str) or not EXTENSION_RE.fullmatch(value):
        raise ValidationError("An extension is 2 to 10 digits, e.g. 1001.", code="invalid_extension")


def validate_phone_number(value: str) -> None:
    if not isinstance(value, str) or not PHONE_NUMBER_RE.fullmatch(value):
        raise ValidationError(
            "A phone number is 3 to 20 digits with an optional leading +, e.g. +4930123456.",
            code="invalid_number",
        )


def validate_destination(value: str) -> None:
    if not isinstance(value, str) or not DESTINATION_RE.fullmatch(value):
        raise ValidationError(
            "A destination is up to 32 of 0-9 * # with an optional leading +.", code="invalid_destination"
        )
