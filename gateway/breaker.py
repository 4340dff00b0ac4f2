"""A circuit breaker per provider and model, shared by every process through Redis.

States: *closed* (calls go through; consecutive failures are counted), *open* (calls are
refused at once, no upstream hit, until the cooldown ends), *half-open* (after the
cooldown one call, the probe, goes through; the others are still refused). The probe's
success closes the breaker; its failure opens it for another cooldown. A probe that never
reports back (its process died) is given up after the cooldown and another is let through.

The state is one Redis hash per (provider, model), read and changed only by Lua scripts
with Redis's clock (``TIME``), so every process and instance sees one state and one clock.
What a call costs in round trips: one script before it (the admission, which also counts
the call in the day's traffic); after it, nothing when it succeeded on a clean breaker, one
script when it failed or had to close the breaker. The day's counters (calls, errors,
refused) sit in the same hash slot, for the admin.

Without Redis (the embedded default) the same rules run on this process's memory.
Redis unreachable: calls are admitted (the breaker fails open, like the rate limiter) and
the error is counted; a provider outage then shows as upstream errors, not as ours.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.exceptions import NoScriptError

from radiant import cache_keys, metrics, redis_wire

logger = logging.getLogger(__name__)

TRAFFIC_DAYS = 8  # the admin shows a week

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class Admission:
    allowed: bool
    probe: bool = False
    clean: bool = True  # closed with no failures counted: a success needs no write
    retry_after: float = 0.0  # seconds, when refused

    @property
    def needs_report_on_success(self) -> bool:
        return self.probe or not self.clean


@dataclass(frozen=True)
class Settings:
    threshold: int
    cooldown_ms: int


def _day() -> str:
    return datetime.now(UTC).strftime("%Y%m%d")


# KEYS: breaker hash, today's traffic hash. ARGV: cooldown in ms (a probe's time to report).
# Returns {verdict, wait ms, failures}: verdict 1 admitted, 2 admitted as the probe, 0 refused.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('HMGET', KEYS[1], 'state', 'failures', 'until')
local state = s[1]
if (not state) or state == 'closed' then
  redis.call('HINCRBY', KEYS[2], 'calls', 1)
  redis.call('EXPIRE', KEYS[2], %(ttl)d)
  return {1, 0, tonumber(s[2]) or 0}
end
local untl = tonumber(s[3]) or 0
if now < untl then
  redis.call('HINCRBY', KEYS[2], 'refused', 1)
  redis.call('EXPIRE', KEYS[2], %(ttl)d)
  return {0, untl - now, 0}
end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'until', now + tonumber(ARGV[1]))
redis.call('HINCRBY', KEYS[2], 'calls', 1)
redis.call('EXPIRE', KEYS[2], %(ttl)d)
return {2, 0, 0}
""" % {"ttl": TRAFFIC_DAYS * 86400}

# KEYS: breaker hash, today's traffic hash. ARGV: 1 if the call failed, threshold,
# cooldown ms, 1 if the call was the probe. Returns the state after.
_REPORT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HGET', KEYS[1], 'state')
if ARGV[1] == '0' then
  if state == 'open' then return 'open' end
  if state == 'half_open' and ARGV[4] ~= '1' then return 'half_open' end
  redis.call('DEL', KEYS[1])
  return 'closed'
end
redis.call('HINCRBY', KEYS[2], 'errors', 1)
redis.call('EXPIRE', KEYS[2], %(ttl)d)
local cooldown = tonumber(ARGV[3])
if state == 'half_open' or state == 'open' then
  if ARGV[4] == '1' or state == 'half_open' then
    redis.call('HSET', KEYS[1], 'state', 'open', 'until', now + cooldown, 'failures', 0)
    redis.call('PEXPIRE', KEYS[1], cooldown + 86400000)
  end
  return 'open'
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'open', 'until', now + cooldown, 'failures', 0)
  redis.call('PEXPIRE', KEYS[1], cooldown + 86400000)
  return 'open'
