from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app import __version__
from app.config import ROOT_DIR

router = APIRouter(tags=["page"])
templates = Jinja2Templates(directory=ROOT_DIR / "templates")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request) -> HTMLResponse:
    """The page: templates/index.html, which loads its scripts and styles from /static."""
    return templates.TemplateResponse(request, "index.html", {"version": __version__})
