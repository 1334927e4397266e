// A real Heed for the Node tests: `heed serve` on a free port, on its own SQLite database
// in a temporary folder, with tokens minted by `heed token` under the same secret.
import { spawn, execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const WEB = join(REPO, "examples/web");
const HEED = process.env.HEED_BIN ?? join(REPO, ".venv/bin/heed");
const SECRET = "node-tests-secret-" + "z".repeat(32);

export async function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.on("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** Wait until `check()` returns something truthy (bounded), or fail with `what`. */
export async function eventually(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/**
 * Start Heed. `extraContent` maps file names to markdown added to a copy of the demo content;
 * `env` adds settings (e.g. HEED_TRUSTED_DOCUMENTS).
 */
export async function startHeed({ extraContent = {}, env = {} } = {}) {
  const folder = mkdtempSync(join(tmpdir(), "heed-node-"));
  const content = join(folder, "content");
  cpSync(join(REPO, "content"), content, { recursive: true });
  for (const [name, text] of Object.entries(extraContent)) writeFileSync(join(content, name), text);
  const port = await freePort();
  const environment = {
    PATH: process.env.PATH,
    HEED_DATA_DIR: join(folder, "data"),
    DATABASE_URL: `sqlite://${join(folder, "heed.sqlite3")}`,
    HEED_CONTENT_DIR: content,
    HEED_JWT_SECRET: SECRET,
    HEED_RELEASE_POLL_SECONDS: "1",
    ...env,
  };
  const child = spawn(HEED, ["serve", "--port", String(port)], {
    cwd: REPO,
    env: environment,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const exited = new Promise((done) => child.on("exit", done));
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`heed serve exited:\n${output}`);
      const response = await fetch(`${url}/readyz`);
      return response.status === 200;
    }, `heed serve on port ${port}`);
  } catch (error) {
    child.kill();
    throw new Error(`${error.message}\n${output}`);
  }
  return {
    url,
    port,
    output: () => output,
    token({ org, member, roles = [], name, locale, ttl }) {
      const args = ["token", "--org", org, "--member", member, "--roles", roles.join(",")];
      if (name) args.push("--name", name);
      if (locale) args.push("--locale", locale);
      if (ttl) args.push("--ttl", String(ttl));
      return execFileSync(HEED, args, { cwd: REPO, env: environment }).toString().trim();
    },
    async graphql(token, query, variables) {
      const response = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json",
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ query, variables }),
      });
      return response.json();
    },
    async stop() {
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
