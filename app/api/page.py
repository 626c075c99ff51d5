import re
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app import __version__
from app.config import ROOT_DIR

router = APIRouter(tags=["page"])
templates = Jinja2Templates(directory=ROOT_DIR / "templates")

JS = ROOT_DIR / "static" / "js"
_IMPORT = re.compile(r"""^\s*(?:import|export)\b[^;'"]*?\bfrom\s*["'](\./[\w./-]+\.js)["']""" # import .. from "./x.js"
                     r"""|^\s*import\s*["'](\./[\w./-]+\.js)["']""", re.MULTILINE)        # import "./x.js"


@cache
def page_modules(entry: str = "main.js") -> tuple[str, ...]:
    """Every ES module the page's entry imports statically, directly or not (the page has no bundler): the
    template preloads them all at once (``<link rel="modulepreload">``) instead of the browser finding them
    level by level, one round trip per level of imports."""
    seen: dict[str, None] = {}
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen[name] = None
        text = (JS / name).read_text(encoding="utf-8")
        for m in _IMPORT.finditer(text):
            ref = (m.group(1) or m.group(2))[2:]
            if (JS / ref).is_file():
                todo.append(ref)
    return tuple(sorted(seen))


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index(request: Request) -> HTMLResponse:
    """The page: templates/index.html, which loads its scripts and styles from /static."""
    return templates.TemplateResponse(request, "index.html", {"version": __version__, "modules": page_modules()})
