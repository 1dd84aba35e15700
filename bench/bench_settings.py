"""Settings of the benchmark's server: the deployed settings with the bare reference view."""

from studyapp.settings import *  # noqa: F403

ROOT_URLCONF = "bench_bare_urls"
