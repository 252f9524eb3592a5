"""Settings for the "dev" environment (example values only)."""
from project.settings.base import *  # noqa: F401,F403
