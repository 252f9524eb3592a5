"""Settings shared by every environment.

Each environment lives in ``project/settings/<env>/`` with a ``settings.py``
that does ``from project.settings.base import *`` and a ``secrets.json`` next
to it.  The secrets file is located from DJANGO_SETTINGS_MODULE, so the same
image serves every environment (the env directory is volume-mounted).
"""
import importlib.util
import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def _env_dir():
    module = os.environ.get('DJANGO_SETTINGS_MODULE', 'project.settings.dev.settings')
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise RuntimeError('cannot locate settings module %s' % module)
    return Path(spec.origin).resolve().parent


SECRETS_FILE = _env_dir() / 'secrets.json'
with open(SECRETS_FILE, encoding='utf-8') as fh:
    SECRETS = json.load(fh)


def get_secret(name, default=None):
    if name in SECRETS:
        return SECRETS[name]
    if default is not None:
        return default
    raise RuntimeError('missing %s in %s' % (name, SECRETS_FILE))


SECRET_KEY = get_secret('SECRET_KEY')
ALLOWED_HOSTS = get_secret('ALLOWED_HOSTS', [])
DEBUG = False

INSTALLED_APPS = [
    'django.contrib.contenttypes',
    'django.contrib.staticfiles',
    'demo',
]

MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.middleware.common.CommonMiddleware',
]

ROOT_URLCONF = 'project.urls'
WSGI_APPLICATION = 'project.wsgi.application'

# No database is needed by the demo views.
DATABASES = {}

TEMPLATES = []

LANGUAGE_CODE = 'en-us'
TIME_ZONE = 'UTC'
USE_I18N = False
USE_TZ = True

STATIC_URL = '/static/'
STATIC_ROOT = BASE_DIR / 'static'

DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'

# Everything to the console (stderr), message only, like Django's default
# console handler.  With DEBUG = False Django's default config would send
# django.request errors to mail_admins only; this makes 404 warnings and
# 500 tracebacks visible in the container's output.
LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'formatters': {
        'plain': {'format': '{message}', 'style': '{'},
    },
    'handlers': {
        'console': {
            'class': 'logging.StreamHandler',
            'formatter': 'plain',
        },
    },
    'loggers': {
        'django': {'handlers': ['console'], 'level': 'INFO', 'propagate': False},
        'demo': {'handlers': ['console'], 'level': 'INFO', 'propagate': False},
    },
}
