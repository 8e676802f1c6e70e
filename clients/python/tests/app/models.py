"""A user profile as a Django app keeps it: the avatar in an `ImageField` (django-storages
puts it in S3; here nothing is stored, the tags only read the field's name)."""

from django.db import models


class Profile(models.Model):
    name = models.CharField(max_length=100)
    avatar = models.ImageField(upload_to="users/", blank=True)

    class Meta:
        app_label = "app"
