from audit.partitions import partitions_ensure
from radiant.commands import JsonCommand


class Command(JsonCommand):
    help = (
        "Create the monthly audit_logs partitions for this month and the next N (PostgreSQL; "
        "rows of such a month already in the DEFAULT partition are moved into it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, required=True)

    def run(self, *, months, **_):
        return {"partitions": partitions_ensure(months=months)}
