"""Monthly partitions of ``audit_logs`` (PostgreSQL only; the table is plain elsewhere).

The table is ``PARTITION BY RANGE (created_at)`` with a DEFAULT partition, so an insert
never fails for want of a partition. A month's partition is created ahead of time by
``manage.py create_partitions`` and the periodic task. If rows for a month already sit in
the DEFAULT partition (the month was never created in time), PostgreSQL refuses to create
that month's partition while they are there; so the partition is built as a separate
table, the month's rows are moved into it from DEFAULT, and it is attached, in one
transaction that holds the parent locked against concurrent inserts meanwhile.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db import connections, transaction

TABLE = "audit_logs"
DEFAULT_PARTITION = "audit_logs_default"


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{TABLE}_p{month:%Y_%m}"


def partitions(using: str = "default") -> list[str]:
    """Names of the monthly partitions that exist (not DEFAULT)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s AND c.relname <> %s ORDER BY 1",
            [TABLE, DEFAULT_PARTITION],
        )
        return [row[0] for row in cursor.fetchall()]


def partition_create(*, month: date, using: str = "default") -> dict:
    """Create the partition for ``month`` if missing, moving its rows out of DEFAULT."""
    month = _month_start(month)
    name = partition_name(month)
    low = datetime(month.year, month.month, 1, tzinfo=UTC)
    nxt = _next_month(month)
    high = datetime(nxt.year, nxt.month, 1, tzinfo=UTC)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        # Inserts wait while the month moves; readers of other partitions are not blocked
        # longer than this short transaction.
        cursor.execute(f"LOCK TABLE {TABLE} IN SHARE ROW EXCLUSIVE MODE")
        if name in partitions(using):
            return {"partition": name, "created": False, "moved": 0}
        cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE created_at >= %s AND created_at < %s RETURNING *)"
            f" INSERT INTO {name} SELECT * FROM moved",
            [low, high],
        )
        moved = cursor.rowcount
        cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [low, high])
    return {"partition": name, "created": True, "moved": moved}


def partitions_ensure(*, months: int, start: date | None = None, using: str = "default") -> list[dict]:
    """Partitions for the month of ``start`` (today) and the ``months`` after it."""
    if months < 0 or months > 120:
        raise ValueError("--months must be between 0 and 120")
    if connections[using].vendor != "postgresql":
        return []
    month = _month_start(start or datetime.now(UTC).date())
    done = []
    for _ in range(months + 1):
        done.append(partition_create(month=month, using=using))
        month = _next_month(month)
    return done
