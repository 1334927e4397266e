// Schema lint for schema.graphql: graphql-eslint's schema rules (recommended and Relay) and
// Heed's own conventions (lint/heed-rules.mjs). Run from the repository root:
//   tools/codegen/node_modules/.bin/eslint --config tools/codegen/eslint.config.mjs schema.graphql
import { fileURLToPath } from "node:url";

import graphql from "@graphql-eslint/eslint-plugin";

import heed from "./lint/heed-rules.mjs";

const SCHEMA = new URL("../../schema.graphql", import.meta.url);

// Open data a client cannot type: the only fields allowed to be JSON.
const OPEN_JSON = [
  "ContentItem.bodyTree",
  "ContentDocument.bodyTree",
  "FlowContent.bodyTree",
  "Survey.bodyTree",
  "Announcement.bodyTree",
  "Step.bodyTree",
  "ContentStep.bodyTree", // a flow's step as written (the content API on main)
  "TrackInput.properties",
  "WebhookCatalogueEntry.schema", // a JSON Schema document, open by nature
  "SurveyAnswer.value", // an NPS or CSAT number, an option, options or a text
  "SurveyAnswerInput.value",
];

// Lists of objects that stay small whatever the organization's size, with the reason; every
// other list of objects must be a connection.
const BOUNDED_LISTS = {
  "*.userErrors": "what went wrong with one mutation",
  "Query.flows": "the flows content writers published for the viewer",
  "Query.help": "`first` items for one screen (at most 100)",
  "Query.searchHelp": "the `first` best hits (at most 100)",
  "Flow.steps": "one flow's steps, written by content writers",
  "FlowContent.steps": "one flow's steps, written by content writers",
  "FlowProgress.blocked": "steps of one flow",
  "Survey.questions": "one survey's questions, written by content writers",
  "Step.candidates": "the holders of one step's roles, to invite (fixed by the API contract)",
  "UserError.candidates": "the holders of one step's roles, to invite",
  "TrackPayload.completedSteps": "the steps one app event completed",
  "Viewer.helpRequests": "open requests addressed to one member (fixed by the API contract)",
  "Viewer.sentHelpRequests": "the requests one member sent",
  "Query.webhookEndpoints": "an operator's webhook endpoints: a handful per deployment",
  "Query.webhookEventTypes": "the event catalogue, written by Heed's developers",
  "Query.nextUp": "at most a surface's limit of items (a handful)",
  "Viewer.badges": "the badges one member earned, written by content writers",
  "CsatScore.distribution": "the five CSAT scores",
  "QuestionResults.choices": "one question's options, written by content writers",
  "QuestionResults.latestTexts": "the newest 20 text answers",
  "SurveyResponse.answers": "one response's answers, one per question",
  "SurveyResults.questions": "one survey's questions, written by content writers",
  "SurveyResults.organizations": "admin key only; the organizations that answered in the range",
  "Organization.milestones": "the success plan's milestones, written by content writers",
  "OrganizationInsight.milestones": "the success plan's milestones, written by content writers",
  "OrganizationInsight.atRisk": "of the success plan's milestones, those at risk or overdue",
  "MoveMilestoneTargetPayload.milestones": "the success plan's milestones, written by content writers",
  "Milestone.kpis": "the KPI events one milestone names in content",
  "Health.components": "the five components of the health formula",
  "Funnel.steps": "one flow's steps, written by content writers",
  "Insights.activationByWeek": "weeks of one range, which is at most a year (53 weeks)",
};

export default [
  {
    files: ["schema.graphql"],
    languageOptions: {
      parser: graphql.parser,
      // The Relay rules read the committed schema (Heed's own rules read the linted file).
      parserOptions: { graphQLConfig: { schema: fileURLToPath(SCHEMA) } },
    },
    plugins: { "@graphql-eslint": graphql, heed },
    rules: {
      ...graphql.configs["flat/schema-recommended"].rules,
      ...graphql.configs["flat/schema-relay"].rules,
      // Heed's ids are the host product's and the writers' ids, named for what they identify
      // (`flowId`, `stepId`): not every type has an `id`.
      "@graphql-eslint/strict-id-in-types": "off",
      // Forward pagination only; nodes are not global `Node`s (ids are the host's own).
      "@graphql-eslint/relay-arguments": ["error", { includeBoth: false }],
      // Every type, enum and input says what it is for (root fields: heed/root-fields-are-described);
      // the root types need not.
      "@graphql-eslint/require-description": [
        "error",
        {
          types: true,
          ignoredSelectors: ["[type=ObjectTypeDefinition][name.value=/^(Query|Mutation|FlowsSubscription)$/]"],
        },
      ],
      "@graphql-eslint/relay-edge-types": [
        "error",
        { withEdgeSuffix: true, shouldImplementNode: false, listTypeCanWrapOnlyEdgeType: false },
      ],
      "heed/closed-sets-are-enums": [
        "error",
        {
          names: "^(status|state|action|kind|type|phase|scope|placement|severity|level)$|(Status|State|Kind|Action|Placement)$",
          // An object named for what it holds: the viewer's marks on one item.
          allowed: ["ItemStatePayload.state"],
        },
      ],
      "heed/dates-are-datetime": ["error", { names: "(At|Date)$|^(starts|ends|since|until)$" }],
      "heed/json-only-where-open": ["error", { open: OPEN_JSON }],
      "heed/lists-are-connections": ["error", { bounded: BOUNDED_LISTS }],
      "heed/root-fields-are-described": "error",
    },
  },
];
