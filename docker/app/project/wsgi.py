"""WSGI entry point used by uWSGI (--module project.wsgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'project.settings.dev.settings')

application = get_wsgi_application()
