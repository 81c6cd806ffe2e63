"""The HTTP API fuzzed from its own OpenAPI description (Schemathesis) against a real server process.

Every operation is called with generated valid and invalid input, with a real key: no answer may be a 5xx,
and every answer must match the status codes and schemas the description declares.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    live = LiveServer(tmp_path_factory.mktemp("fuzz") / "server", None, "--allow-anonymous", "--max-body-mb", "4")
    live.start()
    try:
        yield live, live.user("fuzzer")
    finally:
        live.stop()


CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.response_schema_conformance,
    checks.content_type_conformance,
]


def test_the_api_never_fails_and_answers_as_described(fuzzed_server) -> None:
    live, key = fuzzed_server
    schema = schemathesis.openapi.from_url(f"{live.url}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)

        call()
