"""ASGI apps serving a sandbox world: one to mount under ``/sandbox``, one to run standalone.

Starlette does not run the lifespan of a mounted app, so whoever mounts ``create_sandbox_app``
starts and stops the world itself (``await world.start()`` / ``await world.stop()``).
``create_standalone_app`` does that in its own lifespan and mounts the sandbox at ``/sandbox``, so
URLs are the same as in the demo.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lanjie.sandbox.control import control_router
from lanjie.sandbox.kuaidi100 import kuaidi100_router
from lanjie.sandbox.platforms.control import platform_control_router
from lanjie.sandbox.world import SandboxConfig, SandboxWorld, WorldError

PROBLEM_JSON = "application/problem+json"


def problem(status: int, detail: str) -> JSONResponse:
    """An RFC 9457 problem answer."""
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


async def _world_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WorldError)
    return problem(exc.status, exc.detail)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, str(exc.detail))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return problem(422, "; ".join(parts))


def create_sandbox_app(world: SandboxWorld) -> FastAPI:
    """The sandbox's routes: each carrier twin under ``/<name>``, the sales platforms under ``/douyin`` and
    ``/taobao``, the control API under ``/control``."""
    app = FastAPI(title="lanjie sandbox", summary="A simulated carrier world speaking each carrier's own protocol")
    app.state.world = world
    app.include_router(kuaidi100_router(world), prefix="/kuaidi100", tags=["kuaidi100"])
    for name, twin in world.twins.items():
        app.include_router(twin.router(), prefix=f"/{name}", tags=[name])
    app.include_router(world.platforms.douyin_api.router(), prefix="/douyin", tags=["douyin"])
    app.include_router(world.platforms.taobao_api.router(), prefix="/taobao", tags=["taobao"])
    app.include_router(control_router(world), prefix="/control", tags=["control"])
    app.include_router(platform_control_router(world), prefix="/control/platforms", tags=["control"])
    app.add_exception_handler(WorldError, _world_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    return app


def create_standalone_app(config: SandboxConfig | None = None) -> FastAPI:
    """An app whose lifespan runs a new world and which serves it at ``/sandbox`` (``app.state.world``)."""
    world = SandboxWorld(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await world.start()
        try:
            yield
        finally:
            await world.stop()

    app = FastAPI(title="lanjie sandbox (standalone)", lifespan=lifespan)
    app.state.world = world
    app.mount("/sandbox", create_sandbox_app(world))
    return app
