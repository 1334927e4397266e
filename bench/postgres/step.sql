-- One step change as the write unit sends it (see README.md here).
\set o random(1, 1000)
\set s random(1, 8)
BEGIN;
UPDATE org SET v = v + 1 WHERE id = :o RETURNING v, owner;
SELECT 's', member, step, state FROM mark WHERE org = :o AND member = 'm1' UNION ALL SELECT 'm', ext, name, roles FROM member WHERE org = :o;
WITH w0 AS (INSERT INTO mark VALUES (:o, 'm1', 'f', 's' || :s, 'done', now()) ON CONFLICT (org, member, flow, step) DO UPDATE SET state = excluded.state, at = excluded.at), w1 AS (INSERT INTO event (org, member, type, props, at) VALUES (:o, 1, 'step.completed', '{"a":1}', now()), (:o, 1, 'flow.progressed', '{"b":2}', now())) SELECT pg_notify('progress', 'payload of some length');
COMMIT;
