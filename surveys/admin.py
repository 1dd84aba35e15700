"""Admin registrations; the admin site itself is served at /admin/ for staff."""

from django.contrib import admin

admin.site.site_header = "Prototype saliency studies"
admin.site.site_title = "Prototype saliency studies"
admin.site.index_title = "Administration"
import surveys.catalogue.admin  # noqa: E402,F401 - registers the catalogue models
