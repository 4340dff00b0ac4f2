"""The limiter core (radiant/ratelimit/) on both backends: Redis and in-process.

The arithmetic is checked exactly with a fake clock on the in-process backend (Redis reads
its own clock); behaviour under real time and real concurrency runs on both.
"""

import threading
import time
import uuid
from datetime import UTC, datetime

import pytest

from radiant import cache_keys, redis_wire
from radiant.ratelimit import script
from radiant.ratelimit.backends import Limit, MemoryBackend, RedisBackend
from radiant.ratelimit.script import BUCKET_EMPTY, QUOTA_SPENT
from tests.utc import seconds_to_utc_midnight

BACKENDS = ["memory", pytest.param("redis", marks=pytest.mark.redis)]


class Limiter:
    """A backend as these tests use it: count one request, get the decision."""

    def __init__(self, backend):
        self.backend = backend

    def check(self, bucket, daily, *, rate, burst, quota=None):
        return self.backend.check(Limit(bucket, rate, burst, daily, quota), None, ()).decision

    def ttls(self, *keys):
        return self.backend.ttls(*keys)


def MemoryLimiter(clock=None):
    return Limiter(MemoryBackend(clock=clock) if clock is not None else MemoryBackend())


def RedisLimiter():
    return Limiter(RedisBackend(redis_wire.backend()))


@pytest.fixture(params=BACKENDS)
def limiter(request):
    return RedisLimiter() if request.param == "redis" else MemoryLimiter()


def fresh_keys():
    tenant_id = uuid.uuid4()
    return cache_keys.ratelimit_tenant(tenant_id), cache_keys.ratelimit_tenant_daily(tenant_id)


# --- exact arithmetic, fake clock -------------------------------------------------------


class FakeClock:
    def __init__(self, when: datetime):
        self.ns = int(when.timestamp() * 1e9)

    def __call__(self):
        return self.ns

    def advance(self, seconds: float):
        self.ns += int(seconds * 1e9)


def test_bucket_admits_burst_then_exactly_rps_per_second():
    clock = FakeClock(datetime(2030, 5, 1, 12, 0, tzinfo=UTC))
    limiter = MemoryLimiter(clock=clock)
    bucket, daily = fresh_keys()

    def hit():
        return limiter.check(bucket, daily, rate=10, burst=20)

    first = [hit() for _ in range(20)]
    assert all(d.allowed for d in first)
    assert [d.remaining for d in first] == list(range(19, -1, -1))
    refused = hit()
    assert (refused.allowed, refused.reason, refused.retry_after) == (False, BUCKET_EMPTY, 1)

    clock.advance(0.099)
    assert not hit().allowed  # 0.99 of a token is not a token
    clock.advance(0.001)
    assert hit().allowed  # exactly one token after 100 ms
    assert not hit().allowed

    # One request every millisecond for 10 s after that: exactly rps·t more get in.
    admitted = 0
    for _ in range(10_000):
        clock.advance(0.001)
        admitted += hit().allowed
    assert admitted == 100


def test_reset_header_is_time_until_full_and_a_full_bucket_expires():
    clock = FakeClock(datetime(2030, 5, 1, 12, 0, tzinfo=UTC))
    limiter = MemoryLimiter(clock=clock)
    bucket, daily = fresh_keys()
    for _ in range(20):
        decision = limiter.check(bucket, daily, rate=10, burst=20)
    assert decision.reset == 2  # 20 tokens at 10/s
    assert limiter.ttls(bucket)[bucket] == 2_000 + script.BUCKET_KEY_GRACE_MS
    clock.advance(3.1)
    assert limiter.ttls(bucket)[bucket] == -2  # gone: an absent bucket is a full one
    assert limiter.check(bucket, daily, rate=10, burst=20).remaining == 19


