// Heed's schema rules fire on the fields they are for, and stay quiet on conforming ones.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { ESLint } from "eslint";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");

async function heedProblems(sdl) {
  const eslint = new ESLint({ cwd: root, overrideConfigFile: join(here, "..", "eslint.config.mjs") });
  const [result] = await eslint.lintText(sdl, { filePath: join(root, "schema.graphql") });
  return result.messages
    .filter((m) => m.ruleId?.startsWith("heed/") || m.fatal)
    .map((m) => `${m.ruleId}: ${m.message.split(":")[0]}`);
}

const SCHEMA = (organization) => `
  """An open value."""
  scalar JSON
  """A moment."""
  scalar DateTime
  """Where a help request stands."""
  enum HelpRequestStatus { OPEN DONE }
  """A member."""
  type Member { id: ID! }
  """A page position."""
  type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
  """An edge."""
  type MemberEdge { cursor: String! node: Member! }
  """A page of members."""
  type MemberConnection { edges: [MemberEdge!]! pageInfo: PageInfo! totalCount: Int! }
  """An organization."""
  type Organization { id: ID! ${organization} }
  type Query {
    """The organization."""
    organization: Organization
  }
`;

test("a conforming organization passes", async () => {
  const problems = await heedProblems(
    SCHEMA(`status: HelpRequestStatus! createdAt: DateTime!
            members(first: Int, after: String): MemberConnection!`),
  );
  assert.deepEqual(problems, []);
});

test("strings for closed sets and dates, JSON shapes and plain lists are refused", async () => {
  const problems = await heedProblems(
    SCHEMA(`status: String! createdAt: String! settings: JSON members: [Member!]!`),
  );
  assert.deepEqual(problems, [
    "heed/closed-sets-are-enums: Organization.status names a closed set of values",
    "heed/dates-are-datetime: Organization.createdAt is a moment",
    "heed/json-only-where-open: Organization.settings is JSON",
    "heed/lists-are-connections: Organization.members is a list of Member",
  ]);
});

test("root fields need a description", async () => {
  const problems = await heedProblems(
    SCHEMA("name: String").replace('"""The organization."""', ""),
  );
  assert.deepEqual(problems, ["heed/root-fields-are-described: Query.organization needs a description"]);
});
