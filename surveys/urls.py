from django.urls import path

from surveys.views.health import healthz
from surveys.views.home import home

app_name = "surveys"
urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
]
