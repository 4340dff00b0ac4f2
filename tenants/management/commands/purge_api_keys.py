from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from radiant.commands import JsonCommand
from tenants.services import api_key_purge


class Command(JsonCommand):
    help = (
        "Delete API keys revoked or expired more than --older-than-days ago (default: "
        "API_KEY_RETENTION_DAYS). Scheduled on Lambda as tenants.jobs.purge_stale_api_keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than-days", type=int, default=None)

    def run(self, *, older_than_days, **_):
        days = settings.API_KEY_RETENTION_DAYS if older_than_days is None else older_than_days
        if not 0 <= days <= 36_500:
            raise ValueError("--older-than-days must be between 0 and 36500")
        before = timezone.now() - timedelta(days=days)
        return {"deleted": api_key_purge(before=before), "before": before.isoformat()}
