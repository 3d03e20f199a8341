"""Group commit (services/batching.py), with real threads and no network."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from mafa_cli.services.batching import Batcher


def test_a_lone_caller_gets_its_own_result() -> None:
    batches: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        batches.append(items)
        return [i * 10 for i in items]

    batcher = Batcher(run, name="test")
    assert batcher.submit(4) == 40
    assert batches == [[4]]


def test_callers_arriving_together_share_a_batch_and_each_get_their_result() -> None:
    release = threading.Event()
    batches: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        batches.append(items)
        release.wait(5)  # the first batch holds the thread while the others queue up
        return [-i for i in items]

    batcher = Batcher(run, name="test", max_batch=8)
    with ThreadPoolExecutor(max_workers=10) as pool:
        first = pool.submit(batcher.submit, 0)
        while not batches:
            threading.Event().wait(0.01)
        rest = [pool.submit(batcher.submit, i) for i in range(1, 10)]
        while batcher._pending.qsize() < 9:
            threading.Event().wait(0.01)
        release.set()
        assert first.result(5) == 0
        assert [f.result(5) for f in rest] == [-i for i in range(1, 10)]
    assert batches[0] == [0]
    assert batches[1] == [1, 2, 3, 4, 5, 6, 7, 8], "queued callers form one batch, up to max"
    assert batches[2] == [9]


def test_a_failed_batch_fails_every_caller_in_it_and_the_next_batch_runs() -> None:
    def run(items: list[int]) -> list[int]:
        if 13 in items:
            raise ConnectionError("database unavailable")
        return items

    batcher = Batcher(run, name="test")
    with pytest.raises(ConnectionError, match="database unavailable"):
        batcher.submit(13)
    assert batcher.submit(1) == 1


def test_a_batch_that_answers_for_fewer_items_is_an_error_not_a_wrong_answer() -> None:
    batcher: Batcher[int, int] = Batcher(lambda items: items[:-1], name="short")
    with pytest.raises(RuntimeError, match="0 results for 1 items"):
        batcher.submit(1)
