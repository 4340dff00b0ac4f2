from django.urls import path

from billing import api

urlpatterns = [
    path("credits", api.CreditsView.as_view(), name="credits"),
    path("credits/transactions", api.TransactionListView.as_view(), name="credit-transaction-list"),
    path("credits/transactions/<uuid:id>", api.TransactionDetailView.as_view(), name="credit-transaction-detail"),
    path("usage", api.UsageView.as_view(), name="usage"),
]
