"""Job ids are UUIDv7: time first, so new jobs' index entries stay on the newest pages."""

from __future__ import annotations

import time
import uuid

from domain.jobs.submit import new_job_id


def test_a_job_id_is_a_version_7_uuid_of_now() -> None:
    before = time.time_ns() // 1_000_000
    job_id = new_job_id()
    after = time.time_ns() // 1_000_000

    assert job_id.version == 7 and job_id.variant == uuid.RFC_4122
    assert before <= job_id.int >> 80 <= after


def test_ids_made_later_sort_later_and_never_repeat() -> None:
    ids = []
    for _ in range(50):
        ids.append(new_job_id())
        time.sleep(0.002)
    assert ids == sorted(ids)  # each a millisecond or more after the one before
    assert len({new_job_id() for _ in range(10_000)}) == 10_000


def test_the_random_bits_differ_within_one_millisecond() -> None:
    burst = [new_job_id() for _ in range(1000)]
    low_bits = {job_id.int & ((1 << 62) - 1) for job_id in burst}
    assert len(low_bits) == 1000
