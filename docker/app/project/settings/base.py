"""Settings shared by every environment.

Each environment lives in ``project/settings/<env>/`` with a ``settings.py``
that does ``from project.settings.base import *`` and a ``secrets.json`` next
to it.  The secrets file is located from DJANGO_SETTINGS_MODULE, so the same
image serves every environment (the env directory is volume-mounted, and
the repository's .dockerignore keeps every env directory out of the image).  What
holds no secret lives in ``common.py``.
"""
import importlib.util
import json
import os
from pathlib import Path

from project.settings.common import *  # noqa: F401,F403


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
