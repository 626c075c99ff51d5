"""The Backprop Lab engine: a pure library (no web imports).

parser (text -> flat AST) -> graph (gate graph IR) -> autodiff (forward, backward) and the
passes built on them: numeric check, optimizer, sweep. ``evaluate`` returns the one JSON
document that the CLI prints and the API serves.
"""

from .errors import EngineError
from .evaluate import evaluate
from .graph import Graph, build
from .limits import DEFAULT_LIMITS, Limits
from .ops import REGISTRY, ops_metadata
from .optimize import optimize
from .parser import parse
from .program import compile_program
from .sweep import sweep

__all__ = ["DEFAULT_LIMITS", "REGISTRY", "EngineError", "Graph", "Limits", "build", "compile_program",
           "evaluate", "ops_metadata", "optimize", "parse", "sweep"]
