"""The study app: prototypes, studies, participants, responses, recruiters and their tasks."""
