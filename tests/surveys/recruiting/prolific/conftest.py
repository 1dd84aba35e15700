"""The Prolific tests' fixtures: a running API stub that the settings point at, the webhook
secret, and a participant who entered with a SESSION_ID."""

from tests.surveys.recruiting.prolific.fixtures import hook_secret, taking_part  # noqa: F401
from tests.surveys.recruiting.prolific.stub import prolific_stub  # noqa: F401 - fixture
