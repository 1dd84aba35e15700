"""The participant's URLs: the public study link, then pages under the participant's code.

Study and participant codes are random; positions count the participant's own order. Nothing
here names a question, stimulus, condition, run or file.
"""

from django.urls import URLPattern, path

from surveys.participation import image_views as participant_images
from surveys.participation import question_views as participant_question
from surveys.participation import views as participant

_P = "s/<str:study>/p/<str:participant>/"

urlpatterns: list[URLPattern] = [
    path("s/<str:study>/", participant.entry, name="participant_entry"),
    path(_P, participant.home, name="participant_home"),
    path(f"{_P}consent/", participant.consent, name="participant_consent"),
    path(f"{_P}goodbye/", participant.goodbye, name="participant_goodbye"),
    path(f"{_P}instructions/", participant.instructions, name="participant_instructions"),
    path(
        f"{_P}practice/<str:end>/<str:which>",
        participant_images.practice_picture,
        name="participant_practice",
    ),
    path(f"{_P}q/<int:position>/", participant_question.question, name="participant_question"),
    path(
        f"{_P}img/<int:position>/<str:which>",
        participant_images.picture,
        name="participant_picture",
    ),
    path(f"{_P}debrief/", participant.debrief, name="participant_debrief"),
    path(f"{_P}done/", participant.done, name="participant_done"),
]
