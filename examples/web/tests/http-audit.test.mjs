// graphql-http's server audit (the GraphQL-over-HTTP specification's checks) against a real
// Heed, with a member's token on every request. Target: every audit ok, no warnings.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { auditServer } from "graphql-http";
import { startHeed } from "./support/heed.mjs";

let heed, token;

before(async () => {
  heed = await startHeed();
  token = heed.token({ org: "audit", member: "auditor" });
});

after(() => heed?.stop());

it("passes graphql-http's server audit with no warnings", async () => {
  const fetchFn = (input, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
  const results = await auditServer({ url: `${heed.url}/graphql`, fetchFn });
  const counts = {};
  for (const result of results) counts[result.status] = (counts[result.status] ?? 0) + 1;
  console.log(`graphql-http audit: ${JSON.stringify(counts)} of ${results.length}`);
  const problems = results.filter((r) => r.status !== "ok").map((r) => `${r.status}: ${r.name}: ${r.reason}`);
  assert.deepEqual(problems, []);
  assert.equal(counts.ok, results.length);
});
