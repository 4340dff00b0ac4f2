"""Settings for the test that proves the fuzz run fails on a 5xx: the real app, with
``GET /api/v1/tenant`` replaced by an endpoint that fails."""

from radiant.settings import *  # noqa: F403

ROOT_URLCONF = "tests.fuzz_failing_urls"
