"""A participant's recruiter session (Prolific's SESSION_ID, MTurk's assignment ID) as a column.

The entry reads it to decide whether a returning recruiter ID may resume, and the Prolific
webhooks match events by it, so it is a column with a uniqueness of its own rather than a key of
``recruiter_data``. Participants who entered before keep resuming: their recorded session is
copied over (the first participant of a session keeps it if a forged row repeated it).
"""

from django.db import migrations, models

# The recruiter_data key each recruiter recorded its session under before this column.
SESSION_KEYS = {"prolific": "SESSION_ID", "mturk": "assignmentId"}


def copy_recorded_sessions(apps, schema_editor):
    Participant = apps.get_model("surveys", "Participant")
    taken = set()
    for recruiter, key in SESSION_KEYS.items():
        rows = Participant.objects.filter(recruiter=recruiter).order_by("id")
        for participant in rows.only("id", "recruiter_data").iterator():
            session = str((participant.recruiter_data or {}).get(key) or "")[:200]
            if not session or (recruiter, session) in taken:
                continue
            taken.add((recruiter, session))
            Participant.objects.filter(pk=participant.pk).update(recruiter_session=session)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0002_prolific_hooks")]

    operations = [
        migrations.AddField(
            model_name="participant",
            name="recruiter_session",
            field=models.CharField(
                blank=True,
                help_text=(
                    "The recruiter's proof of this session, recorded at entry (Prolific's "
                    "SESSION_ID, MTurk's assignment ID); the same recruiter ID resumes only "
                    "with it."
                ),
                max_length=200,
            ),
        ),
        migrations.RunPython(copy_recorded_sessions, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="participant",
            constraint=models.UniqueConstraint(
                condition=models.Q(("recruiter_session", ""), _negated=True),
                fields=("recruiter", "recruiter_session"),
                name="participant_unique_recruiter_session",
            ),
        ),
    ]
