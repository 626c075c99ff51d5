"""The ASGI app: ``create_app(settings)`` wires routers, static files, handlers and middleware.

``app.main:app`` is the app built from the environment's settings (BACKPROP_*).

Adding a router: write ``app/api/<area>.py`` with ``router = APIRouter(prefix="/api/v1", tags=[...])``
(an engine route asks for ``engine: Engine`` from app/api/runner.py; any route may ask for
``settings: Annotated[Settings, Depends(settings_dependency)]``; dependencies are ``async def``: a plain ``def``
one costs a trip through the thread pool per request), then add it to ``ROUTERS`` below.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from app import __version__
from app.api import errors
from app.api import pool as engine_pool
from app.api.docs import DOCS_CSP_SOURCES, DOCS_PATH, docs_router
from app.api.evaluate import router as evaluate_router
from app.api.lessons import router as lessons_router
from app.api.meta import router as meta_router
from app.api.middleware import (
    BodySizeLimitMiddleware,
    JSONOnlyMiddleware,
    SecurityHeadersMiddleware,
    content_security_policy,
    security_headers,
)
from app.api.optimize import router as optimize_router
from app.api.page import router as page_router
from app.api.rooms import router as rooms_router
from app.api.runner import pool_for
from app.api.sweep import router as sweep_router
from app.api.train import router as train_router
from app.config import ROOT_DIR, Settings, get_settings

TITLE = "Backprop Lab"
OPENAPI_TAGS = [
    {"name": "engine", "description": "Evaluate a program: forward values, gradients, optimizer, sweep."},
    {"name": "meta", "description": "The gates, the worked examples and the limits of this server."},
    {"name": "health", "description": "Liveness for load balancers and container health checks."},
]

ROUTERS = [evaluate_router, optimize_router, sweep_router, train_router, meta_router, lessons_router, page_router,
           rooms_router]
"""Every area's APIRouter, in the order they are included."""


@asynccontextmanager
async def _lifespan(app: FastAPI):
    settings: Settings = app.state.settings
    if settings.engine_processes > 0:  # start the engine processes now, not on the first heavy request
        pool_for(settings)
    yield
    engine_pool.shutdown()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app, configured by ``settings`` (by default the environment's, ``get_settings()``).

    The settings are the app's ``app.state.settings``: every route that asks for ``Depends(settings_dependency)``
    (the engine runner included) gets them."""
    # No OpenTelemetry: the lab exports none, and FastAPI would look for a configured provider on every request.
    app = FastAPI(title=TITLE, version=__version__, openapi_tags=OPENAPI_TAGS, docs_url=None, redoc_url=None,
                  lifespan=_lifespan, telemetry={"tracing": False, "metrics": False, "logs": False},
                  summary="Programs become gate graphs with forward values and gradients.")
    settings = settings or get_settings()
    app.state.settings = settings
    app.state.limits = settings.limits()  # the engine's Limits, built once
    app.state.security_headers = security_headers(content_security_policy(settings.frame_ancestors))

    errors.install(app)
    for router in (*ROUTERS, docs_router(app.openapi_url, TITLE)):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=ROOT_DIR / "static"), name="static")

    # Outermost last: security headers wrap everything (413s, 415s and CORS answers included).
    app.add_middleware(BodySizeLimitMiddleware, max_body_bytes=settings.max_body_bytes,
                       buffer_bytes=settings.request_buffer_bytes)
    app.add_middleware(JSONOnlyMiddleware)
    if settings.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["GET", "POST"], allow_headers=["Content-Type"])
    docs_headers = security_headers(content_security_policy(settings.frame_ancestors, DOCS_CSP_SOURCES))
    app.add_middleware(SecurityHeadersMiddleware, headers=app.state.security_headers,
                       by_path={DOCS_PATH: docs_headers})
    return app


app = create_app()
