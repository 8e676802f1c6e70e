"""Django template tags: `{% thumbkit_url key "card" %}`, `{% thumbkit_srcset key "card" %}`
and `{% thumbkit_placeholder manifest %}` (a `background-color` style from a manifest), where `key` is an object key or a model's file field
(`user.avatar`, a `FieldFile`/`ImageFieldFile`, or anything with `.name`); an empty one (a
user without an avatar) renders "", as sorl-thumbnail and django-imagekit do. Configured by
the `THUMBKIT` setting:

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

from thumbkit_client import expiry, placeholder, sign, srcset, thumb_url

register = template.Library()


def _config():
    return getattr(settings, "THUMBKIT", {})


def _signer(config):
    key = config.get("SIGNING_KEY")
    if not key:
        return None
    # Rounded up (a quarter of the TTL), so the same page rendered twice within that window
    # is byte for byte the same and browsers and CDNs hit their caches.
    expires = expiry(time.time(), int(config.get("SIGNED_URL_TTL", 3600)))
    return lambda url: sign(url, key, expires)


def _key(value):
    """The object key a template value names: a string, or a file field's `.name`; `None`
    for an empty value (no file)."""
    if value is None:
        return None
    name = value if isinstance(value, str) else getattr(value, "name", None)
    if name is None and not isinstance(value, str) and not hasattr(value, "name"):
        raise template.TemplateSyntaxError(
            f"thumbkit tags take an object key or a file field, not {type(value).__name__}"
        )
    return name or None


@register.simple_tag
def thumbkit_url(key, preset, hash=None):
    """The URL of `key`'s variant for `preset` (pinned with `hash`, signed when configured);
    "" when `key` is an empty file field."""
    key = _key(key)
    if key is None:
        return ""
    config = _config()
    url = thumb_url(key, preset, hash=hash)
    signer = _signer(config)
    if signer is not None:
        url = signer(url)
    return config.get("BASE_URL", "").rstrip("/") + url


@register.simple_tag
def thumbkit_srcset(key, preset, hash=None):
    """The srcset of `preset`'s steps for `key`, as `THUMBKIT["PRESETS"]` declares them; ""
    when `key` is an empty file field."""
    key = _key(key)
    if key is None:
        return ""
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


@register.simple_tag
def thumbkit_placeholder(manifest):
    """`background-color:#rrggbb` from a manifest's average colour (what a page shows while
    the image loads), or "" when it has none that thumbkit wrote."""
    color = placeholder(manifest)["color"]
    return f"background-color:{color}" if color else ""
