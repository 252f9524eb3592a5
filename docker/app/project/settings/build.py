"""Settings for commands run while the image is built (``collectstatic``).

No environment folder is mounted then, so there are no secrets: this
module adds a throwaway key to ``common.py`` and must never serve requests.
"""
from project.settings.common import *  # noqa: F401,F403

SECRET_KEY = 'build-time-only-never-used-to-serve'
