from django.apps import AppConfig

# The rooms of the app that hold a ``tasks`` module; the Celery app discovers each of them.
TASK_PACKAGES = (
    "surveys.catalogue",
    "surveys.platform",
    "surveys.studies",
    "surveys.recruiting.mturk",
    "surveys.recruiting.prolific",
)


class SurveysConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "surveys"
    verbose_name = "Saliency studies"
