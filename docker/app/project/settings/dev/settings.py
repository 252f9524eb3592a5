"""Settings for the "dev" environment (example values only)."""
from project.settings.base import *  # noqa: F401,F403

# A throwaway SQLite database, so that `DJANGO_MIGRATE=1` (docker/logmux.toml)
# has something to migrate; the demo views use no database.
DATABASES = {
    'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': '/tmp/dev-db.sqlite3'},
}
