"""Writers preview drafts as a member they describe: every query answers as that member
would see it, their stored progress included, and nothing is written."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson

from api.content.store import publish
from api.db import open_database, using
from api.db.models import StepState
from api.settings import Settings
from tests.conftest import TEST_ADMIN_KEY, auth, graphql, running_app, unique
from tests.test_content_api import copy_pack

DRAFT_FLOW = """---
id: beta-rollout
kind: flow
title: Roll out the beta
summary: Two steps for the billing team.
phase: explore
draft: true
audience:
  roles: [billing, office_manager]
---

## Turn on invoices {#invoices}

```step
roles: [billing]
```

Switch invoices on.

## Tell the team {#announce}

Post in the team channel.
"""
FLOWS = "{ flows { id steps { id status } } }"


async def test_a_described_member_sees_drafts_as_they_would(
    fresh_database_url: str, settings: Settings, tmp_path: Path
) -> None:
    root = copy_pack(tmp_path)
    (root / "flows" / "beta-rollout.md").write_text(DRAFT_FLOW)
    database = await open_database(fresh_database_url, migrate=False)
    try:
        with using(database):
            await publish(root)
    finally:
        await database.close_connections()
    org = unique("preview")
    dana = auth(org, "dana", ("billing",))
    app_settings = replace(settings, database_url=fresh_database_url, content_dir=root)
    async with running_app(app_settings) as (app, client):
        await graphql(
            client,
            'mutation { skipStep(input: {flowId: "reception-setup", stepId: "add-card"}) '
            "{ userErrors { code } } }",
            dana,
        )
        published = await graphql(client, FLOWS, dana)
        assert "beta-rollout" not in [f["id"] for f in published["data"]["flows"]]

        def preview(claims: dict[str, object]) -> dict[str, str]:
            return {
                "x-heed-admin-key": TEST_ADMIN_KEY,
                "x-heed-preview": "drafts",
                "x-heed-preview-member": orjson.dumps(claims).decode(),
            }

        as_dana = await graphql(
            client, FLOWS, preview({"org": org, "sub": "dana", "roles": ["billing"]})
        )
        flows = {f["id"]: f for f in as_dana["data"]["flows"]}
        assert [s["status"] for s in flows["beta-rollout"]["steps"]] == ["AVAILABLE", "AVAILABLE"]
        add_card = next(s for s in flows["reception-setup"]["steps"] if s["id"] == "add-card")
        assert add_card["status"] == "SKIPPED", "the member's stored progress shows"

        newcomer = preview({"org": unique("new"), "sub": "zoe", "roles": ["office_manager"]})
        as_newcomer = await graphql(client, FLOWS, newcomer)
        beta = next(f for f in as_newcomer["data"]["flows"] if f["id"] == "beta-rollout")
        assert [s["status"] for s in beta["steps"]] == ["NEEDS_ROLE", "AVAILABLE"]
        outsider = preview({"org": org, "sub": "eve", "roles": ["legal"]})
        ids = [f["id"] for f in (await graphql(client, FLOWS, outsider))["data"]["flows"]]
        assert "beta-rollout" not in ids, "the audience rules apply to the described member"
        help_for_billing = '{ help(context: "settings.billing") { id } }'
        shown = await graphql(client, help_for_billing, newcomer)
        assert "add-company-card" not in [i["id"] for i in shown["data"]["help"]]

        with using(app.state.runtime.database):
            written = await StepState.filter(organization__external_id=org).count()
        refused = await graphql(
            client,
            'mutation { completeStep(input: {flowId: "beta-rollout", stepId: "announce"}) '
            "{ userErrors { code } } }",
            preview({"org": org, "sub": "dana", "roles": ["billing"]}),
        )
        assert refused["data"]["completeStep"]["userErrors"] == [{"code": "FORBIDDEN"}]
        with using(app.state.runtime.database):
            assert await StepState.filter(organization__external_id=org).count() == written

        bad = await client.post(
            "/graphql",
            json={"query": FLOWS},
            headers={**preview({}), "x-heed-preview-member": "not json"},
        )
        assert bad.status_code == 400
        assert "X-Heed-Preview-Member" in bad.text
        no_drafts = await client.post(
            "/graphql",
            json={"query": FLOWS},
            headers={
                "x-heed-admin-key": TEST_ADMIN_KEY,
                "x-heed-preview-member": '{"org": "a", "sub": "b"}',
            },
        )
        assert no_drafts.status_code == 400
