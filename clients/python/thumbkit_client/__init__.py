"""thumbkit URLs for Python backends: a key's variant URL, a preset's srcset, and URL
signing (HMAC-SHA256, the scheme of `thumbkit sign`). The standard library only; the
Django template tags are in `thumbkit_client.templatetags.thumbkit`."""

import hashlib
import hmac
import re
import time
from urllib.parse import quote

__all__ = ["encode_key", "thumb_url", "srcset", "sign", "expiry"]

_PRESET = re.compile(r"^[a-z0-9_-]{1,64}$")


def encode_key(key):
    """Percent-encodes a key as thumbkit does: unreserved characters and `/` kept."""
    return quote(key, safe="/-._~")


def thumb_url(key, preset, *, base="", step=None, hash=None):
    """`{base}/t/{preset}[@{step}]/{key}[?v={hash}]`."""
    if not isinstance(key, str) or not key or key.startswith("/"):
        raise ValueError(f"not an object key: {key!r}")
    if not _PRESET.match(preset or ""):
        raise ValueError(f"not a preset name: {preset!r}")
    stepped = f"{preset}@{step}" if step else preset
    pin = f"?v={hash}" if hash else ""
    return f"{base.rstrip('/')}/t/{stepped}/{encode_key(key)}{pin}"


def srcset(key, preset, *, densities=None, widths=None, base="", hash=None, signer=None):
    """A srcset for the steps a preset declares (`densities=[1, 2]` or `widths=[320, 640]`);
    the first is the plain URL. `signer`, if given, maps each URL to its signed form."""
    if (densities is None) == (widths is None):
        raise ValueError("give densities or widths, as the preset declares them")
    steps, unit = (densities, "x") if densities is not None else (widths, "w")
    entries = []
    for i, n in enumerate(steps):
        url = thumb_url(key, preset, base="", step=None if i == 0 else f"{n}{unit}", hash=hash)
        if signer is not None:
            url = signer(url)
        entries.append(f"{base.rstrip('/')}{url} {n}{unit}")
    return ", ".join(entries)


def _pairs(query):
    out = []
    for part in query.split("&"):
        if part:
            k, _, v = part.partition("=")
            out.append((k, v))
    return out


def expiry(now, ttl):
    """The `exp` of a URL signed at `now` to live `ttl` seconds: `now + ttl` rounded up to a
    window of a quarter of the TTL (at least a second), as every thumbkit signer does, so
    that one page rendered twice within a window gives the same URLs (and caches hit)."""
    window = max(1, int(ttl) // 4)
    return -(-(int(now) + int(ttl)) // window) * window


def sign(path_and_query, key, expires=None, *, ttl=3600, now=None):
    """Signs a thumbnail path (percent-encoded, may carry `?v=`): the same path with `exp`
    and `sig` added. `exp` is `expires` (Unix seconds) exactly when given, else `ttl` seconds
    from `now` (default: the current time) rounded up as `expiry` says. Keep `ttl` within
    the server's THUMBKIT_SIGNED_URL_TTL: a URL signed for longer is refused."""
    if expires is None:
        expires = expiry(time.time() if now is None else now, ttl)
    path, _, query = path_and_query.partition("?")
    kept = [(k, v) for k, v in _pairs(query) if k not in ("exp", "sig")]
    kept.append(("exp", str(int(expires))))
    message = path + "\n" + "&".join(f"{k}={v}" for k, v in sorted(kept))
    key_bytes = key.encode() if isinstance(key, str) else key
    sig = hmac.new(key_bytes, message.encode(), hashlib.sha256).hexdigest()
    return f"{path}?{'&'.join(f'{k}={v}' for k, v in kept)}&sig={sig}"
