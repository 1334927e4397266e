// Normalized client caches against a real Heed: the same flow in two locales, two flows that
// share a step id, and a content item in two locales must never show one for the other
// once the published cache configuration (src/cache.js) is used.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { Client, fetchExchange } from "@urql/core";
import { cacheExchange } from "@urql/exchange-graphcache";
import { heedGraphcacheKeys, heedTypePolicies } from "../src/cache.js";
import { startHeed } from "./support/heed.mjs";
import { SHARED_STEP_FLOW } from "./support/shared-step-flow.mjs";

const FLOW = gql`
  query Flow($id: ID!, $locale: String!) {
    flow(id: $id, locale: $locale) { id locale title steps { id title status } }
  }
`;
const FLOWS = gql`
  query Flows($locale: String!) {
    flows(locale: $locale) { id locale title steps { id title status } }
  }
`;
const ITEM = gql`
  query Item($id: ID!, $locale: String!) {
    contentItem(id: $id, locale: $locale) { id requestedLocale revision locale title }
  }
`;

let heed, token;
const truth = {};

before(async () => {
  heed = await startHeed({ extraContent: SHARED_STEP_FLOW });
  token = heed.token({ org: `cache-${randomUUID().slice(0, 8)}`, member: "ann" });
  for (const locale of ["en", "ru"]) {
    const flows = await heed.graphql(token, FLOWS.loc.source.body, { locale });
    const item = await heed.graphql(token, ITEM.loc.source.body, { id: "checking-in-visitors", locale });
    truth[locale] = { flows: flows.data.flows, item: item.data.contentItem };
  }
});

after(() => heed?.stop());

function expectedFlow(locale, id) {
  return truth[locale].flows.find((flow) => flow.id === id);
}

describe("the test data", () => {
  it("has what could be mixed up", () => {
    assert.notEqual(expectedFlow("en", "reception-setup").title, expectedFlow("ru", "reception-setup").title);
    const tour = expectedFlow("en", "team-tour").steps.find((s) => s.id === "open-dashboard");
    const visit = expectedFlow("en", "first-visitor").steps.find((s) => s.id === "open-dashboard");
    assert.notEqual(tour.title, visit.title);
    assert.notEqual(truth.en.item.title, truth.ru.item.title);
  });
});

const apolloLink = () =>
  new HttpLink({ uri: `${heed.url}/graphql`, headers: { authorization: `Bearer ${token}` } });

/** Every read, in an order that overwrites entries a bad cache key would share. */
async function readEverything(read) {
  const seen = [];
  for (const locale of ["en", "ru", "en"]) {
    seen.push(["flow", locale, await read(FLOW, { id: "reception-setup", locale })]);
    seen.push(["flows", locale, await read(FLOWS, { locale })]);
    seen.push(["item", locale, await read(ITEM, { id: "checking-in-visitors", locale })]);
  }
  // Once more, from the cache alone where the client allows it.
  for (const locale of ["ru", "en"]) {
    seen.push(["flow", locale, await read(FLOW, { id: "reception-setup", locale }, true)]);
    seen.push(["flows", locale, await read(FLOWS, { locale }, true)]);
    seen.push(["item", locale, await read(ITEM, { id: "checking-in-visitors", locale }, true)]);
  }
  return seen;
}

function checkReads(seen) {
  for (const [what, locale, data] of seen) {
    if (what === "flow") {
      assert.deepEqual(strip(data.flow), strip(expectedFlow(locale, "reception-setup")), `flow ${locale}`);
    } else if (what === "flows") {
      assert.deepEqual(data.flows.map(strip), truth[locale].flows.map(strip), `flows ${locale}`);
    } else {
      assert.deepEqual(strip(data.contentItem), strip(truth[locale].item), `item ${locale}`);
    }
  }
}

/** Plain data without client bookkeeping (__typename). */
function strip(value) {
  return JSON.parse(JSON.stringify(value, (key, v) => (key === "__typename" ? undefined : v)));
}

describe("Apollo Client InMemoryCache", () => {
  it("with Heed's typePolicies, never shows one locale or flow for another", async () => {
    const client = new ApolloClient({
      link: apolloLink(),
      cache: new InMemoryCache({ typePolicies: heedTypePolicies }),
    });
    const read = async (query, variables, cacheOnly) =>
      (await client.query({ query, variables, fetchPolicy: cacheOnly ? "cache-only" : "cache-first" })).data;
    checkReads(await readEverything(read));
  });

  it("without them, mixes data up (why the configuration exists)", async () => {
    const client = new ApolloClient({ link: apolloLink(), cache: new InMemoryCache() });
    const read = async (query, variables, cacheOnly) =>
      (await client.query({ query, variables, fetchPolicy: cacheOnly ? "cache-only" : "cache-first" })).data;
    await assert.rejects(async () => checkReads(await readEverything(read)), assert.AssertionError);
  });
});

describe("urql graphcache", () => {
  function urqlClient(keys) {
    return new Client({
      url: `${heed.url}/graphql`,
      fetchOptions: { headers: { authorization: `Bearer ${token}` } },
      exchanges: [cacheExchange({ keys }), fetchExchange],
    });
  }

  it("with Heed's keys, never shows one locale or flow for another", async () => {
    const client = urqlClient(heedGraphcacheKeys);
    const read = async (query, variables, cacheOnly) => {
      const result = await client
        .query(query, variables, { requestPolicy: cacheOnly ? "cache-only" : "cache-first" })
        .toPromise();
      assert.equal(result.error, undefined);
      return result.data;
    };
    checkReads(await readEverything(read));
  });
});