end
redis.call('HSET', KEYS[1], 'state', 'closed')
redis.call('PEXPIRE', KEYS[1], 86400000)
return 'closed'
""" % {"ttl": TRAFFIC_DAYS * 86400}

_SHA = {script: hashlib.sha1(script.encode()).hexdigest() for script in (_ADMIT, _REPORT)}


class RedisBreakers:
    def __init__(self, backend):
        self.backend = backend

    def _run(self, script, keys, *args):
        keys = [self.backend.make_key(key) for key in keys]
        (result,) = redis_wire.round_trip(self.backend, [("EVALSHA", _SHA[script], len(keys), *keys, *args)])
        if isinstance(result, NoScriptError):  # first use on this server, or after a flush or a failover
            client = self.backend.client.get_client(write=True)
            client.script_load(script)
            result = client.evalsha(_SHA[script], len(keys), *keys, *args)
        if isinstance(result, Exception):
            raise result
        return result

    def admit(self, provider, model, settings: Settings) -> Admission:
        verdict, wait_ms, failures = self._run(
            _ADMIT, [cache_keys.gateway_breaker(provider, model), cache_keys.gateway_traffic(provider, model, _day())],
            settings.cooldown_ms,
        )
        if verdict == 0:
            return Admission(False, retry_after=wait_ms / 1000)
        return Admission(True, probe=verdict == 2, clean=verdict == 1 and failures == 0)

    def report(self, provider, model, settings: Settings, admission: Admission, *, ok: bool) -> str:
        state = self._run(
            _REPORT, [cache_keys.gateway_breaker(provider, model), cache_keys.gateway_traffic(provider, model, _day())],
            0 if ok else 1, settings.threshold, settings.cooldown_ms, 1 if admission.probe else 0,
        )
        return state.decode() if isinstance(state, bytes) else state

    def state(self, provider, model) -> dict:
        client = self.backend.client.get_client(write=False)
        raw = client.hgetall(self.backend.make_key(cache_keys.gateway_breaker(provider, model)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def traffic(self, provider, model, days) -> dict[str, dict[str, int]]:
        client = self.backend.client.get_client(write=False)
        pipe = client.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self.backend.make_key(cache_keys.gateway_traffic(provider, model, day)))
        return {day: {k.decode(): int(v) for k, v in raw.items()} for day, raw in zip(days, pipe.execute())}

    def reset(self, provider, model) -> None:
        client = self.backend.client.get_client(write=True)
        client.delete(self.backend.make_key(cache_keys.gateway_breaker(provider, model)))


class LocalBreakers:
    """The same rules in this process's memory (the embedded default has no Redis)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.states: dict[tuple, dict] = {}
        self.counts: dict[tuple, dict[str, int]] = {}

    def _count(self, provider, model, field):
        counts = self.counts.setdefault((provider, model, _day()), {})
        counts[field] = counts.get(field, 0) + 1

    def admit(self, provider, model, settings: Settings) -> Admission:
        now = time.monotonic() * 1000
        with self.lock:
            state = self.states.get((provider, model))
            if state is None or state["state"] == CLOSED:
                self._count(provider, model, "calls")
                return Admission(True, clean=not state or not state["failures"])
            if now < state["until"]:
                self._count(provider, model, "refused")
                return Admission(False, retry_after=(state["until"] - now) / 1000)
            state.update(state=HALF_OPEN, until=now + settings.cooldown_ms)
            self._count(provider, model, "calls")
            return Admission(True, probe=True, clean=False)

    def report(self, provider, model, settings: Settings, admission: Admission, *, ok: bool) -> str:
        now = time.monotonic() * 1000
        key = (provider, model)
        with self.lock:
            state = self.states.get(key)
            current = state["state"] if state else CLOSED
            if ok:
                if current == OPEN or (current == HALF_OPEN and not admission.probe):
                    return current
                self.states.pop(key, None)
                return CLOSED
            self._count(provider, model, "errors")
            if current in (OPEN, HALF_OPEN):
                if admission.probe or current == HALF_OPEN:
                    self.states[key] = {"state": OPEN, "until": now + settings.cooldown_ms, "failures": 0}
                return OPEN
            failures = (state["failures"] if state else 0) + 1
            if failures >= settings.threshold:
                self.states[key] = {"state": OPEN, "until": now + settings.cooldown_ms, "failures": 0}
                return OPEN
            self.states[key] = {"state": CLOSED, "until": 0, "failures": failures}
            return CLOSED

    def state(self, provider, model) -> dict:
        with self.lock:
            state = self.states.get((provider, model))
            return {} if state is None else {"state": state["state"], "failures": str(state["failures"])}

    def traffic(self, provider, model, days) -> dict[str, dict[str, int]]:
        with self.lock:
            return {day: dict(self.counts.get((provider, model, day), {})) for day in days}

    def reset(self, provider, model) -> None:
        with self.lock:
            self.states.pop((provider, model), None)


_local = LocalBreakers()


def breakers() -> RedisBreakers | LocalBreakers:
    backend = redis_wire.backend()
    return RedisBreakers(backend) if backend is not None else _local


def local_reset() -> None:
    """Forget this process's breakers (tests; Redis state goes with the cache)."""
    global _local
    _local = LocalBreakers()


def admit(provider: str, model: str, settings: Settings) -> Admission:
    try:
        return breakers().admit(provider, model, settings)
    except redis_wire.ERRORS as exc:
        logger.warning("breaker unavailable (%s); call admitted", type(exc).__name__)
        metrics.redis_error("breaker")
        return Admission(True)


def report(provider: str, model: str, settings: Settings, admission: Admission, *, ok: bool) -> None:
    if ok and not admission.needs_report_on_success:
        return
    try:
        breakers().report(provider, model, settings, admission, ok=ok)
    except redis_wire.ERRORS as exc:
        logger.warning("breaker unavailable (%s); outcome not recorded", type(exc).__name__)
        metrics.redis_error("breaker")


def breaker_state(provider: str, model: str) -> dict:
    """For the admin: ``{"state", "failures", "until"}`` (empty: closed and clean)."""
    return breakers().state(provider, model)


def traffic(provider: str, model: str, *, days: int = 7) -> dict[str, dict[str, int]]:
    """For the admin: per UTC day (``YYYYMMDD``, newest first), calls, errors and refused."""
    today = datetime.now(UTC).date()
    from datetime import timedelta

    wanted = [(today - timedelta(days=n)).strftime("%Y%m%d") for n in range(days)]
    return breakers().traffic(provider, model, wanted)


def breaker_reset(provider: str, model: str) -> None:
    """Close a breaker by hand (an operator knows the provider is back)."""
    breakers().reset(provider, model)
