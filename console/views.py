"""The admin's first page: the platform at a glance."""

from django.template.response import TemplateResponse

from console import charts
from console.selectors import dashboard_get
from console.usage import usage_rollup


def dashboard(request, context):
    # Catch up with the ledger rows written since the periodic rollup (a few minutes' worth
    # at most): the numbers are current and the page still reads only aggregates.
    usage_rollup(counters=False)  # today's counters are read live below
    board = dashboard_get()
    days = board.days
    context.update({
        "board": board,
        "requests_today": f"{days[-1]['requests']:,}",
        "throttled_today": f"{days[-1]['throttled']:,}",
        "burned_7d": charts.amount(board.total("burned_7d")),
        "burned_30d": charts.amount(board.total("burned_30d")),
        "balance": charts.amount(board.total("balance")),
        "holds": board.total("open_holds"),
        "credits_chart": charts.bar_chart(
            [(d["day"].strftime("%m-%d"), d["credits_used"]) for d in days], label="Credits used per day, last 30 days",
        ),
        "requests_chart": charts.bar_chart(
            [(d["day"].strftime("%m-%d"), d["requests"]) for d in days], label="Requests per day, last 30 days",
        ),
        "throttled_chart": charts.bar_chart(
            [(d["day"].strftime("%m-%d"), d["throttled"]) for d in days], label="429s per day, last 30 days",
            css_class="warn",
        ),
    })
    return TemplateResponse(request, "admin/console/dashboard.html", context)
