"""Credentials as they are read, and the one scrubber every message that may hold one passes.

`credential()` checks a key where it is read: surrounding whitespace (a Windows `.env`, `echo`
into a secret) is trimmed with a logged note, and a character no HTTP header can carry is refused
with a message that names the variable, never the value. Each credential read is remembered, so
`scrub()` removes it from any text later, also from urllib3's log records (`scrub_logs()`).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

from promosync.connectors.errors import ConfigError

log = logging.getLogger(__name__)

SECRET_VARIABLES = (
    "VOUCHERIFY_APP_ID",
    "VOUCHERIFY_APP_TOKEN",
    "TALON_ONE_API_KEY",
    "TALON_ONE_MANAGEMENT_KEY",
)
# Credentials as they appear in headers and URLs, whatever their value.
CREDENTIAL_PATTERNS = (
    re.compile(r"((?:ApiKey-v1|ManagementKey-v1|Bearer|Basic)\s+)[^\s'\",;}]+", re.IGNORECASE),
    re.compile(r"(X-App-(?:Id|Token)['\"]?\s*[:=]\s*['\"]?)[^\s'\",;}]+", re.IGNORECASE),
    re.compile(r"(://[^/\s:@]+:)[^@\s/]+(?=@)"),
)
# Shorter values are not masked: they would mask ordinary words. A value given to scrub() is
# masked from 4 characters; one remembered for every later text (any logger's) from 8: a real
# key is longer, and a test's "wrong" must not vanish from every other message.
SHORTEST_SECRET, SHORTEST_REMEMBERED = 4, 8
_known: set[str] = set()  # every credential read in this process, in each form it may take
_known_lock = threading.Lock()
_LOGGER_PREFIXES = ("urllib3", "promosync")


def refusal(value: str, spaces: bool = False) -> str | None:
    """Why `value` cannot travel in an HTTP header, without quoting it; None if it can.

    A key is one word: a space inside one is refused too, unless `spaces` (a whole header value
    such as `ApiKey-v1 <key>`).
    """
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in value):
        return "holds a control or invisible character (a line break, tab, NUL or soft hyphen)"
    if any(ord(c) > 0xFF for c in value):
        return "holds a character outside Latin-1 (a typographic quote or a look-alike letter?)"
    if not spaces and any(c.isspace() for c in value):
        return "holds a space inside it"
    return None


def credential(variable: str, value: str | None) -> str:
    """`value` of credential `variable`, trimmed; ConfigError if it is unusable as a header.

    Empty stays empty (the caller says which variables to set). The message names `variable`
    and the kind of character, never the value nor any part of it.
    """
    remember(value or "")
    trimmed = trimmed_setting(variable, value)
    problem = refusal(trimmed)
    if problem:
        raise ConfigError(
            f"{variable} {problem}; copy the key again from the platform's settings and set"
            f" {variable} to exactly that"
        )
    return trimmed


def trimmed_setting(variable: str, value: str | None) -> str:
    """`value` without surrounding whitespace; a logged note (naming `variable`) if it had some."""
    raw = value or ""
    trimmed = raw.strip()
    if trimmed != raw:
        log.warning(
            "%s has whitespace or a line break around it (a Windows .env file, or `echo` into a"
            " secret?); it was trimmed. Remove it where %s is set to silence this note.",
            variable, variable,
        )  # fmt: skip
    return trimmed


def remember(*secrets: str) -> None:
    """Mask these values (and their trimmed and URL-encoded forms) in whatever `scrub()` sees."""
    forms = {
        form
        for secret in secrets
        for form in (secret, secret.strip(), quote(secret.strip(), safe=""))
        if len(form) >= SHORTEST_REMEMBERED
    }
    if forms - _known:
        with _known_lock:
            _known.update(forms)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every credential value and every credential-shaped token replaced by `***`.

    Values are those read through `credential()` in this process, and `secrets`.
    """
    values = {s for secret in secrets for s in (secret, secret.strip())} | _known
    for secret in sorted((s for s in values if len(s) >= SHORTEST_SECRET), key=len, reverse=True):
        text = text.replace(secret, "***")
    for pattern in CREDENTIAL_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


class ScrubbingFilter(logging.Filter):
    """Rewrites a log record's message and traceback through `scrub()` before any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and record.exc_info[0] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, scrub(text)
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


_FILTER = ScrubbingFilter()


def scrub_logs() -> None:
    """Put the scrubbing filter on every urllib3 and promosync logger that exists (idempotent).

    A logger's filters see only records logged to that very logger, so each one gets it.
    """
    names = [
        name
        for name in list(logging.root.manager.loggerDict)
        if name.split(".")[0] in _LOGGER_PREFIXES
    ]
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
