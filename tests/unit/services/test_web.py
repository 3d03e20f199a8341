"""The web layer's guards, without a server: a session that cannot be saved never changes the
answer, and a chunked body is refused whole when it is over the limit, never cut."""

from __future__ import annotations

import io
from typing import Any

import pytest

from mafa_cli.services.messages import InvalidInput
from mafa_cli.services.web import _GuardedSessions, read_whole_body


class StoreDown(Exception):
    """Stands in for redis.ConnectionError (no Redis in unit tests)."""


class _SessionsThatCannotSave:
    saves = 0

    def save_session(self, app: Any, session: Any, response: Any) -> None:
        self.saves += 1
        raise StoreDown("Redis is stopped")


class _Session(dict[str, Any]):
    pass


def test_a_session_that_cannot_be_saved_keeps_the_answer() -> None:
    inner = _SessionsThatCannotSave()
    guarded = _GuardedSessions(inner, (StoreDown,))  # type: ignore[arg-type]
    guarded.save_session(None, _Session(started_at="now"), None)  # type: ignore[arg-type]
    assert inner.saves == 1  # it was tried, and the failure stayed inside


def test_other_errors_while_saving_still_surface() -> None:
    guarded = _GuardedSessions(_SessionsThatCannotSave(), (KeyError,))  # type: ignore[arg-type]
    with pytest.raises(StoreDown):
        guarded.save_session(None, _Session(a=1), None)  # type: ignore[arg-type]


def _chunked(body: bytes) -> dict[str, Any]:
    return {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body)}


def test_a_chunked_body_within_the_limit_gets_a_length() -> None:
    environ = _chunked(b'{"message": "hi"}')
    read_whole_body(environ, 100)
    assert environ["CONTENT_LENGTH"] == "17"
    assert environ["wsgi.input"].read() == b'{"message": "hi"}'


@pytest.mark.parametrize("size", [101, 4 * 1024 * 1024])
def test_a_chunked_body_over_the_limit_is_refused_not_cut(size: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_whole_body(_chunked(b"x" * size), 100)
    assert caught.value.status == 413


def test_a_sized_body_is_left_to_werkzeug() -> None:
    stream = io.BytesIO(b"x" * 500)
    environ = {"CONTENT_LENGTH": "500", "wsgi.input": stream}
    read_whole_body(environ, 100)
    assert environ["wsgi.input"] is stream
    assert stream.tell() == 0


def test_the_chunked_framing_is_recognised_whatever_its_case() -> None:
    environ = {**_chunked(b"x" * 100), "HTTP_TRANSFER_ENCODING": "Chunked"}
    with pytest.raises(InvalidInput) as caught:
        read_whole_body(environ, 10)
    assert caught.value.status == 413
