"""Message validation and the queue envelope: what is refused, and how."""

import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mafa_cli.services.messages import (
    Envelope,
    InvalidInput,
    clean_idempotency_key,
    clean_message,
    clean_run_id,
    parse_form_body,
    parse_json_body,
)


def test_message_is_trimmed() -> None:
    assert clean_message(["  hello\tworld \n"], 100) == "hello\tworld"


@pytest.mark.parametrize(
    ("values", "status", "reason"),
    [
        ([], 422, "missing"),
        (["a", "b"], 422, "sent 2 times"),
        (["   "], 422, "empty"),
        (["a\x00b"], 422, "control characters"),
        (["a\x1bb"], 422, "control characters"),
        (["é" * 3], 422, "6 bytes; the limit is 5"),
        (["\ud800"], 422, "not valid Unicode"),
        ([7], 422, "must be a string"),
    ],
)
def test_refused_messages(values: list[str], status: int, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        clean_message(values, 5)
    assert caught.value.status == status
    assert reason in caught.value.reason


def test_limit_counts_utf8_bytes_not_characters() -> None:
    assert clean_message(["éé"], 4) == "éé"


@given(st.lists(st.text(), max_size=3))
def test_clean_message_never_raises_anything_else(values: list[str]) -> None:
    try:
        text = clean_message(values, 64)
    except InvalidInput as exc:
        status = exc.status
    else:
        status = 200
        assert text
        assert text == text.strip()
        assert len(text.encode("utf-8")) <= 64
    assert status in (200, 422)


def test_form_body_keeps_repeated_and_bracketed_fields() -> None:
    fields = parse_form_body(b"message=a&message=b&message%5Bx%5D=1")
    assert fields == {"message": ["a", "b"], "message[x]": ["1"]}


@pytest.mark.parametrize("body", [b"message=%FF%FE", b"message=\xff", b"message=caf%C3"])
def test_form_body_that_is_not_utf8_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_form_body(body)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"\xff", 400), (b"{", 400), (b"[1]", 422), (b'"text"', 422)],
)
def test_json_body_refusals(body: bytes, status: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_json_body(body)
    assert caught.value.status == status


def test_run_id() -> None:
    assert clean_run_id(None) is None
    assert clean_run_id("run-1.a:b_c") == "run-1.a:b_c"
    for bad in ("x" * 65, "a b", 5, "é"):
        with pytest.raises(InvalidInput):
            clean_run_id(bad)


def test_envelope_round_trip() -> None:
    env = Envelope(uuid.uuid4(), "<b>héllo</b>", "sender-1", "run", datetime.now(UTC))
    assert Envelope.from_bytes(env.to_bytes()) == env


@pytest.mark.parametrize(
    "raw", [b"not json", b"[]", b'{"id": "x", "body": "b", "sender": "s"}', b'{"id": 1}']
)
def test_unreadable_envelopes_raise_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  (every parse failure is a ValueError)
        Envelope.from_bytes(raw)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"[" * 5000, 400, "nests 5000 levels"),
        (b'{"a":' * 2500, 400, "nests 2500 levels"),
        (b'{"message": "a", "x": ' + b"[" * 1100 + b"]" * 1100 + b"}", 400, "nests 1101"),
        (b'{"message": "a", "n": ' + b"9" * 4400 + b"}", 422, "4400 characters"),
        (b'{"message": "a", "n": -' + b"1" * 50 + b".5e3}", 422, "characters"),
        (b'{"message": "a", "message": "b"}', 422, "'message' appears twice"),
        (b'{"message": "a", "x": {"k": 1, "k": 2}}', 422, "'k' appears twice"),
        (b'{"message": NaN}', 400, "NaN is not a JSON value"),
        (b'{"message": Infinity}', 400, "Infinity"),
    ],
)
def test_json_no_honest_client_sends_is_refused(body: bytes, status: int, reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_json_body(body)
    assert caught.value.status == status
    assert reason in caught.value.reason


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = "[" * 100 + '\\"{' * 50
    body = ('{"message": "' + text + '"}').encode()
    assert parse_json_body(body) == {"message": "[" * 100 + '"{' * 50}


def test_json_within_the_limits_is_taken() -> None:
    body = b'{"message": "a", "x": ' + b"[" * 15 + b"1.5e3" + b"]" * 15 + b', "n": 12345}'
    assert parse_json_body(body)["n"] == 12345


def test_idempotency_keys_must_be_long_enough_not_to_be_guessed() -> None:
    assert clean_idempotency_key(None) is None
    key = uuid.uuid4().hex
    assert clean_idempotency_key(key) == key
    for bad in ("k1", "a" * 15, "a" * 129, "has space" * 3, 12345678901234567):
        with pytest.raises(InvalidInput) as caught:
            clean_idempotency_key(bad)
        assert "16-128 characters" in caught.value.reason


def test_unterminated_strings_are_scanned_in_linear_time() -> None:
    """A body of escaped quotes with no closing quote once made the depth scan restart at every
    quote (quadratic). At 2 MB the quadratic scan would run for hours; the linear one takes
    milliseconds, so the child process's generous limit is no timing claim."""
    script = (
        "from mafa_cli.services.messages import json_depth\n"
        "assert json_depth(b'[' + b'\"' + b'\\\\\"' * 1_000_000) == 1\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], timeout=60, check=False)
    assert finished.returncode == 0
