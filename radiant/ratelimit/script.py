"""The token bucket and daily quota: the Lua script Redis runs, its Python mirror, and the
decision both return (the rules: radiant/ratelimit/__init__.py).

State is integers: tokens in millionths and time in microseconds, so refill is exact up to
a floor of under a millionth of a token per admitted request (never in the client's favour).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

MICRO = 1_000_000  # tokens are kept in millionths, time in microseconds
DAY = 86_400
DAILY_KEY_GRACE = 60  # seconds a daily counter outlives its UTC day
BUCKET_KEY_GRACE_MS = 1_000  # milliseconds a bucket outlives the moment it is full again

# reasons, as the script returns them
ADMITTED, BUCKET_EMPTY, QUOTA_SPENT = 0, 1, 2
AUTH_STALE = 3  # the caller's auth row is out of date; nothing was counted

# KEYS[1] bucket hash {t = tokens (millionths), u = last update (µs, Redis TIME)}
# KEYS[2] daily hash {d = UTC day number, n = requests admitted that day}; only with a quota
# KEYS[#KEYS] the tenant's auth generation, only with ARGV[4]
# ARGV    rate (tokens/s), burst (tokens), daily quota (0: none)
#         [, the auth generation the caller's key was read under]
# returns {reason, whole tokens left, µs until full, µs until next token, used today,
#          s until next UTC midnight}, or {AUTH_STALE, 0, 0, 0, 0, 0} if ARGV[4] is not the
#          tenant's generation any more (nothing is counted: the caller re-authenticates).
# Mirrors evaluate() below (the generation check aside); change both together.
SCRIPT = """
if ARGV[4] and redis.call('GET', KEYS[#KEYS]) ~= ARGV[4] then
  return {AUTH_STALE, 0, 0, 0, 0, 0}
end
local MICRO, DAY = 1000000, 86400
local clock = redis.call('TIME')
local now_s = tonumber(clock[1])
local now = now_s * MICRO + tonumber(clock[2])
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2]) * MICRO
local quota = tonumber(ARGV[3])

local tokens = capacity
local bucket = redis.call('HMGET', KEYS[1], 't', 'u')
if bucket[1] and bucket[2] then
  local elapsed = math.max(0, now - tonumber(bucket[2]))
  tokens = math.min(capacity, tonumber(bucket[1]) + math.floor(elapsed * rate))
end

local day = math.floor(now_s / DAY)
local used = 0
if quota > 0 then
  local daily = redis.call('HMGET', KEYS[2], 'd', 'n')
  if daily[1] and daily[2] and tonumber(daily[1]) == day then used = tonumber(daily[2]) end
end

local reason = 0
if quota > 0 and used >= quota then
  reason = 2
elseif tokens < MICRO then
  reason = 1
end

if reason == 0 then
  tokens = tokens - MICRO
  redis.call('HSET', KEYS[1], 't', string.format('%.0f', tokens), 'u', string.format('%.0f', now))
  local ttl_ms = math.ceil((capacity - tokens) / rate / 1000) + BUCKET_GRACE_MS
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl_ms))
  if quota > 0 then
    used = used + 1
    redis.call('HSET', KEYS[2], 'd', string.format('%.0f', day), 'n', string.format('%.0f', used))
    redis.call('EXPIREAT', KEYS[2], string.format('%.0f', (day + 1) * DAY + DAILY_GRACE))
  end
end

