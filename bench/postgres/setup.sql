-- Tables shaped like Heed's, for bench/postgres/step.sql (see README.md there).
CREATE TABLE org (id int PRIMARY KEY, v int NOT NULL DEFAULT 0, owner int);
INSERT INTO org SELECT g, 0, NULL FROM generate_series(1, 1000) g;
CREATE TABLE mark (
    org int, member text, flow text, step text, state text, at timestamptz,
    PRIMARY KEY (org, member, flow, step)
);
CREATE TABLE member (pk serial PRIMARY KEY, org int, ext text, name text, roles text);
INSERT INTO member (org, ext, name, roles)
    SELECT o, 'm' || o || '_' || i, 'Name', 'billing'
    FROM generate_series(1, 1000) o, generate_series(1, 10) i;
CREATE INDEX ON member (org);
CREATE TABLE event (pk bigserial PRIMARY KEY, org int, member int, type text, props jsonb, at timestamptz);
CREATE INDEX ON event (org, at);
