from django.contrib import admin
from django.urls import path

from telephony.api import api
from telephony.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("api/v1/", api.urls),
]
