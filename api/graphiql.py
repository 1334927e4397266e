"""GraphiQL, served by Heed itself so that it works without the internet.

The page's scripts are a pinned GraphiQL build copied into `api/static/graphiql` (versions in
`tools/graphiql/package.json`, refreshed by `make graphiql-assets`). Queries go over HTTP;
subscriptions go over graphql-ws with the Headers tab's `Authorization` sent in
`connection_init`, since browsers cannot put headers on a WebSocket. A socket closed by Heed
shows its close reason in the result pane instead of spinning.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static" / "graphiql"
ASSETS_PATH = "/graphiql-assets"

EXAMPLE_QUERY = """\
# Heed's home query: who you are and your onboarding, with each step's status.
# The development token is in the Headers tab below; run with Ctrl-Enter.
# The next tab holds a subscription: run it, then complete a step from here.
query Onboarding($locale: String) {
  viewer {
    member { id name }
    organization { id name }
    roles
  }
  flows(locale: $locale) {
    id
    title
    progress { done total percent }
    nextStep { id title }
    steps { id title status roles candidates { id name } }
  }
}
"""

EXAMPLE_SUBSCRIPTION = """\
# Live progress of your organization: run this, then complete or skip a step
# (in another tab, or from the example app) and watch the events arrive.
subscription Progress {
  progressChanged { flowId stepId action memberId at }
}
"""

PAGE = r"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Heed GraphiQL</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
  <link rel="stylesheet" href="{assets}/graphiql.min.css">
  <script src="{assets}/react.production.min.js"></script>
  <script src="{assets}/react-dom.production.min.js"></script>
  <script src="{assets}/graphql-ws.min.js"></script>
  <script src="{assets}/graphiql.min.js"></script>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script>
    const config = {config};
    const endpoint = new URL(location.pathname, location.href);
    const socketUrl = endpoint.href.replace(/^http/, "ws");
    const overHttp = GraphiQL.createFetcher({ url: endpoint.href });
    const sockets = new Map();

    function socketFor(authorization) {
      if (!sockets.has(authorization)) {
        sockets.set(authorization, graphqlWs.createClient({
          url: socketUrl,
          lazy: true,
          retryAttempts: 0,
          connectionParams: authorization ? { Authorization: authorization } : {},
        }));
      }
      return sockets.get(authorization);
    }

    // The operations of a document, read from its text: right after a tab switch GraphiQL
    // can still hand over the previous tab's parsed document and operation name.
    function operationsIn(query) {
      const text = query.replace(/#[^\n]*/g, "");
      const found = [...text.matchAll(
        /(^|[}\s])(query|mutation|subscription)\b(?!\s*:)\s*([_A-Za-z][_0-9A-Za-z]*)?/g,
      )].map((match) => ({ type: match[2], name: match[3] }));
      return found.length ? found : [{ type: "query" }];
    }

    function withOperationName(params) {
      const operations = operationsIn(params.query);
      if (operations.some((op) => op.name && op.name === params.operationName)) return params;
      return { ...params, operationName: operations[0].name || null };
    }

    function isSubscription(params) {
      const operations = operationsIn(params.query);
      const chosen = operations.find((op) => op.name && op.name === params.operationName)
        || operations[0];
      return chosen.type === "subscription";
    }

    function closeMessage(error) {
      if (error && typeof error.code === "number") {
        return "The server closed the subscription socket: " + error.code + " "
          + (error.reason || "(no reason given)");
      }
      return error && error.message ? error.message : String(error);
    }

    async function* subscribe(params, headers) {
      const authorization = headers.Authorization || headers.authorization || "";
      try {
        for await (const result of socketFor(authorization).iterate(params)) yield result;
      } catch (error) {
        sockets.delete(authorization);
        yield { errors: [{ message: closeMessage(error) }] };
      }
    }

    function fetcher(graphiqlParams, opts) {
      const params = withOperationName(graphiqlParams);
      const headers = (opts && opts.headers) || {};
      return isSubscription(params) ? subscribe(params, headers) : overHttp(params, opts);
    }

    ReactDOM.createRoot(document.getElementById("graphiql")).render(
      React.createElement(GraphiQL, {
        fetcher,
        defaultHeaders: config.headers,
        defaultEditorToolsVisibility: "headers",
        defaultTabs: [
          { query: config.query, variables: '{"locale": "en"}', headers: config.headers },
          { query: config.subscription, headers: config.headers },
        ],
      }),
    );
  </script>
</body>
</html>
"""


def graphiql_html(development_token: str | None) -> str:
    """The page, with the development token (if any) in the Headers tab."""
    headers = {"Authorization": f"Bearer {development_token}"} if development_token else {}
    config = {
        "headers": orjson.dumps(headers, option=orjson.OPT_INDENT_2).decode(),
        "query": EXAMPLE_QUERY,
        "subscription": EXAMPLE_SUBSCRIPTION,
    }
    # `<` escaped so that no value can close the script element.
    script_safe = orjson.dumps(config).decode().replace("<", "\\u003c")
    return PAGE.replace("{assets}", ASSETS_PATH).replace("{config}", script_safe)


def graphiql_assets() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
