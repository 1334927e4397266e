// One Apollo Client per signed-in member: HTTP for queries and mutations, graphql-ws for the
// live subscription. Browsers cannot set headers on a WebSocket, so the token goes in
// connection_init; a refused token closes the socket with 4403 and a reason.
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { getMainDefinition } from "@apollo/client/utilities";
import { createClient } from "graphql-ws";
import { heedTypePolicies } from "./cache.js";

export function makeClient({ token, onSocket, onSocketRefused }) {
  const authorization = `Bearer ${token}`;
  const http = new HttpLink({ uri: "/graphql", headers: { authorization } });
  const socketUrl = new URL("/graphql", location.href).href.replace(/^http/, "ws");
  const socket = createClient({
    url: socketUrl,
    connectionParams: { Authorization: authorization },
    shouldRetry: (event) => !(event && event.code === 4403),
    on: {
      connected: () => onSocket(true),
      closed: (event) => {
        onSocket(false);
        // Heed names the problem after "Forbidden: " (expired, bad signature, missing).
        if (event && event.code === 4403) onSocketRefused(event.reason.replace(/^Forbidden: /, ""));
      },
    },
  });
  const link = ApolloLink.split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === "OperationDefinition" && definition.operation === "subscription";
    },
    new GraphQLWsLink(socket),
    http,
  );
  return new ApolloClient({ link, cache: new InMemoryCache({ typePolicies: heedTypePolicies }) });
}

/** A readable reason for a failed request: Heed answers a refused token with 401 and a
 * JSON body naming the problem (expired, bad signature, missing claim...). */
export function describeError(error) {
  const text = error?.bodyText;
  if (text) {
    try {
      const message = JSON.parse(text).errors?.[0]?.message;
      if (message) return message;
    } catch {
      // not JSON: fall through
    }
  }
  return error?.message ?? String(error);
}

export function isAuthError(error) {
  return error?.statusCode === 401 || error?.statusCode === 403;
}
