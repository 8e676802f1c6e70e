"""One view rendering the tags, for Django's test client."""

from django.http import HttpResponse
from django.template import Context, Template
from django.urls import path

PAGE = Template(
    '{% load thumbkit %}<img src="{% thumbkit_url key "card" %}" '
    'srcset="{% thumbkit_srcset key "card" %}">'
)


def photo(request):
    return HttpResponse(PAGE.render(Context({"key": request.GET["key"]})))


urlpatterns = [path("photo", photo)]
