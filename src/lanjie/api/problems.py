"""Errors as ``application/problem+json`` (RFC 9457), naming the field or rule at fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lanjie.carriers.registry import UnknownCarrier
from lanjie.domain.errors import IllegalTransition, NotFound, RuleViolation

PROBLEM = "application/problem+json"

#: Rules about the request's own content answer 422; the rest are conflicts with current state (409).
_INPUT_RULES = {"refund_fen", "waybill_nos", "waybill_no", "address", "case_type", "carrier", "type", "items",
                "outcome", "channel", "file_ids"}


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, *, type_: str = "about:blank",
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.type = status, title, detail, type_
        self.headers, self.extra = headers or {}, extra

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail, **self.extra}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, media_type=PROBLEM, headers=self.headers)


def problem_for(exc: Exception) -> Problem | None:
    """The problem a domain or input error becomes, or None when it is not one of ours."""
    if isinstance(exc, NotFound):
        return Problem(404, "Not found", str(exc), type_="/problems/not-found")
    if isinstance(exc, IllegalTransition):
        return Problem(409, "Illegal transition", str(exc), type_="/problems/illegal-transition",
                       entity=exc.entity, current=exc.current, target=exc.target)
    if isinstance(exc, RuleViolation):
        status = 422 if exc.rule in _INPUT_RULES or exc.rule.startswith("rules.") else 409
        return Problem(status, "Rule violated", exc.detail, type_=f"/problems/{exc.rule.replace('_', '-')}",
                       rule=exc.rule)
    if isinstance(exc, UnknownCarrier):
        return Problem(422, "Unknown carrier", str(exc), type_="/problems/unknown-carrier", field="carrier")
    return None


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem+json."""

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"],
                   "type": e["type"]} for e in exc.errors()]
        if any(e["type"] == "json_invalid" for e in errors):
            return Problem(400, "Malformed JSON", "the request body is not valid JSON",
                           type_="/problems/malformed-json").response()
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        return Problem(422, "Invalid request", detail, type_="/problems/invalid-request",
                       errors=errors).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return Problem(exc.status_code, str(exc.detail), str(exc.detail),
                       headers=dict(exc.headers or {})).response()

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # A bug, not the caller's fault: the log has the traceback (Starlette re-raises after this
        # answer); the caller gets problem+json that names nothing of our internals.
        return Problem(500, "Internal error", "lanjie failed to handle this request; it has been logged",
                       type_="/problems/internal-error").response()

    for cls in (NotFound, IllegalTransition, RuleViolation, UnknownCarrier):
        async def _domain(_: Request, exc: Exception) -> JSONResponse:
            found = problem_for(exc)
            assert found is not None
            return found.response()
        app.add_exception_handler(cls, _domain)
