from radiant.commands import JsonCommand
from tenants.services import api_key_revoke


class Command(JsonCommand):
    help = "Revoke an API key by its visible prefix. Effective on the next request."

    def add_arguments(self, parser):
        parser.add_argument("--prefix", required=True)

    def run(self, *, prefix, **_):
        key = api_key_revoke(prefix=prefix)
        return {"prefix": key.prefix, "revoked_at": key.revoked_at.isoformat()}
