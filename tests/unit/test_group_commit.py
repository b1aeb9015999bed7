"""Group commit: concurrent submissions share writes, each gets its own outcome, and nothing waits for a timer."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from infra.group_commit import GroupCommit
from infra.runtime.ports import wait_until


class Clash(Exception):
    pass


class Writer:
    """Records the groups it is given; the first write blocks until released, so the others queue up."""

    def __init__(self) -> None:
        self.groups: list[list[int]] = []
        self.first_started = threading.Event()
        self.release = threading.Event()

    def __call__(self, requests: Sequence[int]) -> list[int | BaseException]:
        self.groups.append(list(requests))
        if len(self.groups) == 1:
            self.first_started.set()
            self.release.wait(10)
        return [Clash(f"{r} clashes") if r < 0 else r * 10 for r in requests]


def _submit_all(
    group: GroupCommit[int, int], requests: list[int]
) -> tuple[dict[int, int | BaseException], list[threading.Thread]]:
    outcomes: dict[int, int | BaseException] = {}

    def submit(request: int) -> None:
        try:
            outcomes[request] = group.submit(request)
        except Clash as clash:
            outcomes[request] = clash

    threads = [threading.Thread(target=submit, args=(r,)) for r in requests]
    for thread in threads:
        thread.start()
    return outcomes, threads


def test_a_lone_request_is_written_at_once() -> None:
    writer = Writer()
    writer.release.set()
    group: GroupCommit[int, int] = GroupCommit(writer)
    assert group.submit(4) == 40
    assert writer.groups == [[4]]


def test_requests_arriving_during_a_write_share_the_next_one_and_a_clash_fails_only_its_own() -> None:
    writer = Writer()
    group: GroupCommit[int, int] = GroupCommit(writer)
    first, first_threads = _submit_all(group, [1])
    assert writer.first_started.wait(10)
    others, threads = _submit_all(group, [2, -3, 4, 5])
    wait_until(lambda: len(group._waiting) == 4, 10, interval=0.005, what="four requests waiting")
    assert others == {}, "nobody is answered before the write holding them returns"
    writer.release.set()
    for thread in first_threads + threads:
        thread.join(10)
    assert first == {1: 10}
    assert sorted(writer.groups[1]) == [-3, 2, 4, 5], "the four waiting requests in one write"
    assert len(writer.groups) == 2
    assert {k: v for k, v in others.items() if not isinstance(v, BaseException)} == {2: 20, 4: 40, 5: 50}
    assert isinstance(others[-3], Clash)


def test_a_failed_write_fails_every_request_of_its_group_and_the_next_ones_go_on() -> None:
    calls: list[list[int]] = []

    def write(requests: Sequence[int]) -> list[int | BaseException]:
        calls.append(list(requests))
        if len(calls) == 1:
            raise ConnectionError("the database went away")
        return list(requests)

    group: GroupCommit[int, int] = GroupCommit(write)
    with pytest.raises(ConnectionError):
        group.submit(1)
    assert group.submit(2) == 2


def test_a_group_is_bounded_by_requests_and_by_size() -> None:
    writer = Writer()
    group: GroupCommit[int, int] = GroupCommit(writer, size=lambda r: r, max_requests=3, max_size=10)
    _first, first_threads = _submit_all(group, [1])
    assert writer.first_started.wait(10)
    _, threads = _submit_all(group, [2, 2, 2, 2, 9])
    wait_until(lambda: len(group._waiting) == 5, 10, interval=0.005, what="five requests waiting")
    writer.release.set()
    for thread in first_threads + threads:
        thread.join(10)
    later = writer.groups[1:]
    assert all(len(g) <= 3 for g in later), later
    assert all(len(g) == 1 or sum(g) <= 10 for g in later), later
    assert sorted(r for g in later for r in g) == [2, 2, 2, 2, 9]
