from datetime import datetime

from django.db.models import Q

from radiant.tasks import tenant_task
from tenants.models import ApiKey


@tenant_task(ignore_result=True)
def api_key_mark_used(*, tenant_id: str, key_id: int, at: str) -> int:
    """Record an API key's last use. Runs as the key's tenant: another tenant's key id is a no-op."""
    used_at = datetime.fromisoformat(at)
    return (
        ApiKey.objects.filter(id=key_id)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=used_at))
        .update_untracked(last_used_at=used_at)  # nothing cached depends on it
    )
