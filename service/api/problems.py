"""RFC 9457 problem details for every error the admin API returns."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from service.store.errors import DatabaseError, refused_value

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"


class ProblemDetails(BaseModel):
    """The body of every error response (RFC 9457), for the OpenAPI document."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str = Field(description="The request path")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="One item per invalid field: field, message (and code)"
    )


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem documents a route may answer with."""
    schema = ProblemDetails.model_json_schema()
    return {
        status: {"description": _title(status), "content": {MEDIA_TYPE: {"schema": schema}}}
        for status in statuses
    }


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(title)
        self.headers = headers
        self.status, self.title, self.detail, self.type, self.errors = (
            status,
            title,
            detail,
            type_,
            errors,
        )

    def body(self, instance: str) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            doc["detail"] = self.detail
        doc["instance"] = instance
        if self.errors is not None:
            doc["errors"] = self.errors
        return doc


def not_found(what: str) -> Problem:
    return Problem(404, "Not Found", f"{what} not found")


def _json(problem: Problem, request: Request) -> JSONResponse:
    return JSONResponse(
        problem.body(request.url.path),
        problem.status,
        headers=problem.headers,
        media_type=MEDIA_TYPE,
    )


HtmlRenderer = Callable[[Request, Problem], Response]


def install(app: FastAPI, html: tuple[str, HtmlRenderer] | None = None) -> None:
    """Problem documents for every error; under `html`'s path prefix, pages by its renderer."""

    def problem_response(problem: Problem, request: Request) -> Response:
        if html is not None and request.url.path.startswith(html[0]):
            return html[1](request, problem)
        return _json(problem, request)

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        problem = Problem(exc.status_code, _title(exc.status_code), str(exc.detail))
        response = problem_response(problem, request)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405 and (allowed := _allowed_methods(request)):
            # Starlette names only the first route whose path matched; list every method the
            # resource has, as RFC 9110 asks of `Allow` (and as the OpenAPI document says).
            response.headers["Allow"] = ", ".join(allowed)
        return response

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "code": e["type"]}
            for e in exc.errors()
        ]
        problem = Problem(422, "Unprocessable Content", "the request is invalid", errors=errors)
        return problem_response(problem, request)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(Problem(500, "Internal Server Error"), request)

    async def on_database(request: Request, exc: Exception) -> Response:
        # SQLSTATE class 22, "data exception": the database refused a value the request carried
        # (a NUL character, a number out of range, a string too long). A last line of defence
        # behind the validation of each input; anything else is the server's fault.
        assert isinstance(exc, DatabaseError)
        sqlstate = refused_value(exc)
        if sqlstate is not None:
            logger.warning(
                "database refused a request value",
                extra={"path": request.url.path, "sqlstate": sqlstate},
            )
            problem = Problem(
                422, "Unprocessable Content", "a value in the request cannot be stored"
            )
            return problem_response(problem, request)
        return await on_unexpected(request, exc)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(DatabaseError, on_database)
    app.add_exception_handler(Exception, on_unexpected)


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}


def _allowed_methods(request: Request) -> list[str]:
    """The methods the OpenAPI document gives the requested path (its templates matched)."""
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    methods: set[str] = set()
    for template, item in paths.items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {m.upper() for m in item if m.upper() in _METHODS}
    return sorted(methods)


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