def test_daily_quota_counts_a_utc_day_and_resets_at_midnight():
    clock = FakeClock(datetime(2030, 5, 1, 23, 59, 58, 500_000, tzinfo=UTC))
    limiter = MemoryLimiter(clock=clock)
    bucket, daily = fresh_keys()

    decisions = [limiter.check(bucket, daily, rate=100, burst=100, quota=3) for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.daily_remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[-1].reason == QUOTA_SPENT
    assert decisions[-1].retry_after == 2  # 23:59:58.5 -> midnight, rounded up
    assert limiter.ttls(daily)[daily] == 61_500  # until midnight plus a minute's grace

    clock.advance(1.5)  # 00:00:00.000 of the next day
    after = limiter.check(bucket, daily, rate=100, burst=100, quota=3)
    assert after.allowed and after.daily_remaining == 2
    assert after.daily_reset == 86_400


def test_a_refused_request_consumes_from_neither_limit():
    clock = FakeClock(datetime(2030, 5, 1, 12, 0, tzinfo=UTC))
    limiter = MemoryLimiter(clock=clock)

    bucket, daily = fresh_keys()
    for _ in range(2):
        assert limiter.check(bucket, daily, rate=1, burst=2, quota=5).allowed
    for _ in range(10):  # bucket empty: refused, and the quota keeps its 3
        refused = limiter.check(bucket, daily, rate=1, burst=2, quota=5)
        assert (refused.reason, refused.daily_remaining) == (BUCKET_EMPTY, 3)
    clock.advance(3)
    admitted = [limiter.check(bucket, daily, rate=1, burst=2, quota=5).allowed for _ in range(2)]
    assert admitted == [True, True]

    bucket, daily = fresh_keys()
    for _ in range(3):
        assert limiter.check(bucket, daily, rate=1, burst=10, quota=3).allowed
    for _ in range(10):  # quota spent: refused, and the bucket keeps its 7 tokens
        refused = limiter.check(bucket, daily, rate=1, burst=10, quota=3)
        assert (refused.reason, refused.remaining) == (QUOTA_SPENT, 7)
    assert limiter.check(bucket, daily, rate=1, burst=10, quota=100).remaining == 6


# --- both backends, real time -----------------------------------------------------------


def test_refused_requests_consume_nothing_on_either_backend(limiter, not_near_midnight):
    bucket, daily = fresh_keys()
    slow = 0.001  # one token per 1000 s: nothing refills during the test
    assert [limiter.check(bucket, daily, rate=slow, burst=2, quota=5).allowed for _ in range(2)] == [True, True]
    refused = [limiter.check(bucket, daily, rate=slow, burst=2, quota=5) for _ in range(5)]
    assert {(d.reason, d.daily_remaining) for d in refused} == {(BUCKET_EMPTY, 3)}
    assert refused[0].retry_after == 1000

    # A faster rate refills at once; the quota still holds the 3 the refusals did not take.
    admitted = [limiter.check(bucket, daily, rate=1_000_000, burst=100, quota=5) for _ in range(5)]
    assert [d.allowed for d in admitted] == [True, True, True, False, False]
    assert admitted[-1].reason == QUOTA_SPENT

    # And the other way round: refusals for the quota take no tokens from the bucket.
    bucket, daily = fresh_keys()
    for _ in range(3):
        assert limiter.check(bucket, daily, rate=slow, burst=10, quota=3).allowed
    refused = [limiter.check(bucket, daily, rate=slow, burst=10, quota=3) for _ in range(5)]
    assert {(d.reason, d.remaining) for d in refused} == {(QUOTA_SPENT, 7)}
    assert limiter.check(bucket, daily, rate=slow, burst=10, quota=100).remaining == 6


def test_exact_under_32_threads(limiter):
    """32 threads hammer one bucket (rps 10, burst 20) for 1 s: never more than
    burst + rps·t + 1, and not over-throttled either."""
    bucket, daily = fresh_keys()
    admitted = []
    barrier = threading.Barrier(32)
    window = {}

    def client():
        count = 0
        barrier.wait()
        window.setdefault("start", time.monotonic())
        deadline = window["start"] + 1.0
        while time.monotonic() < deadline:
            count += limiter.check(bucket, daily, rate=10, burst=20).allowed
        admitted.append(count)
        window["end"] = max(window.get("end", 0), time.monotonic())

    threads = [threading.Thread(target=client) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    total = sum(admitted)
    elapsed = window["end"] - window["start"]
    assert total <= 20 + 10 * elapsed + 1, (total, elapsed)
    assert total >= 0.95 * (20 + 10 * 1.0), (total, elapsed)


# --- Redis specifics --------------------------------------------------------------------


@pytest.mark.redis
def test_redis_keys_carry_expiries_and_share_a_cluster_slot(not_near_midnight):
    limiter = RedisLimiter()
    bucket, daily = fresh_keys()
    started = time.time()
    for _ in range(3):
        limiter.check(bucket, daily, rate=10, burst=20, quota=100)

    ttls = limiter.ttls(bucket, daily)
    assert 0 < ttls[bucket] <= 300 + script.BUCKET_KEY_GRACE_MS  # 3 tokens at 10/s
    assert 0 < ttls[daily] <= (seconds_to_utc_midnight(started) + script.DAILY_KEY_GRACE) * 1000

    from redis.cluster import key_slot

    assert key_slot(bucket.encode()) == key_slot(daily.encode())
