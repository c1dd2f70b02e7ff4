"""The OpenAPI description says what the API does: keys, errors, response shapes."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Api

#: Routes whose answer is a file, not JSON (they document their media types instead).
_NOT_JSON = {("get", "/v1/files/{file_id}"), ("get", "/v1/claims/{claim_id}/packet.pdf"),
             ("get", "/v1/reconciliation.csv")}


def test_every_mutating_post_documents_its_idempotency_key_and_problems(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    posts = {path: ops["post"] for path, ops in spec["paths"].items() if "post" in ops}
    keyless = {"/v1/carriers/{carrier}/callbacks/{token}", "/v1/channels/{channel}/callbacks/{token}",
               "/v1/aftersales/{case_id}/intercept-preview"}
    for path, op in posts.items():
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert ("Idempotency-Key" in headers) == (path not in keyless), path
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path.startswith("/v1/") and "callbacks" not in path and path != "/v1/events" \
                    and path != "/v1/shop/settlement-policy":
                assert {"401", "404", "409", "422"} <= set(op["responses"]), (method, path)
                ok = next(code for code in op["responses"] if code.startswith("2"))
                if (method, path) in _NOT_JSON:
                    continue
                assert "$ref" in str(op["responses"][ok]["content"]["application/json"]["schema"]), (method, path)


@pytest.mark.parametrize("page, marker", [("/docs", "swagger"), ("/redoc", "redoc")])
def test_docs_pages_work_offline(api: Api, page: str, marker: str) -> None:
    r = api.client.get(page)
    assert r.status_code == 200 and marker in r.text.lower()
    assets = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert assets and all(a.startswith("/static-offline-docs/") for a in assets), assets  # no CDN
    assert "https://" not in r.text and "http://" not in r.text
    for asset in assets:
        assert api.client.get(asset).status_code == 200, asset
    if page == "/docs":  # Swagger UI would otherwise post the spec to validator.swagger.io
        assert '"validatorUrl": null' in r.text
