// The example app talks to Heed through Vite's proxy, so the browser sees one origin
// (no CORS to set up): /graphql over HTTP and WebSocket goes to HEED_URL.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const heed = process.env.HEED_URL ?? "http://127.0.0.1:8000";
// The Host header is kept, so the WebSocket handshake is same-origin for Heed.
const proxy = { "/graphql": { target: heed, ws: true } };

export default defineConfig({
  plugins: [react()],
  server: { proxy },
  preview: { proxy },
});
