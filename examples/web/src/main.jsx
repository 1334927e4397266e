import { ApolloProvider } from "@apollo/client/react";
import { StrictMode, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App.jsx";
import { makeClient } from "./client.js";
import { words } from "./i18n.js";
import "./style.css";

// A real app gets the member's token from its own backend; this example takes it from the
// address (?token=…) once and keeps it for the tab.
function currentToken() {
  const fromUrl = new URLSearchParams(location.search).get("token");
  if (fromUrl) sessionStorage.setItem("heed-token", fromUrl);
  return fromUrl ?? sessionStorage.getItem("heed-token");
}

function Root() {
  const token = currentToken();
  const [socket, setSocket] = useState({ live: false, refused: null });
  const client = useMemo(
    () =>
      token &&
      makeClient({
        token,
        onSocket: (live) => setSocket((s) => ({ ...s, live })),
        onSocketRefused: (reason) => setSocket({ live: false, refused: reason }),
      }),
    [token],
  );
  if (!client) return <p className="notice">{words("en").needToken}</p>;
  return (
    <ApolloProvider client={client}>
      <App socket={socket} />
    </ApolloProvider>
  );
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
