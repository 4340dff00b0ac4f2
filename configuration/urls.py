from django.urls import path

from configuration import api

urlpatterns = [
    path("config", api.ConfigListView.as_view(), name="config-list"),
    path("config/<str:key>", api.ConfigDetailView.as_view(), name="config-detail"),
]
