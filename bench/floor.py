"""`python -m bench.floor PORT`: the floor of the stack, a bare Starlette endpoint.

It reads the request body and answers constant JSON on /graphql, served by uvicorn with the
settings `heed serve` uses (httptools with Heed's header limits, no access log, one worker):
what any request costs before Heed does anything. The bench runs it next to Heed.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.server import uvicorn_options
from api.settings import Limits

ANSWER = b'{"data":{"__typename":"Query"}}'


async def graphql(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/graphql-response+json")


async def readyz(_: Request) -> JSONResponse:
    return JSONResponse({"ready": True})


app = Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/readyz", readyz)])


def main(argv: list[str]) -> None:
    port = int(argv[0])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        **uvicorn_options(Limits()),
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main(sys.argv[1:])
