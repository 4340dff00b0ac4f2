from django.urls import path

from localization import api

urlpatterns = [
    path("i18n/<str:language>", api.BundleView.as_view(), name="i18n-bundle"),
]
