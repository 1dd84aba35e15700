"""The MTurk tests' fixtures: a stubbed client, the backoff waits, the client for commands."""

from tests.surveys.recruiting.mturk.fixtures import (  # noqa: F401 - fixtures
    stub_fixture,
    use_client_fixture,
    waits_fixture,
)
