"""The platform's own URLs: the landing page and the health check."""

from django.urls import URLPattern, path

from surveys.platform.views import healthz, home

urlpatterns: list[URLPattern] = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
]
