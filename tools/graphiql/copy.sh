#!/usr/bin/env bash
# Refresh the GraphiQL files Heed serves (api/static/graphiql) from the versions pinned here.
# Run through `make graphiql-assets`; the copied files are committed so Heed needs no network.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
out=../../api/static/graphiql
mkdir -p "$out"
cp node_modules/react/umd/react.production.min.js \
   node_modules/react-dom/umd/react-dom.production.min.js \
   node_modules/graphiql/graphiql.min.js \
   node_modules/graphiql/graphiql.min.css \
   node_modules/graphql-ws/umd/graphql-ws.min.js "$out/"
cp node_modules/graphiql/LICENSE "$out/LICENSE.graphiql"
cp node_modules/react/LICENSE "$out/LICENSE.react"
cp node_modules/graphql-ws/LICENSE.md "$out/LICENSE.graphql-ws.md"
node -e 'const l=require("./package-lock.json").packages;console.log(["graphiql","react","react-dom","graphql-ws"].map(n=>n+" "+l["node_modules/"+n].version).join("\n"))' > "$out/VERSIONS"
echo "copied to $out:" && cat "$out/VERSIONS"
