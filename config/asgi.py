"""ASGI entry point: HTTP through Django, websockets through Channels (console/routing.py)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from console.routing import websocket_urlpatterns  # noqa: E402

if settings.AMI_EMBEDDED_LINKS and "PYTEST_VERSION" not in os.environ:
    # Embedded mode (make run): this process holds the PBX links. Under pytest (which sets
    # PYTEST_VERSION) tests start the runners they need themselves.
    from telephony.hosting import start_embedded_in_background  # noqa: E402

    start_embedded_in_background()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
