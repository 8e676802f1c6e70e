"""thumbkit URLs for Python backends: a key's variant URL, a preset's srcset, and URL
signing (HMAC-SHA256, the scheme of `thumbkit sign`). The standard library only; the
Django template tags are in `thumbkit_client.templatetags.thumbkit`."""

import hashlib
import hmac
import math
import re
import time
from urllib.parse import quote

__all__ = ["encode_key", "thumb_url", "srcset", "sign", "expiry", "output", "steps", "placeholder"]

_PRESET = re.compile(r"^[a-z0-9_-]{1,64}$")


def encode_key(key):
    """Percent-encodes a key as thumbkit does: unreserved characters, `:` (a source's name:
    `docs:scans/a.pdf`) and `/` kept."""
    return quote(key, safe="/-._~:")


def thumb_url(key, preset, *, base="", step=None, hash=None):
    """`{base}/t/{preset}[@{step}]/{key}[?v={hash}]`."""
    if not isinstance(key, str) or not key or key.startswith("/"):
        raise ValueError(f"not an object key: {key!r}")
    if not _PRESET.match(preset or ""):
        raise ValueError(f"not a preset name: {preset!r}")
    stepped = f"{preset}@{step}" if step else preset
    pin = f"?v={hash}" if hash else ""
    return f"{base.rstrip('/')}/t/{stepped}/{encode_key(key)}{pin}"


def _round(x):
    # Rust's f64::round: halves away from zero (Python's round() goes to even).
    return int(math.floor(x + 0.5))


def output(original, box, fit="inside", upscale=False):
    """What a preset makes of an upright original of `original` = (width, height) pixels, as
    the server plans it: the output's (width, height), and whether it enlarges the original.
    `box` is the preset's (width, height), either side `None` when left free."""
    sw, sh = (float(v) for v in original)
    bw, bh = box
    if fit in ("inside", "contain"):
        sx = bw / sw if bw else None
        sy = bh / sh if bh else None
        present = [v for v in (sx, sy) if v is not None]
        scale = min(present) if present else 1.0
        if not upscale:
            scale = min(scale, 1.0)
        rw = bw if bw and sx <= scale else max(1, _round(sw * scale))
        rh = bh if bh and sy <= scale else max(1, _round(sh * scale))
        resized, used = (rw, rh), (sw, sh)
        canvas = resized if fit == "inside" else (max(bw or rw, rw), max(bh or rh, rh))
    elif fit == "fill":
        w, h = bw or int(sw), bh or int(sh)
        resized = (w, h) if upscale else (min(w, int(sw)), min(h, int(sh)))
        canvas, used = resized, (sw, sh)
    elif fit == "cover":
        fw, fh = float(bw or sw), float(bh or sh)
        used = (sh * fw / fh, sh) if sw / sh > fw / fh else (sw, sw * fh / fw)
        if upscale or used[0] >= fw:
            resized = (int(fw), int(fh))
        else:
            resized = (max(1, _round(used[0])), max(1, _round(used[1])))
        canvas = resized
    else:
        raise ValueError(f"not a fit: {fit!r}")
    enlarges = used[0] / resized[0] < 1 - 1e-9 or used[1] / resized[1] < 1 - 1e-9
    return canvas, enlarges


def steps(preset):
    """A preset's steps as `GET /v1/presets` lists them (`preset` is one entry of it, or a dict
    with `width`, `height` and `densities` or `widths`): [(suffix, (width, height))], the
    plain one first."""
    if preset.get("steps") is not None:
        return [(s["suffix"], (s.get("width"), s.get("height"))) for s in preset["steps"]]
    w, h = preset.get("width"), preset.get("height")
    if preset.get("densities"):
        return [(f"{n}x", (w and w * n, h and h * n)) for n in preset["densities"]]
    if preset.get("widths"):
        first = preset["widths"][0]
        # The server's integer rounding: (h * step + first / 2) / first, at least 1.
        return [
            (f"{n}w", (n, h and max(1, (h * n + first // 2) // first)))
            for n in preset["widths"]
        ]
    return []


def srcset(key, preset, *, densities=None, widths=None, base="", hash=None, signer=None,
           original=None):
    """A srcset for the steps a preset declares: `densities=[1, 2]` or `widths=[320, 640]`,
    or `preset` given as its entry of `GET /v1/presets` (a dict). The first step is the plain
    URL. `signer`, if given, maps each URL to its signed form.

    With `original=(width, height)` (the manifest's `width` and `height`) and the preset's
    box (the dict form), it is exactly the manifest's srcset: each step's real width, and a
    step left out when it is no wider than the last one kept or enlarges the original."""
    info = preset if isinstance(preset, dict) else {"name": preset}
    name = info["name"]
    if densities is not None or widths is not None:
        if (densities is None) == (widths is None):
            raise ValueError("give densities or widths, as the preset declares them")
        info = {**info, "densities": densities, "widths": widths, "steps": None}
    ladder = steps(info)
    if not ladder:
        raise ValueError("give densities or widths, as the preset declares them")
    by_width = ladder[0][0].endswith("w")
    box_known = isinstance(preset, dict) and ("width" in preset or "height" in preset)
    if original is not None and not box_known:
        raise ValueError("original= needs the preset's box: pass its entry of GET /v1/presets")
    entries, last = [], 0
    for i, (suffix, box) in enumerate(ladder):
        width, enlarges = box[0] or 0, False
        if original is not None and box_known:
            (width, _), enlarges = output(original, box, preset.get("fit", "inside"),
                                          preset.get("upscale", False))
        if original is not None and i > 0 and (width <= last or enlarges):
            continue
        last = width
        url = thumb_url(key, name, base="", step=None if i == 0 else suffix, hash=hash)
        if signer is not None:
            url = signer(url)
        descriptor = f"{width}w" if by_width and box_known and original is not None else suffix
        entries.append(f"{base.rstrip('/')}{url} {descriptor}")
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


_HEX_COLOUR = re.compile(r"^#[0-9a-f]{6}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]{1,64}={0,2}$")
_BLURHASH = re.compile(r"^[0-9A-Za-z#$%*+,\-.:;=?@\[\]^_{|}~]{6,100}$")


def placeholder(manifest):
    """The placeholders of a manifest (`GET /v1/originals/{key}`, or an upload's answer),
    checked before they reach a page: `color` (the average, for a `background-color` while
    the image loads), `dominant`, `thumbhash` (base64) and `blurhash`. A value that is not
    what thumbkit writes is None, so nothing from a manifest can inject CSS or markup."""
    m = manifest or {}

    def pick(name, pattern):
        value = m.get(name)
        return value if isinstance(value, str) and pattern.match(value) else None

    return {
        "color": pick("average_color", _HEX_COLOUR),
        "dominant": pick("dominant_color", _HEX_COLOUR),
        "thumbhash": pick("thumbhash", _BASE64),
        "blurhash": pick("blurhash", _BLURHASH),
    }
