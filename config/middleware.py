"""X-Served-By: which replica answered (CSM_SERVER_NAME), for operators reading responses through a load balancer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


class ServedByMiddleware:
    """Adds `X-Served-By: <CSM_SERVER_NAME>` to every HTTP response when the setting is set (sync and async)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        self.name = settings.CSM_SERVER_NAME
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if iscoroutinefunction(self):
            return self._acall(request)
        return self._named(self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        return self._named(await self.get_response(request))

    def _named(self, response: HttpResponseBase) -> HttpResponseBase:
        if self.name:
            response["X-Served-By"] = self.name
        return response
