// The `any` check must catch what it is for: a field of Heed's data typed `any`.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { findAny } from "../check-no-any.mjs";

function generated(text) {
  const file = join(mkdtempSync(join(tmpdir(), "heed-any-")), "graphql.ts");
  writeFileSync(file, text);
  return file;
}

test("an untyped field of a schema type is found, the open ones are not", () => {
  const file = generated(`
    export type Maybe<T> = T | null;
    export type Scalars = { JSON: { input: any; output: any } };
    export type CallToAction = { label: string; url: string };
    export type Step = {
      bodyTree: Scalars['JSON']['output'];
      cta: Maybe<Scalars['JSON']['output']>;
      button: Maybe<CallToAction>;
    };
    export type TrackInput = { properties?: Maybe<Scalars['JSON']['input']> };
  `);
  assert.deepEqual(findAny(file), ["Step.cta at Step.cta"]);
});

test("an untyped field deep in an operation's result is found by name", () => {
  const file = generated(`
    export type HomeQuery = {
      readonly flows: ReadonlyArray<{
        readonly steps: ReadonlyArray<{ readonly bodyTree: any; readonly tour: any | null }>;
      }>;
    };
  `);
  assert.deepEqual(findAny(file), ["(selection).tour at HomeQuery.flows[].steps[].tour"]);
});

test("index signatures and nested schema types are walked", () => {
  const file = generated(`
    export type Attributes = { [name: string]: any };
    export type Member = { id: string; attributes: Attributes };
  `);
  assert.deepEqual(findAny(file), ["Attributes.[key] at Attributes[key]"]);
});
