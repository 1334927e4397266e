// Debian's Chromium driven by playwright-core (Playwright's own browser download cannot run
// here). Missing Chromium fails loudly under CI=true and skips, with the reason, elsewhere.
import { spawn, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chromium } from "playwright-core";
import { WEB, eventually, freePort } from "./heed.mjs";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The reason browser tests cannot run, or null; throws under CI=true. */
export function browserMissing() {
  if (existsSync(CHROMIUM)) return null;
  const reason = `Chromium not found at ${CHROMIUM} (apt-get install chromium)`;
  if (process.env.CI === "true") throw new Error(`${reason}: CI=true needs the browser tests`);
  return reason;
}

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

let built = false;

/** The example app, built once, served by `vite preview` with /graphql proxied to Heed. */
export async function serveApp(heedUrl) {
  if (!built) {
    execFileSync("npx", ["vite", "build", "--logLevel", "warn"], { cwd: WEB, stdio: "inherit" });
    built = true;
  }
  const port = await freePort();
  const child = spawn("npx", ["vite", "preview", "--strictPort", "--port", String(port), "--host", "127.0.0.1"], {
    cwd: WEB,
    env: { ...process.env, HEED_URL: heedUrl },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(url)).ok, `vite preview on ${port}\n${output}`);
  return {
    url,
    stop() {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
    },
  };
}