local full_in, retry_in = 0, 0
if tokens < capacity then full_in = math.ceil((capacity - tokens) / rate) end
if tokens < MICRO then retry_in = math.ceil((MICRO - tokens) / rate) end
return {reason, math.floor(tokens / MICRO), full_in, retry_in, used, (day + 1) * DAY - now_s}
""".replace("BUCKET_GRACE_MS", str(BUCKET_KEY_GRACE_MS)).replace("DAILY_GRACE", str(DAILY_KEY_GRACE)).replace(
    "AUTH_STALE", str(AUTH_STALE)
)
SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()


def evaluate(now_us, bucket, daily, *, rate, burst, quota):
    """The script's arithmetic in Python, for the in-process backend.

    ``bucket`` is ``(tokens, updated_us)`` or None (full); ``daily`` is ``(day, used)`` or
    None. Returns ``(result, new_bucket, bucket_expires_us, new_daily, daily_expires_us)``;
    the ``new_*`` values are None when nothing is to be written.
    """
    capacity = burst * MICRO
    now_s = now_us // MICRO
    tokens = capacity
    if bucket is not None:
        elapsed = max(0, now_us - bucket[1])
        tokens = min(capacity, bucket[0] + math.floor(elapsed * rate))
    day = now_s // DAY
    used = daily[1] if quota and daily is not None and daily[0] == day else 0
    if quota and used >= quota:
        reason = QUOTA_SPENT
    elif tokens < MICRO:
        reason = BUCKET_EMPTY
    else:
        reason = ADMITTED
    new_bucket = bucket_expires = new_daily = daily_expires = None
    if reason == ADMITTED:
        tokens -= MICRO
        new_bucket = (tokens, now_us)
        bucket_expires = now_us + (math.ceil((capacity - tokens) / rate / 1000) + BUCKET_KEY_GRACE_MS) * 1000
        if quota:
            used += 1
            new_daily = (day, used)
            daily_expires = ((day + 1) * DAY + DAILY_KEY_GRACE) * MICRO
    full_in = math.ceil((capacity - tokens) / rate) if tokens < capacity else 0
    retry_in = math.ceil((MICRO - tokens) / rate) if tokens < MICRO else 0
    result = (reason, tokens // MICRO, full_in, retry_in, used, (day + 1) * DAY - now_s)
    return result, new_bucket, bucket_expires, new_daily, daily_expires


@dataclass(frozen=True)
class Decision:
    """What the limiter said about one request, and what the client is told."""

    allowed: bool
    reason: int  # ADMITTED, BUCKET_EMPTY or QUOTA_SPENT
    limit: int  # bucket capacity (burst)
    remaining: int  # whole tokens left
    reset: int  # seconds until the bucket is full
    retry_after: int  # seconds; 0 when admitted
    rate: float
    daily_limit: int | None = None
    daily_remaining: int | None = None
    daily_reset: int | None = None  # seconds until the next UTC midnight
    next_token_us: int = 0  # µs until the bucket holds a whole token again (0: it does)
    full_us: int = 0  # µs until the bucket is full

    @classmethod
    def from_result(cls, result, *, rate, burst, quota):
        reason, tokens, full_in_us, retry_in_us, used, midnight_in = (int(v) for v in result)
        if reason == QUOTA_SPENT:
            retry_after = midnight_in
        elif reason == BUCKET_EMPTY:
            retry_after = max(1, math.ceil(retry_in_us / MICRO))
        else:
            retry_after = 0
        return cls(
            allowed=reason == ADMITTED,
            reason=reason,
            limit=burst,
            remaining=tokens,
            reset=math.ceil(full_in_us / MICRO),
            retry_after=retry_after,
            rate=rate,
            daily_limit=quota or None,
            daily_remaining=max(0, quota - used) if quota else None,
            daily_reset=midnight_in if quota else None,
            next_token_us=retry_in_us,
            full_us=full_in_us,
        )

    @property
    def outcome(self) -> str:
        """For logs and metrics: ``allowed``, ``rate_limited`` or ``daily_quota_exceeded``."""
        if self.allowed:
            return "allowed"
        return "daily_quota_exceeded" if self.reason == QUOTA_SPENT else "rate_limited"

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if self.daily_limit is not None:
            headers["X-RateLimit-Daily-Limit"] = str(self.daily_limit)
            headers["X-RateLimit-Daily-Remaining"] = str(self.daily_remaining)
            headers["X-RateLimit-Daily-Reset"] = str(self.daily_reset)
        return headers


