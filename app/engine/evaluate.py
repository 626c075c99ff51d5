"""One evaluation: every budget checked (cost.prepare), the backend chosen for the values, one
forward and backward pass, optionally the numerical check, and the JSON document (document.py)."""

from __future__ import annotations

import math
from typing import Any

from .cost import prepare
from .document import LAYOUTS, build
from .errors import EngineError
from .limits import DEFAULT_LIMITS, Limits
from .numeric import METHODS, check
from .program import quiet_gc


def evaluate(program: str, values: dict[str, Any] | None = None, *, limits: Limits = DEFAULT_LIMITS,
             numeric_check: bool = False, h: float = 1e-5, tolerance: float = 1e-6, check_method: str = "central",
             full_tensors: bool = False, layout: str = "nodes",
             batch: dict[str, list[float]] | None = None, encoded: bool = False) -> dict[str, Any]:
    """Evaluate a program and return the evaluation document (see docs/contract.md).

    ``values``: input name -> number or nested list (overriding the program's defaults).
    ``layout``: "nodes" (a list of node objects, the default) or "columns" (one array per field).
    ``check_method``: the numerical check's differences, "central" or one-sided "forward".
    ``batch``: input name -> list of N numbers: evaluate at N points in one pass and return the batch
    document instead (batch.py; scalar programs only).
    ``encoded``: the nodes layout's list arrives as JSON bytes (an ``orjson.Fragment``: see
    ``evaluate_document``)."""
    if batch is not None:
        from .batch import evaluate_batch

        if numeric_check:  # the batch document has no per-node rows to check
            raise EngineError("invalid_value", "numeric_check is not available with batch: check one point at a time",
                              {"name": "numeric_check"})

        return evaluate_batch(program, values, batch=batch, limits=limits)
    if layout not in LAYOUTS:
        raise EngineError("invalid_value", "layout must be 'nodes' or 'columns'", {"name": "layout"})
    if numeric_check:
        if check_method not in METHODS:
            raise EngineError("invalid_value", "check_method must be 'central' or 'forward'", {"name": "check_method"})
        if isinstance(h, bool) or not (isinstance(h, (int, float)) and math.isfinite(h) and 0 < h <= 1):
            raise EngineError("invalid_value", "h must be a number in (0, 1]", {"name": "h"})
        if isinstance(tolerance, bool) or not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance)
                                               and tolerance > 0):
            raise EngineError("invalid_value", "tolerance must be a positive number", {"name": "tolerance"})
    with quiet_gc():  # a large document is hundreds of thousands of small objects: see quiet_gc
        req = prepare("evaluate", program, values, limits, numeric_check=numeric_check, full_tensors=full_tensors)
        be = req.backend()
        run = be.run()
        numeric = check(be, run, h, tolerance, check_method) if numeric_check else None
        return build(be, run, numeric=numeric, layout=layout, notes=req.warnings, given=values or _NONE,
                     encoded=encoded)


_NONE: dict = {}


def evaluate_document(program: str, values: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """``evaluate`` for sending, not for reading: the same document, except that the nodes layout's
    list is already JSON bytes (an ``orjson.Fragment``, written without a dict per node), so that
    ``orjson.dumps`` of it gives exactly the bytes of ``orjson.dumps(evaluate(...))``, several times
    faster on large programs. The API's /evaluate runs this."""
    return evaluate(program, values, **options, encoded=True)


def evaluate_json(program: str, values: dict[str, Any] | None = None, **options: Any) -> bytes:
    """``evaluate`` encoded as compact JSON bytes (what the API sends), encoded before the garbage
    collector runs again: the document's objects are freed first, so the collector never walks them."""
    import orjson

    with quiet_gc():
        return orjson.dumps(evaluate_document(program, values, **options))
