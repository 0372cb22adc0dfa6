"""Websocket routes. The console consumer arrives with the console issue."""

from __future__ import annotations

websocket_urlpatterns: list = []
