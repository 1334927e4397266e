// A second flow whose first step has the same id as a step of the demo's `first-visitor`
// flow (step ids are unique only within their flow), with a different title.
export const SHARED_STEP_FLOW = {
  "flows/team-tour.md": `---
id: team-tour
kind: flow
title: Show your team around
summary: The tour for colleagues who join after the setup.
phase: explore
scope: user
tags: [team]
---

A short tour for new colleagues.

## Find today's visitors on the dashboard {#open-dashboard}

\`\`\`step
cta: {label: Go to dashboard, url: /dashboard}
\`\`\`

Today's visitors are listed on the dashboard.

## Invite a colleague {#invite-colleague}

\`\`\`step
requires: [open-dashboard]
\`\`\`

Invite one more colleague.
`,
};
