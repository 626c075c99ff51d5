"""The Backprop Lab engine: a pure library (no web imports).

    text --parser--> gate graph (graph.py) --backend--> values and gradients --> document / passes

``parser`` builds the gate graph in one pass; ``program`` compiles and caches it and binds values;
``cost.prepare`` checks every budget before any work; a backend runs forward and backward (``scalar``:
the float tape, ``tensor``: numpy arrays); ``document``, ``numeric``, ``optimize``, ``sweep`` and
``batch`` are written once against the backend interface (``backend``). ``ops`` is the op registry
that all of them read; ``reference`` writes the docs' gate tables from it.
"""

from .batch import evaluate_batch
from .cost import estimate
from .errors import EngineError
from .evaluate import evaluate, evaluate_json
from .function import Function, compile_function
from .graph import Graph, build
from .limits import DEFAULT_LIMITS, Limits
from .ops import REGISTRY, ops_metadata
from .optimize import optimize
from .parser import parse
from .program import compile_program
from .sweep import sweep

__all__ = ["DEFAULT_LIMITS", "REGISTRY", "EngineError", "Function", "Graph", "Limits", "build", "compile_function",
           "compile_program", "estimate", "evaluate", "evaluate_batch", "evaluate_json", "ops_metadata", "optimize",
           "parse", "sweep"]
