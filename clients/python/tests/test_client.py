"""The Python helper: URLs as thumbkit builds them, the shared signing vectors, and the
Django template tags through Django's test client."""

import html
import json
import time
from pathlib import Path

import pytest
from django.test import Client, override_settings

from thumbkit_client import encode_key, expiry, placeholder, sign, srcset, thumb_url

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "signing-vectors.json").read_text())["vectors"]


def test_keys_are_encoded_as_thumbkit_encodes_them():
    assert encode_key("a b/é?#%.jpg") == "a%20b/%C3%A9%3F%23%25.jpg"
    assert encode_key("x/(1)!*'.png") == "x/%281%29%21%2A%27.png"
    # A source's name stays readable, as the server's manifests write it.
    assert encode_key("docs:scans/a b.pdf") == "docs:scans/a%20b.pdf"


def test_urls_and_srcsets():
    h = "ab" * 32
    assert thumb_url("p/a.jpg", "card") == "/t/card/p/a.jpg"
    assert thumb_url("p/a.jpg", "card", step="2x", hash=h) == f"/t/card@2x/p/a.jpg?v={h}"
    assert srcset("a.jpg", "hero", widths=[320, 640]) == "/t/hero/a.jpg 320w, /t/hero@640w/a.jpg 640w"
    with pytest.raises(ValueError):
        thumb_url("/abs.jpg", "card")
    with pytest.raises(ValueError):
        srcset("a.jpg", "card")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["description"] for v in VECTORS])
def test_sign_agrees_with_the_shared_vectors(vector):
    assert sign(vector["path"], vector["key"], vector["expires"]) == vector["signed"]


ROUNDED = [v for v in VECTORS if "ttl" in v]


@pytest.mark.parametrize("vector", ROUNDED, ids=[v["description"] for v in ROUNDED])
def test_a_lifetime_is_rounded_up_as_the_shared_vectors_say(vector):
    assert expiry(vector["now"], vector["ttl"]) == vector["expires"]
    assert sign(vector["path"], vector["key"], ttl=vector["ttl"], now=vector["now"]) == vector["signed"]


def test_the_same_page_signed_twice_within_a_window_gives_the_same_url():
    key = "first-key-0123456789"
    first = sign("/t/thumb/a.jpg", key, ttl=3600, now=1767225601)
    assert first == sign("/t/thumb/a.jpg", key, ttl=3600, now=1767226400)
    assert first != sign("/t/thumb/a.jpg", key, ttl=3600, now=1767226600)
    exp = int(sign("/t/thumb/a.jpg", key).split("exp=")[1].split("&")[0])
    assert 3599 <= exp - time.time() <= 4501


def test_the_template_tags_render_through_a_real_request():
    response = Client().get("/photo", {"key": "albums/été 1.jpg"})
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    base = "https://img.example.com"
    assert f'src="{base}/t/card/albums/%C3%A9t%C3%A9%201.jpg"' in body
    assert (
        f'srcset="{base}/t/card/albums/%C3%A9t%C3%A9%201.jpg 1x, '
        f'{base}/t/card@2x/albums/%C3%A9t%C3%A9%201.jpg 2x"'
    ) in body


def test_with_a_signing_key_every_url_is_signed():
    config = {"SIGNING_KEY": "first-key-0123456789", "PRESETS": {"card": {"densities": [1, 2]}}}
    with override_settings(THUMBKIT=config):
        body = html.unescape(Client().get("/photo", {"key": "a.jpg"}).content.decode())
    srcset_value = body.split('srcset="')[1].split('"')[0]
    entries = [e.rsplit(" ", 1)[0] for e in srcset_value.split(", ")]
    assert len(entries) == 2
    assert all("&exp=" not in e.split("?")[0] and "exp=" in e and "&sig=" in e for e in entries)


def test_a_model_s_image_field_set_or_empty_renders_through_a_real_view():
    set_ = Client().get("/profile", {"avatar": "users/7/photo.jpg"})
    assert set_.status_code == 200
    body = html.unescape(set_.content.decode())
    base = "https://img.example.com"
    assert f'src="{base}/t/avatar/users/7/photo.jpg"' in body
    assert f"{base}/t/avatar@3x/users/7/photo.jpg 3x" in body
    empty = Client().get("/profile", {"avatar": ""})
    assert empty.status_code == 200
    assert 'src="" srcset=""' in empty.content.decode()


def test_a_signed_page_rendered_twice_is_byte_identical():
    config = {
        "SIGNING_KEY": "first-key-0123456789",
        "SIGNED_URL_TTL": 3600,
        "PRESETS": {"avatar": {"densities": [1, 2, 3]}},
    }
    with override_settings(THUMBKIT=config):
        first = Client().get("/profile", {"avatar": "users/7/photo.jpg"}).content
        second = Client().get("/profile", {"avatar": "users/7/photo.jpg"}).content
    assert b"sig=" in first
    assert first == second


def test_a_value_that_is_no_key_is_a_template_error():
    from django.template import Context, Template, TemplateSyntaxError

    page = Template('{% load thumbkit %}{% thumbkit_url value "card" %}')
    with pytest.raises(TemplateSyntaxError):
        page.render(Context({"value": 42}))


def test_placeholders_pass_what_thumbkit_writes_and_drop_anything_else():
    manifest = {
        "average_color": "#ab214e",
        "dominant_color": "#dc1e1e",
        "thumbhash": "lxiDa5Q8nwOIh3gNiNhwhxBjiIh3iHg=",
        "blurhash": "L*K#|owX21auspjrWrfPfQfQfQfQ",
    }
    assert placeholder(manifest) == {
        "color": "#ab214e",
        "dominant": "#dc1e1e",
        "thumbhash": "lxiDa5Q8nwOIh3gNiNhwhxBjiIh3iHg=",
        "blurhash": "L*K#|owX21auspjrWrfPfQfQfQfQ",
    }
    hostile = {
        "average_color": "red;background:url(https://evil.example/x)",
        "dominant_color": '#abcdef"><script>',
        "thumbhash": "</style><script>alert(1)</script>",
        "blurhash": "x" * 5000,
    }
    assert placeholder(hostile) == {"color": None, "dominant": None, "thumbhash": None, "blurhash": None}
    assert placeholder(None)["color"] is None


def test_the_placeholder_tag_renders_a_safe_style_through_a_real_request():
    response = Client().get("/placeholder", {"color": "#ab214e"})
    assert 'style="background-color:#ab214e"' in response.content.decode()
    response = Client().get("/placeholder", {"color": "red;background:url(x)"})
    assert 'style=""' in response.content.decode()
