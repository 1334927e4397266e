// What a front end writes against the generated types: it compiles under `tsc --strict`, and
// the `@ts-expect-error` lines prove that mistakes do not (if a field fell back to `any`,
// those lines would compile, and tsc would fail on the unused expectation).
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";

import {
  CompleteStepDocument,
  ContentItemDocument,
  HomeDocument,
  ProgressChangedDocument,
  TeamOverviewDocument,
  type FlowState,
  type HomeQuery,
  type ItemFieldsFragment,
  type ProgressChangedSubscription,
  type StepFieldsFragment,
  type TeamOverviewQuery,
} from "../generated/operations";

/** Any GraphQL client's `execute`, typed by the document it is given. */
declare function execute<Result, Variables>(
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
): Promise<Result>;

const STATE_LABELS: Record<FlowState, string> = {
  NOT_STARTED: "Not started",
  IN_PROGRESS: "In progress",
  COMPLETED: "Done",
  DISMISSED: "Dismissed",
};

export function stepButton(step: StepFieldsFragment): string | null {
  // @ts-expect-error: a typo in a field name does not compile
  void step.cta?.lable;
  // @ts-expect-error: a status outside StepStatus does not compile
  if (step.status === "FINISHED") return null;
  return step.cta ? `${step.cta.label} → ${step.cta.url}` : null;
}

export function tooltipSide(step: StepFieldsFragment): "auto" | "top" | "right" | "bottom" | "left" {
  const placement = step.tour?.placement ?? "AUTO";
  switch (placement) {
    case "AUTO":
      return "auto";
    case "TOP":
      return "top";
    case "RIGHT":
      return "right";
    case "BOTTOM":
      return "bottom";
    case "LEFT":
      return "left";
  }
}

export async function checklist(): Promise<string[]> {
  const home: HomeQuery = await execute(HomeDocument, {});
  return home.flows.map((flow) => `${flow.title}: ${STATE_LABELS[flow.state]}`);
}

export function describeItem(item: ItemFieldsFragment): string {
  // @ts-expect-error: questions exist only on surveys
  void item.questions;
  switch (item.__typename) {
    case "Survey":
      return item.questions.map((q) => `${q.type}: ${q.prompt}`).join("\n");
    case "Announcement":
      return `${item.title} (${item.starts ?? "now"} – ${item.ends ?? "open-ended"})`;
    case "ContentDocument":
    case "FlowContent":
      return item.title;
  }
}

export async function everyMember(): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page: TeamOverviewQuery = await execute(TeamOverviewDocument, { first: 100, after });
    const members = page.organization?.members;
    if (!members) return ids;
    ids.push(...members.edges.map((edge) => edge.node.member.id));
    if (!members.pageInfo.hasNextPage) return ids;
    after = members.pageInfo.endCursor;
  }
}

export async function complete(flowId: string, stepId: string): Promise<boolean> {
  const { completeStep } = await execute(CompleteStepDocument, {
    input: { flowId, stepId, idempotencyKey: `${flowId}/${stepId}` },
  });
  // @ts-expect-error: error codes are the ErrorCode enum
  if (completeStep.userErrors.some((e) => e.code === "LOCKED")) return false;
  return completeStep.userErrors.length === 0;
}

export async function survey(id: string): Promise<number> {
  const { contentItem } = await execute(ContentItemDocument, { id, locale: null });
  return contentItem?.__typename === "Survey" ? contentItem.questions.length : 0;
}

export async function* progress(): AsyncGenerator<string> {
  const { progressChanged } = await execute(ProgressChangedDocument, {});
  yield onProgress(progressChanged);
}

export function onProgress(event: ProgressChangedSubscription["progressChanged"]): string {
  // @ts-expect-error: actions are the ProgressAction enum
  if (event.action === "completed") return "";
  return event.stepId === null ? `${event.flowId} reset` : `${event.stepId} ${event.action}`;
}
