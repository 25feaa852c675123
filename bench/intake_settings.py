"""Settings of the intake benchmark's gunicorn: production settings plus the baseline views' URLs."""

from sentinel.settings import *  # noqa: F403

ROOT_URLCONF = "bench.intake_site"
