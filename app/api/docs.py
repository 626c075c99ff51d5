"""Swagger UI at /docs without inline script and without a CDN (workshops run offline).

FastAPI's stock /docs page starts Swagger UI with an inline <script> and loads it from a CDN; here
the same start-up code is served from /docs/swagger-init.js and Swagger UI itself is vendored under
static/vendor/swagger-ui/ (swagger-ui-dist 5.35.0, Apache-2.0). It runs under the app's strict
Content-Security-Policy (it styles elements through the DOM, which CSP allows).
"""

import json

from fastapi import APIRouter
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import HTMLResponse, Response

VENDOR = "/static/vendor/swagger-ui"
SWAGGER_JS = f"{VENDOR}/swagger-ui-bundle.js"
SWAGGER_CSS = f"{VENDOR}/swagger-ui.css"
FAVICON = f"{VENDOR}/favicon-32x32.png"
DOCS_PATH = "/docs"
DOCS_CSP_SOURCES: dict[str, tuple[str, ...]] = {}  # the strict policy is enough: see tests/api


def docs_router(openapi_url: str, title: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - API docs</title>
<link rel="stylesheet" href="{SWAGGER_CSS}">
<link rel="icon" href="{FAVICON}">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{SWAGGER_JS}"></script>
<script src="{DOCS_PATH}/swagger-init.js"></script>
</body>
</html>
"""
    parameters = {**swagger_ui_default_parameters, "url": openapi_url}
    init = (f"window.ui = SwaggerUIBundle(Object.assign({json.dumps(parameters)}, "
            "{presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]}));\n")

    @router.get(DOCS_PATH)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)

    @router.get(f"{DOCS_PATH}/swagger-init.js")
    async def swagger_init() -> Response:
        return Response(init, media_type="text/javascript")

    return router
