// GraphiQL as Heed serves it, offline: every request the page makes goes to Heed itself; the
// development token is in the Headers tab; a query runs; a subscription receives an event.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { browserMissing, launch } from "./support/browser.mjs";
import { startHeed } from "./support/heed.mjs";

const missing = browserMissing();

describe("GraphiQL in Chromium", { skip: missing ?? false }, () => {
  let heed, browser, context, page, token;
  const outside = [];

  before(async () => {
    heed = await startHeed();
    token = heed.output().match(/export TOKEN=(\S+)/)[1];
    browser = await launch();
    context = await browser.newContext();
    // Any request leaving Heed's origin is recorded and refused: the page must not need it.
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(heed.url) || url.startsWith(heed.url.replace("http", "ws"))) {
        return route.continue();
      }
      outside.push(url);
      return route.abort();
    });
    page = await context.newPage();
    await page.goto(`${heed.url}/graphql`);
  });

  after(async () => {
    await browser?.close();
    await heed?.stop();
  });

  it("renders from Heed's own assets, with the Heed example query and the token in Headers", async () => {
    await page.locator(".graphiql-container").waitFor();
    const editor = await page.locator(".graphiql-query-editor").innerText();
    assert.match(editor, /query Onboarding/);
    await page.getByRole("button", { name: /headers/i }).first().click();
    const headers = await page.locator(".graphiql-editor-tool").innerText();
    assert.match(headers.replace(/\s+/g, ""), new RegExp(`"Authorization":"Bearer${token.slice(0, 20)}`));
    assert.deepEqual(outside, []);
  });

  it("runs a query", async () => {
    await page.locator(".graphiql-execute-button").click();
    // The result pane renders the lines in view: the top of the answer.
    await page.locator(".graphiql-response").getByText('"dev"').first().waitFor();
    const response = await page.locator(".graphiql-response").innerText();
    assert.match(response, /"viewer"/);
    assert.match(response, /"name": "Demo Inc."/);
  });

  it("runs a subscription authenticated in connection_init, and receives an event", async () => {
    await page.locator(".graphiql-tab").nth(1).click();
    assert.match(await page.locator(".graphiql-query-editor").innerText(), /subscription Progress/);
    await page.locator(".graphiql-execute-button").click();
    // The subscription is open once the server counts it.
    const deadline = Date.now() + 30_000;
    while (!/^heed_open_subscriptions 1\.0$/m.test(await (await fetch(`${heed.url}/metrics`)).text())) {
      if (Date.now() > deadline) {
        const pane = await page.locator(".graphiql-response").innerText();
        throw new Error(`the subscription never started; the result pane shows: ${pane}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const done = await heed.graphql(
      token,
      `mutation { completeStep(input: {flowId: "reception-setup", stepId: "create-account"}) {
         userErrors { code } } }`,
    );
    assert.deepEqual(done.data.completeStep.userErrors, []);
    await page.locator(".graphiql-response").getByText('"create-account"').first().waitFor();
    assert.match(await page.locator(".graphiql-response").innerText(), /"action": "COMPLETED"/);
    assert.deepEqual(outside, []);
  });
});
