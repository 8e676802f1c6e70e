"""A minimal Django project for the template tag tests."""

import sys
from pathlib import Path

import django
from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def pytest_configure():
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests-only",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="tests.urls",
        INSTALLED_APPS=["thumbkit_client", "tests.app"],
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": False}],
        THUMBKIT={
            "BASE_URL": "https://img.example.com",
            "PRESETS": {
                "card": {"densities": [1, 2]},
                "hero": {"widths": [320, 640]},
                "avatar": {"densities": [1, 2, 3]},
            },
        },
    )
    django.setup()
