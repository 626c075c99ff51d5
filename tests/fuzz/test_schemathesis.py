"""Schemathesis against /openapi.json: every operation, schema-valid and schema-violating requests.

All of schemathesis's checks run (no 5xx, status codes and content types as documented, answers that match
the response schemas, schema-violating requests refused), except ``positive_data_acceptance``: the schema says
what a body looks like, not which programs are valid, so a schema-valid body with a bad program is a
documented 422, not a bug. Examples per operation: BACKPROP_FUZZ_EXAMPLES (60 in `make test`, 1000 in
`make stress`).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.config import Settings
from app.main import create_app

from .conftest import FUZZ_EXAMPLES

schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings()))
schema.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_operations(case):
    case.call_and_validate(excluded_checks=[positive_data_acceptance])
