"""What a message is, and what input is refused, before anything is stored or published.

Pure functions: the sender's HTML form and JSON API both call `clean_message`, so a bad message is
refused the same way on both paths (the original crashed on `message=a&message=b`).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# At least 16 characters: keys are global (they must hold across sessions and senders), so a
# short, guessable key would answer one client with another's message. A random UUID fits.
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{16,128}$")
# C0 controls and DEL, except tab, newline and carriage return. PostgreSQL text cannot hold NUL
# at all, and the others only corrupt what the pages and terminals show.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InvalidInput(ValueError):
    """Input refused; `status` is the HTTP status to answer with, `reason` says why to a person."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def clean_message(values: list[str], max_bytes: int) -> str:
    """The message text from the values of the `message` field (all of them, so a repeated field
    is seen), trimmed; raises InvalidInput when it cannot be accepted."""
    if not values:
        raise InvalidInput(422, "the field 'message' is missing")
    if len(values) > 1:
        raise InvalidInput(422, f"the field 'message' was sent {len(values)} times; send it once")
    value = values[0]
    if not isinstance(value, str):
        raise InvalidInput(422, "the field 'message' must be a string")
    text = value.strip()
    if not text:
        raise InvalidInput(422, "the message is empty")
    if _CONTROL.search(text):
        raise InvalidInput(422, "the message contains control characters")
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > max_bytes:
        raise InvalidInput(422, f"the message is {size} bytes; the limit is {max_bytes} bytes")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(422, "the message is not valid Unicode text") from None
    return text


def _clean_token(value: object, pattern: re.Pattern[str], what: str, sizes: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not pattern.match(value):
        raise InvalidInput(422, f"{what} must be {sizes} characters of letters, digits and _.:-")
    return value


def clean_run_id(value: object) -> str | None:
    """An optional load-run id (letters, digits, `_.:-`, at most 64), used to trace a run."""
    return _clean_token(value, RUN_ID_PATTERN, "run_id", "1-64")


def clean_idempotency_key(value: object) -> str | None:
    """An optional idempotency key (letters, digits, `_.:-`, 16 to 128 of them): requests that
    carry the same key make one message, answered alike."""
    return _clean_token(value, IDEMPOTENCY_KEY_PATTERN, "Idempotency-Key", "16-128")


def parse_form_body(body: bytes) -> dict[str, list[str]]:
    """Decode an application/x-www-form-urlencoded body strictly: bytes that are not UTF-8
    (raw or percent-encoded) are refused rather than silently replaced."""
    try:
        pairs = parse_qsl(
            body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        raise InvalidInput(400, "the form body is not valid UTF-8") from None
    except ValueError as exc:
        raise InvalidInput(400, f"the form body is malformed: {exc}") from None
    fields: dict[str, list[str]] = {}
    for key, value in pairs:
        fields.setdefault(key, []).append(value)
    return fields


# Limits of the JSON a body may hold. A message is one string in a flat object: nothing real is
# nested deeper or carries numbers longer than this, and refusing them up front keeps the
# parser's recursion and int() conversion (quadratic, capped at 4,300 digits) out of reach.
MAX_JSON_DEPTH = 16
MAX_JSON_NUMBER_CHARS = 40
# A string (with its escapes), or a bracket outside strings: what the depth scan looks at. The
# closing quote is optional so that an unterminated string is consumed once, to the end: with it
# required, the scan restarted at every quote of a body like `"\"\"\"...` (quadratic time, seconds
# of CPU for 16 KB, every sender thread stalled meanwhile).
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


def json_depth(body: bytes) -> int:
    """How deeply arrays and objects nest in `body` (brackets inside strings do not count)."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(body):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif bracket in (b"]", b"}"):
            depth -= 1
    return deepest


def _number(text: str) -> float | int:
    if len(text) > MAX_JSON_NUMBER_CHARS:
        raise InvalidInput(
            422, f"a number in the body has {len(text)} characters; at most {MAX_JSON_NUMBER_CHARS}"
        )
    return float(text) if any(c in text for c in ".eE") else int(text)


def _not_a_number(text: str) -> None:
    raise InvalidInput(400, f"the body is not valid JSON: {text} is not a JSON value")


def _object_without_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    data: dict[str, object] = {}
    for key, value in pairs:
        if key in data:
            raise InvalidInput(422, f"the key {key!r} appears twice in one object; send it once")
        data[key] = value
    return data


def parse_json_body(body: bytes) -> dict[str, object]:
    """A JSON object from the body; InvalidInput for anything else, including what is valid JSON
    but no honest client sends: nesting deeper than MAX_JSON_DEPTH, numbers longer than
    MAX_JSON_NUMBER_CHARS, NaN/Infinity, a key twice in one object."""
    depth = json_depth(body)
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(400, f"the body nests {depth} levels deep; at most {MAX_JSON_DEPTH}")
    try:
        data = json.loads(
            body.decode("utf-8"),
            object_pairs_hook=_object_without_duplicates,
            parse_int=_number,
            parse_float=_number,
            parse_constant=_not_a_number,
        )
    except UnicodeDecodeError:
        raise InvalidInput(400, "the body is not valid UTF-8") from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(400, f"the body is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InvalidInput(422, 'the body must be a JSON object like {"message": "..."}')
    return data


@dataclass(frozen=True)
class Envelope:
    """What travels through the queue: the message and what the ledger needs to trace it."""

    id: uuid.UUID
    body: str
    sender: str
    run_id: str | None
    sent_at: datetime

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "id": str(self.id),
                "body": self.body,
                "sender": self.sender,
                "run_id": self.run_id,
                "sent_at": self.sent_at.isoformat(),
            },
            ensure_ascii=False,
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        """Parse a delivery; ValueError for anything that is not an envelope (a poison message)."""
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("envelope is not a JSON object")
        body = data.get("body")
        sender = data.get("sender")
        if not isinstance(body, str) or not isinstance(sender, str):
            raise ValueError("envelope lacks body or sender")
        run_id = data.get("run_id")
        return cls(
            id=uuid.UUID(str(data.get("id"))),
            body=body,
            sender=sender,
            run_id=run_id if isinstance(run_id, str) else None,
            sent_at=datetime.fromisoformat(str(data.get("sent_at"))),
        )
