"""The index's HTTP API (FastAPI, the relayer's framework): the reports, paged, as exact JSON,
plus CSV and FHIR for the accounting of disclosures and EPCIS for custody.

Every report answers with ``{"items", "next", "indexedTo", ...}`` (pass ``next`` back as
``cursor`` for the next page). Errors are ``{"error": "..."}``: 400 for bad input, 503 when the
node cannot be asked whether the index's tip is still on the chain. Read-only: nothing here
writes to the chain. CORS is open to GET from any origin (the web client may be served from
another port); serve it behind a TLS proxy with authentication in production, since these
reports are health data (docs/indexer.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from careledger._extras import needs_extra
from careledger.errors import CareLedgerError, InvalidInput, NodeUnreachable
from careledger.index.reports import claims as claims_report
from careledger.index.reports import custody as custody_report
from careledger.index.reports import disclosures as disclosure_report
from careledger.index.service import IndexService, parse_period

with needs_extra("index", "the index HTTP API"):
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.middleware.cors import CORSMiddleware
    from fastapi.responses import PlainTextResponse, Response

from careledger.consent.relay import ExactJSONResponse

__all__ = ["create_app"]


def create_app(svc: IndexService) -> FastAPI:
    app = FastAPI(title="CareLedger index", version="1", default_response_class=ExactJSONResponse)
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET"], allow_headers=["*"])
    lock = threading.Lock()  # one store, one tip check at a time

    def refuse(status: int, message: str) -> ExactJSONResponse:
        return ExactJSONResponse({"error": message}, status_code=status)

    @app.exception_handler(RequestValidationError)
    def malformed(request: Request, exc: RequestValidationError) -> ExactJSONResponse:
        problems = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return refuse(400, f"malformed request ({problems})")

    def http_error(request: Request, exc: Exception) -> ExactJSONResponse:
        return refuse(int(getattr(exc, "status_code", 404)), str(getattr(exc, "detail", "not found")))

    for status in (404, 405):
        app.add_exception_handler(status, http_error)

    def answer(build: Callable[[], Any]) -> Any:
        try:
            with lock:
                result = build()
        except InvalidInput as exc:
            return refuse(400, exc.message)
        except NodeUnreachable as exc:
            return refuse(503, f"cannot check the index against the chain: {exc.message}")
        except CareLedgerError as exc:
            return refuse(500, exc.message)
        return result

    def period(text: str | None) -> tuple[int | None, int | None]:
        return parse_period(text)

    @app.get("/health")
    def health() -> Any:
        def build() -> dict[str, Any]:
            tip = svc.fresh()
            return {"ok": True, "chainId": svc.chain_id, "indexedTo": tip, "events": svc.store.count_events()}

        return answer(build)

    @app.get("/disclosures", response_model=None)
    def disclosures(
        patient: list[str] = Query(..., description="each of the patient's pairwise pseudonyms"),  # noqa: B008
        org: list[str] = Query(default=[]),  # noqa: B008
        period_: str | None = Query(default=None, alias="period"),
        category: list[str] = Query(default=[]),  # noqa: B008
        kind: list[str] = Query(default=[]),  # noqa: B008
        limit: int = 100,
        cursor: str | None = None,
        format_: str = Query(default="json", alias="format"),
        order: str = "oldest",
    ) -> Any:
        if format_ not in ("json", "csv", "fhir"):
            return refuse(400, f"format {format_!r} is not json, csv or fhir")
        if order not in ("oldest", "newest"):
            return refuse(400, f"order {order!r} is not oldest or newest")

        def build() -> Any:
            since, until = period(period_)
            page = disclosure_report.disclosures(
                svc,
                patient,
                organisations=org,
                since=since,
                until=until,
                categories=category,
                kinds=kind,
                limit=limit,
                cursor=cursor,
                newest_first=order == "newest",
            )
            if format_ == "csv":
                return PlainTextResponse(disclosure_report.to_csv(page.items), media_type="text/csv")
            if format_ == "fhir":
                block = svc.store.block(page.indexed_to["block"]) if page.indexed_to["block"] is not None else None
                doc = disclosure_report.bundle(
                    page.items, svc.chain_id, svc.address("ConsentRegistry"), block.timestamp if block else 0
                )
                doc["link"] = [{"relation": "next", "url": f"?cursor={page.next}"}] if page.next else []
                return ExactJSONResponse(doc, media_type="application/fhir+json")
            return page.to_json()

        return answer(build)

    @app.get("/claims/{insurer}", response_model=None)
    def claims(
        insurer: str,
        plan: list[int] = Query(default=[]),  # noqa: B008
        period_: str | None = Query(default=None, alias="period"),
        state: list[str] = Query(default=[]),  # noqa: B008
        limit: int = 100,
        cursor: str | None = None,
    ) -> Any:
        def build() -> Any:
            since, until = period(period_)
            return claims_report.insurer_claims(
                svc, insurer, plans=plan, since=since, until=until, states=state, limit=limit, cursor=cursor
            ).to_json()

        return answer(build)

    @app.get("/eob", response_model=None)
    def eob(
        member: list[str] = Query(...),  # noqa: B008
        period_: str | None = Query(default=None, alias="period"),
        limit: int = 100,
        cursor: str | None = None,
    ) -> Any:
        def build() -> Any:
            since, until = period(period_)
            return claims_report.member_eob(svc, member, since=since, until=until, limit=limit, cursor=cursor).to_json()

        return answer(build)

    @app.get("/custody/{batch}", response_model=None)
    def custody(batch: str, limit: int = 100, cursor: str | None = None) -> Any:
        return answer(lambda: custody_report.custody_trail(svc, batch, limit=limit, cursor=cursor).to_json())

    @app.get("/regulator", response_model=None)
    def regulator(
        period_: str | None = Query(default=None, alias="period"), limit: int = 100, cursor: str | None = None
    ) -> Any:
        def build() -> Any:
            since, until = period(period_)
            return custody_report.regulator_view(svc, since=since, until=until, limit=limit, cursor=cursor).to_json()

        return answer(build)

    @app.get("/epcis", response_model=None)
    def epcis(
        period_: str | None = Query(default=None, alias="period"),
        batch: list[str] = Query(default=[]),  # noqa: B008
    ) -> Any:
        def build() -> Any:
            since, until = period(period_)
            doc = custody_report.epcis_export(svc, since=since, until=until, batches=batch)
            return ExactJSONResponse(doc, media_type="application/ld+json")

        return answer(build)

    @app.get("/", response_model=None)
    def root() -> Response:
        return PlainTextResponse(
            "CareLedger index API: /health /disclosures /claims/{insurer} /eob /custody/{batch} /regulator /epcis"
        )

    return app
