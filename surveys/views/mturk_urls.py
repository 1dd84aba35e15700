"""URLs of this room (filled in as its views land)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
