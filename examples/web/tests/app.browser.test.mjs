// The example app in Debian's Chromium against a real Heed: two members of one organization
// in two browser contexts, live updates without reload, locale switch, a refused token.
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { browserMissing, launch, serveApp } from "./support/browser.mjs";
import { startHeed } from "./support/heed.mjs";

const missing = browserMissing();

function tokenSignedWithAnotherSecret() {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${part({ alg: "HS256", typ: "JWT" })}.${part({
    sub: "mallory",
    org: "acme",
    exp: Math.floor(Date.now() / 1000) + 3600,
  })}`;
  const signature = createHmac("sha256", "not-the-secret-" + "q".repeat(32)).update(body).digest("base64url");
  return `${body}.${signature}`;
}

describe("example app in Chromium", { skip: missing ?? false }, () => {
  let heed, app, browser;
  const org = `acme-${randomUUID().slice(0, 8)}`;
  let annToken, bobToken;

  before(async () => {
    heed = await startHeed();
    app = await serveApp(heed.url);
    browser = await launch();
    annToken = heed.token({ org, member: "ann", roles: ["reception"], name: "Ann Lee" });
    bobToken = heed.token({ org, member: "bob", roles: ["billing"], name: "Bob Stone" });
  });

  after(async () => {
    await browser?.close();
    app?.stop();
    await heed?.stop();
  });

  async function openAs(token) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${app.url}/?token=${token}`);
    await page.locator('[data-testid="live"][data-live="true"]').waitFor();
    await page.locator('article[data-flow="reception-setup"]').waitFor();
    return page;
  }

  it("one member asks another for help; the step done by the other updates the first without reload", async () => {
    const bob = await openAs(bobToken); // Bob is known to Heed once he has signed in
    const ann = await openAs(annToken);
    await ann.evaluate(() => (window.__sameDocument = true));

    const annCard = ann.locator('article[data-flow="reception-setup"] li[data-step="add-card"]');
    await assert.doesNotReject(annCard.locator("text=Bob Stone").first().waitFor());
    assert.equal(await annCard.getAttribute("data-status"), "NEEDS_ROLE");
    assert.match(await annCard.innerText(), /billing, admin/);

    await annCard.locator("input").fill("Could you add the company card? Thanks!");
    await annCard.locator('button[type="submit"]').click();
    await annCard.locator('[data-testid="asked"]').waitFor();
    assert.match(await annCard.locator('[data-testid="asked"]').innerText(), /Bob Stone/);

    // Bob's page hears of the request live and shows the message.
    const requests = bob.locator('[data-testid="requests-for-me"]');
    await requests.waitFor();
    assert.match(await requests.innerText(), /Could you add the company card\? Thanks!/);
    assert.match(await requests.innerText(), /Ann Lee/);

    const bobCard = bob.locator('article[data-flow="reception-setup"] li[data-step="add-card"]');
    await bobCard.locator("button", { hasText: "Mark done" }).click();
    await bob.locator('article[data-flow="reception-setup"] li[data-step="add-card"][data-status="DONE"]').waitFor();

    // Ann's page follows without a reload.
    await ann.locator('article[data-flow="reception-setup"] li[data-step="add-card"][data-status="DONE"]').waitFor();
    assert.equal(await ann.evaluate(() => window.__sameDocument), true);
    await bob.context().close();
    await ann.context().close();
  });

  it("a member skips a step and can still do it later", async () => {
    const ann = await openAs(annToken);
    const step = ann.locator('article[data-flow="first-visitor"] li[data-step="open-dashboard"]');
    await step.locator("button", { hasText: "Skip for now" }).click();
    await ann.locator('article[data-flow="first-visitor"] li[data-step="open-dashboard"][data-status="SKIPPED"]').waitFor();
    await step.locator("button", { hasText: "Mark done" }).click();
    await ann.locator('article[data-flow="first-visitor"] li[data-step="open-dashboard"][data-status="DONE"]').waitFor();
    await ann.context().close();
  });

  it("switching the locale shows the other language everywhere", async () => {
    const ann = await openAs(annToken);
    const expected = await heed.graphql(
      annToken,
      `query($l: String!) { flows(locale: $l) { id title steps { id title } }
                            help(context: "dashboard", locale: $l, first: 3) { title } }`,
      { l: "ru" },
    );
    const english = await ann.locator('[data-testid="flow-title"]').allInnerTexts();
    await ann.locator('[data-testid="locale"]').selectOption("ru");
    await ann.locator("h1", { hasText: "Ваш онбординг" }).waitFor();
    const titles = await ann.locator('[data-testid="flow-title"]').allInnerTexts();
    assert.deepEqual(titles, expected.data.flows.map((flow) => flow.title));
    assert.notDeepEqual(titles, english);
    for (const title of titles) assert.match(title, /[а-яё]/i, `${title} is not Russian`);
    const steps = await ann.locator('[data-testid="step-title"]').allInnerTexts();
    assert.deepEqual(steps, expected.data.flows.flatMap((flow) => flow.steps.map((s) => s.title)));
    const statuses = await ann.locator('[data-testid="status"]').allInnerTexts();
    assert.ok(statuses.every((s) => /[а-яё]/i.test(s)), statuses.join(", "));
    const help = await ann.locator('[data-testid="help"] strong').allInnerTexts();
    assert.deepEqual(help, expected.data.help.map((item) => item.title));
    await ann.locator('[data-testid="search"]').fill("бейдж");
    await ann.locator('[data-testid="search-results"] li').first().waitFor();
    const hits = await ann.locator('[data-testid="search-results"] strong').allInnerTexts();
    assert.ok(hits.length > 0 && hits.every((h) => /[а-яё]/i.test(h)), hits.join(", "));
    await ann.context().close();
  });

  it("a refused token shows a clear message", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${app.url}/?token=${tokenSignedWithAnotherSecret()}`);
    const alert = page.locator('[data-testid="auth-error"]');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Heed refused your session token: token signature does not verify/);
    await context.close();
  });
});
