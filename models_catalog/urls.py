from django.urls import path

from models_catalog import api

urlpatterns = [
    path("models", api.ModelListView.as_view(), name="model-list"),
    path("models/<str:slug>", api.ModelDetailView.as_view(), name="model-detail"),
]
