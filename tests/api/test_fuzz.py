"""Schemathesis generates input for every documented operation: never a 5xx, and every answer has a
documented status, content type and shape."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Api

pytestmark = pytest.mark.slow
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_no_input_makes_the_api_fail_or_answer_off_its_description(api: Api) -> None:
    case_id = api.seed_case(api.a)["id"]  # a real case, so id-bearing routes get past 404 too
    schema = schemathesis.openapi.from_url(f"{api.client.base_url}/openapi.json")
    # The SSE stream never ends and carrier callbacks are signed by carriers: both have tests of their own.
    operations = [op.ok() for op in schema.get_all_operations()]
    operations = [op for op in operations if "/v1/events" not in op.path and "/callbacks/" not in op.path]
    assert len(operations) >= 15  # every route the API offers, none left out below
    tried: dict[str, int] = {}

    def fuzz(operation: Any) -> None:
        @given(st.data())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(data: Any) -> None:
            case = data.draw(operation.as_strategy())
            if "case_id" in (case.path_parameters or {}) and data.draw(st.booleans()):
                case.path_parameters["case_id"] = case_id
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {api.a.key}",
                            "Idempotency-Key": f"fuzz-{uuid.uuid4()}"}
            case.call_and_validate(checks=CHECKS)
            tried[operation.label] = tried.get(operation.label, 0) + 1

        run()

    for operation in operations:
        fuzz(operation)
    assert len(tried) == len(operations) and min(tried.values()) >= 1
