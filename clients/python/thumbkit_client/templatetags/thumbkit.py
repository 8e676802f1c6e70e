"""Django template tags: `{% thumbkit_url key "card" %}` and
`{% thumbkit_srcset key "card" %}`, configured by the `THUMBKIT` setting:

    THUMBKIT = {
        "BASE_URL": "https://img.example.com",    # optional
        "SIGNING_KEY": "...",                       # optional: sign every URL
        "SIGNED_URL_TTL": 3600,                     # seconds, with SIGNING_KEY
        "PRESETS": {"card": {"densities": [1, 2]}, "hero": {"widths": [320, 640]}},
    }
"""

import time

from django import template
from django.conf import settings

from thumbkit_client import sign, srcset, thumb_url

register = template.Library()


def _config():
    return getattr(settings, "THUMBKIT", {})


def _signer(config):
    key = config.get("SIGNING_KEY")
    if not key:
        return None
    expires = int(time.time()) + int(config.get("SIGNED_URL_TTL", 3600))
    return lambda url: sign(url, key, expires)


@register.simple_tag
def thumbkit_url(key, preset, hash=None):
    """The URL of `key`'s variant for `preset` (pinned with `hash`, signed when configured)."""
    config = _config()
    url = thumb_url(key, preset, hash=hash)
    signer = _signer(config)
    if signer is not None:
        url = signer(url)
    return config.get("BASE_URL", "").rstrip("/") + url


@register.simple_tag
def thumbkit_srcset(key, preset, hash=None):
    """The srcset of `preset`'s steps for `key`, as `THUMBKIT["PRESETS"]` declares them."""
    config = _config()
    steps = config.get("PRESETS", {}).get(preset)
    if not steps:
        raise template.TemplateSyntaxError(
            f'preset "{preset}" has no steps in settings.THUMBKIT["PRESETS"]'
        )
    return srcset(
        key,
        preset,
        densities=steps.get("densities"),
        widths=steps.get("widths"),
        base=config.get("BASE_URL", ""),
        hash=hash,
        signer=_signer(config),
    )
