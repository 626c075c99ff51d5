"""How much fuzzing: BACKPROP_FUZZ_EXAMPLES examples per property / per operation (default: a quick run for
`make test`; `make stress` sets 1000)."""

from __future__ import annotations

import os

FUZZ_EXAMPLES = int(os.environ.get("BACKPROP_FUZZ_EXAMPLES", "60"))
