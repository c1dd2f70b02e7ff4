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

#: Rules about the request's own content answer 422; the rest are conflicts with current state (409),
#: such as a waybill or channel reference that is already registered.
_INPUT_RULES = {"refund_fen", "waybill_nos", "address", "case_type", "carrier", "type", "items",
                "outcome", "channel", "file_ids"}
#: What FastAPI says when reading a JSON body failed in a way json.loads does not call a decode error.
_UNPARSED_BODY = "There was an error parsing the body"


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


def malformed_json(detail: str) -> Problem:
    return Problem(400, "Malformed JSON", detail, type_="/problems/malformed-json")


def _why_unparsed(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "the request body is not valid JSON: it is not UTF-8 text"
    if isinstance(cause, RecursionError):
        return "the request body is not valid JSON that lanjie reads: it is nested too deeply"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "the request body is not valid JSON that lanjie reads: a number has too many digits"
    return "the request body is not valid JSON"


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into problem+json."""

    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"] if p != "body"), "message": e["msg"],
                   "type": e["type"]} for e in exc.errors()]
        if any(e["type"] == "json_invalid" for e in errors):
            return malformed_json("the request body is not valid JSON").response()
        if isinstance(exc.body, bytes):  # a body FastAPI did not read as JSON: its Content-Type said otherwise
            sent = request.headers.get("content-type") or "no Content-Type"
            return Problem(415, "Unsupported media type", f"send the body as JSON with Content-Type: "
                           f"application/json (this request had {sent})", type_="/problems/unsupported-media-type",
                           field="Content-Type").response()
        detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
        return Problem(422, "Invalid request", detail, type_="/problems/invalid-request",
                       errors=errors).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSED_BODY:
            return malformed_json(_why_unparsed(exc.__cause__)).response()
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
