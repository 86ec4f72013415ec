"""Logging that never shows personal data.

Every log record is masked, whatever a message, its arguments or its
traceback contain: a last line of defence behind the rule that payloads are
never logged.

- Card and phone numbers: digit runs long enough to be one keep their last 4 digits.
- Personal fields of the contract (`phone`, `card_ref`, `customer_id`, and
  free text that people write: `note`, `reason`, `reviewer`, which may name a
  customer or an operator; events.personal): a value written after one of
  these keys (`"note": "…"`, `'reviewer': '…'`, `note=…`) becomes `***`.
"""

from __future__ import annotations

import logging
import re

from events.inbound import EVENT_TYPES
from events.personal import personal_names

_PERSONAL = re.compile(r"(?<!\d)(\+?\d[\d -]{9,22}\d)(?!\d)")
PERSONAL_FIELDS = personal_names(EVENT_TYPES.values())
"""Every personal field name of the contract (events.personal): their values are never shown."""
_FREE_TEXT = re.compile(
    r"""(?P<key>(?P<q>["']?)\b(?:"""
    + "|".join(sorted(PERSONAL_FIELDS))
    + r""")(?P=q)\s*[:=]\s*)(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;)}\]]+)"""
)


def _hide_free_text(match: re.Match[str]) -> str:
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') else ""
    return f"{match.group('key')}{quote}***{quote}"


def mask(text: str) -> str:
    """Hide phone and card numbers (keeping their last 4 digits) and the values of free-text fields."""

    def hide(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(1))
        return match.group(1) if len(digits) < 11 else f"***{digits[-4:]}"

    return _FREE_TEXT.sub(_hide_free_text, _PERSONAL.sub(hide, text))


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


def configure_logging(level: int = logging.WARNING) -> None:
    """Logs (and progress) go to stderr; stdout is for results only."""
    handler = logging.StreamHandler()  # stderr
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
