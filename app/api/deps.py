"""Shared dependencies."""

from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings


async def app_settings(request: Request) -> Settings:
    """The settings the app was created with (``create_app(settings)``; by default ``get_settings()``).

    Async on purpose: FastAPI runs a sync dependency in the threadpool, a hop per request. Tests can
    override it with ``app.dependency_overrides[app_settings]``.
    """
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]
