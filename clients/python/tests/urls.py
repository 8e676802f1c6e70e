"""One view rendering the tags, for Django's test client."""

from django.http import HttpResponse
from django.template import Context, Template
from django.urls import path

PAGE = Template(
    '{% load thumbkit %}<img src="{% thumbkit_url key "card" %}" '
    'srcset="{% thumbkit_srcset key "card" %}">'
)


PROFILE = Template(
    "{% load thumbkit %}<p>{{ user.name }}</p>"
    '<img src="{% thumbkit_url user.avatar "avatar" %}" '
    'srcset="{% thumbkit_srcset user.avatar "avatar" %}">'
)


def photo(request):
    return HttpResponse(PAGE.render(Context({"key": request.GET["key"]})))


def profile(request):
    # Two users as the ORM hands them out: one without an avatar, one with.
    from tests.app.models import Profile

    avatar = request.GET.get("avatar", "")
    user = Profile(name=request.GET.get("name", "ann"), avatar=avatar)
    return HttpResponse(PROFILE.render(Context({"user": user})))


SWATCH = Template('{% load thumbkit %}<div style="{% thumbkit_placeholder manifest %}"></div>')


def swatch(request):
    manifest = {"average_color": request.GET.get("color", "")}
    return HttpResponse(SWATCH.render(Context({"manifest": manifest})))


urlpatterns = [path("photo", photo), path("profile", profile), path("placeholder", swatch)]
