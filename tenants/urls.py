from django.urls import path

from tenants import api

urlpatterns = [
    path("tenant", api.TenantView.as_view(), name="tenant"),
    path("api-keys", api.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/<str:prefix>", api.ApiKeyDetailView.as_view(), name="api-key-detail"),
]
