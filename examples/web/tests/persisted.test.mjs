// Apollo Client's persisted-queries link against a real Heed: automatic persisted queries
// (hash first, the document once on PersistedQueryNotFound, GET with the hash, ETag and 304),
// and trusted documents (only documents of a manifest run).
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { createPersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { print } from "graphql";
import { startHeed } from "./support/heed.mjs";

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

const RELEASE = gql`
  query Release { release { number contentHash } }
`;
const HELP = gql`
  query Help($context: String!) { help(context: $context) { id requestedLocale revision title } }
`;
const VIEWER = gql`
  query Me { viewer { member { id } } }
`;

/** The document as Apollo Client sends it (the cache adds __typename), as Apollo's
 * generate-persisted-query-manifest also writes it. */
const asSent = (document) => new InMemoryCache().transformDocument(document);

/** A client whose requests are recorded: [method, body or query string]. */
function persistedClient(heed, token, sent, options = {}) {
  const recordingFetch = (url, init) => {
    sent.push({ method: init.method, url: String(url), body: init.body ? JSON.parse(init.body) : null });
    return fetch(url, init);
  };
  const http = new HttpLink({
    uri: `${heed.url}/graphql`,
    headers: { authorization: `Bearer ${token}` },
    fetch: recordingFetch,
  });
  return new ApolloClient({
    link: createPersistedQueryLink({ sha256, ...options }).concat(http),
    cache: new InMemoryCache(),
  });
}

describe("automatic persisted queries", () => {
  let heed, token;

  before(async () => {
    heed = await startHeed();
    token = heed.token({ org: `apq-${randomUUID().slice(0, 8)}`, member: "ann" });
  });
  after(() => heed?.stop());

  it("sends the hash, then the document once; later clients send only the hash", async () => {
    const sent = [];
    const first = persistedClient(heed, token, sent);
    const { data } = await first.query({ query: VIEWER });
    assert.equal(data.viewer.member.id, "ann");
    assert.equal(sent.length, 2);
    assert.equal(sent[0].body.query, undefined);
    assert.equal(sent[1].body.query, print(asSent(VIEWER)));
    assert.equal(sent[0].body.extensions.persistedQuery.sha256Hash, sha256(sent[1].body.query));

    const later = [];
    const second = persistedClient(heed, token, later);
    assert.equal((await second.query({ query: VIEWER })).data.viewer.member.id, "ann");
    assert.equal(later.length, 1);
    assert.equal(later[0].body.query, undefined);
  });

  it("uses GET with the hash, and content answers carry an ETag that a 304 honours", async () => {
    const sent = [];
    const client = persistedClient(heed, token, sent, { useGETForHashedQueries: true });
    const { data } = await client.query({ query: HELP, variables: { context: "dashboard" } });
    assert.ok(data.help.length > 0);
    assert.equal(sent[0].method, "GET");
    assert.match(sent[0].url, /extensions=/);
    assert.doesNotMatch(sent[0].url, /query=/);

    const again = [];
    const other = persistedClient(heed, token, again, { useGETForHashedQueries: true });
    await other.query({ query: HELP, variables: { context: "dashboard" } });
    assert.deepEqual(again.map((r) => r.method), ["GET"]);

    const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
    const answer = await fetch(again[0].url, { headers });
    assert.equal(answer.status, 200);
    const etag = answer.headers.get("etag");
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    assert.equal(answer.headers.get("cache-control"), "private, no-cache");
    const revalidated = await fetch(again[0].url, { headers: { ...headers, "if-none-match": etag } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.headers.get("etag"), etag);
    assert.equal(await revalidated.text(), "");
  });
});

describe("trusted documents", () => {
  let heed, token;

  before(async () => {
    // The manifest as Apollo's generate-persisted-query-manifest writes it.
    const operations = [RELEASE, HELP].map((document) => {
      const body = print(asSent(document));
      const definition = document.definitions[0];
      return { id: sha256(body), name: definition.name.value, type: definition.operation, body };
    });
    const folder = mkdtempSync(join(tmpdir(), "heed-manifest-"));
    const manifest = join(folder, "persisted-query-manifest.json");
    writeFileSync(manifest, JSON.stringify({ format: "apollo-persisted-query-manifest", version: 1, operations }));
    heed = await startHeed({ env: { HEED_TRUSTED_DOCUMENTS: manifest } });
    token = heed.token({ org: `trusted-${randomUUID().slice(0, 8)}`, member: "ann" });
  });
  after(() => heed?.stop());

  it("runs a registered document from its hash alone", async () => {
    const sent = [];
    const client = persistedClient(heed, token, sent);
    const { data } = await client.query({ query: RELEASE });
    assert.ok(data.release.number >= 1);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].body.query, undefined);
  });

  it("refuses a document that is not registered, even sent in full", async () => {
    const sent = [];
    const client = persistedClient(heed, token, sent);
    await assert.rejects(client.query({ query: VIEWER }), /runs only registered documents/);
    assert.equal(sent.length, 2); // the hash, then the full document: both refused

    const plain = await heed.graphql(token, "{ viewer { member { id } } }");
    assert.equal(plain.data, undefined);
    assert.equal(plain.errors[0].extensions.code, "DOCUMENT_NOT_TRUSTED");
  });
});
