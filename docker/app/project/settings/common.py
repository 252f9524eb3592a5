"""Settings every environment shares that hold no secret.

``base.py`` adds the secrets of the environment; ``build.py`` uses these
alone for build-time commands (``collectstatic`` in docker/Dockerfile), when
no environment folder is mounted.
"""
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = False

INSTALLED_APPS = [
    'django.contrib.contenttypes',
    'django.contrib.staticfiles',
    'demo',
]

MIDDLEWARE = [
    # First: every record of the request carries its id (project/request_id.py).
    'project.request_id.RequestIdMiddleware',
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

# Both served by nginx (docker/nginx-http.conf, nginx-https.conf), never by
# Django: collectstatic fills STATIC_ROOT when the image is built.
STATIC_URL = '/static/'
STATIC_ROOT = BASE_DIR / 'static'
MEDIA_URL = '/media/'
MEDIA_ROOT = BASE_DIR / 'media'

DEFAULT_AUTO_FIELD = 'django.db.models.BigAutoField'

# Everything to the console (stderr).  With DEBUG = False Django's default
# config would send django.request errors to mail_admins only; this makes 404
# warnings and 500 tracebacks visible in the container's output.  Each record
# shows its time, level, logger and request id (nginx's X-Request-ID, see
# project/request_id.py; `-` outside a request), the format logmux reads into
# severity, log.logger and http.request.id (and so the request's trace_id).
LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'filters': {
        'request_id': {'()': 'project.request_id.RequestIdFilter'},
    },
    'formatters': {
        'request_id': {
            'format': '%(asctime)s %(levelname)s [%(name)s] [%(request_id)s] %(message)s',
        },
    },
    'handlers': {
        'console': {
            'class': 'logging.StreamHandler',
            'filters': ['request_id'],
            'formatter': 'request_id',
        },
    },
    'loggers': {
        'django': {'handlers': ['console'], 'level': 'INFO', 'propagate': False},
        'demo': {'handlers': ['console'], 'level': 'INFO', 'propagate': False},
    },
}
