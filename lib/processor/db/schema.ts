/**
 * Schema migrations, applied in order under an advisory lock. Each runs once (recorded in
 * schema_migrations) and is idempotent in itself, so a crash mid-way is safe to repeat.
 */
import { API_DB_USER, AUDITOR_DB_USER, DRILL_DB_USER, PROCESSOR_DB_USER, WRITER_ROLE } from '../../contract/processor';

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

// The database roles are part of the environment contract (the stacks grant rds-db:connect to them).
export { API_DB_USER, AUDITOR_DB_USER, DRILL_DB_USER, PROCESSOR_DB_USER, WRITER_ROLE };
/** Row counts and newest timestamps per table, as of a cutoff: aggregates only, never a row. */
export const RESTORE_DRILL_FUNCTION = 'restore_drill_summary';
/**
 * The session setting in which a connection keeps the head of its audit chain (`<chain id>:<seq>:<hash hex>`);
 * a plain SET, so a rolled-back transaction takes its rows' links back with it.
 */
export const AUDIT_CHAIN_HEAD_SETTING = 'audit_chain.head';
/**
 * The canonical serialization of an audit_event row that its chain hash covers: every column but the
 * two hashes, as jsonb text (keys in jsonb's fixed order) with nulls left out, timestamps in UTC. A
 * nullable column added later is null in every older row, so it leaves their hashes unchanged.
 */
export const AUDIT_CANONICAL_SQL = (row: string) => `jsonb_strip_nulls(to_jsonb(${row}) - 'chain_prev' - 'chain_hash')::text`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'FHIR resources (history + current), quarantine, audit, checkpoints, leases',
    sql: `
CREATE TABLE IF NOT EXISTS fhir_resource_history (
  resource_type   text        NOT NULL,
  resource_id     text        NOT NULL,
  version_id      text        NOT NULL,
  last_updated    timestamptz NOT NULL,
  patient_id      text        NOT NULL,
  resource        jsonb       NOT NULL,
  stream_name     text        NOT NULL,
  shard_id        text        NOT NULL,
  sequence_number text        NOT NULL,
  ingested_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (resource_type, resource_id, version_id)
);
CREATE TABLE IF NOT EXISTS fhir_resource_current (
  resource_type   text        NOT NULL,
  resource_id     text        NOT NULL,
  version_id      text        NOT NULL,
  last_updated    timestamptz NOT NULL,
  patient_id      text        NOT NULL,
  resource        jsonb       NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (resource_type, resource_id)
);
CREATE INDEX IF NOT EXISTS fhir_resource_current_patient ON fhir_resource_current (patient_id);
CREATE TABLE IF NOT EXISTS quarantined_record (
  id              bigserial   PRIMARY KEY,
  stream_name     text        NOT NULL,
  shard_id        text        NOT NULL,
  sequence_number text        NOT NULL,
  partition_key   text        NOT NULL,
  reason_code     text        NOT NULL,
  detail          text        NOT NULL,
  payload         bytea       NOT NULL,
  received_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (stream_name, shard_id, sequence_number)
);
CREATE TABLE IF NOT EXISTS audit_event (
  id              bigserial   PRIMARY KEY,
  occurred_at     timestamptz NOT NULL DEFAULT now(),
  actor           text        NOT NULL,
  action          text        NOT NULL,
  outcome         text        NOT NULL,
  resource_type   text,
  resource_id     text,
  version_id      text,
  stream_name     text        NOT NULL,
  shard_id        text        NOT NULL,
  sequence_number text        NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_event_resource ON audit_event (resource_type, resource_id);
CREATE TABLE IF NOT EXISTS shard_checkpoint (
  stream_name     text        NOT NULL,
  shard_id        text        NOT NULL,
  sequence_number text        NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (stream_name, shard_id)
);
CREATE TABLE IF NOT EXISTS shard_lease (
  stream_name       text        NOT NULL,
  shard_id          text        NOT NULL,
  parent_shard_ids  text[]      NOT NULL DEFAULT '{}',
  owner             text,
  expires_at        timestamptz,
  completed         boolean     NOT NULL DEFAULT false,
  PRIMARY KEY (stream_name, shard_id)
);
CREATE TABLE IF NOT EXISTS processor_worker (
  stream_name text        NOT NULL,
  worker_id   text        NOT NULL,
  last_seen   timestamptz NOT NULL,
  PRIMARY KEY (stream_name, worker_id)
);

CREATE OR REPLACE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event FOR EACH ROW EXECUTE FUNCTION refuse_change();
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event;
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
DROP TRIGGER IF EXISTS history_append_only ON fhir_resource_history;
CREATE TRIGGER history_append_only BEFORE UPDATE OR DELETE ON fhir_resource_history FOR EACH ROW EXECUTE FUNCTION refuse_change();

DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${WRITER_ROLE}') THEN CREATE ROLE ${WRITER_ROLE} NOLOGIN; END IF;
END $$;
GRANT ${WRITER_ROLE} TO CURRENT_USER;
REVOKE ALL ON fhir_resource_history, fhir_resource_current, quarantined_record, audit_event, shard_checkpoint, shard_lease, processor_worker FROM PUBLIC;
GRANT SELECT, INSERT ON fhir_resource_history, quarantined_record, audit_event TO ${WRITER_ROLE};
GRANT SELECT, INSERT, UPDATE ON fhir_resource_current TO ${WRITER_ROLE};
GRANT SELECT, INSERT, UPDATE, DELETE ON shard_checkpoint, shard_lease, processor_worker TO ${WRITER_ROLE};
GRANT USAGE ON SEQUENCE quarantined_record_id_seq, audit_event_id_seq TO ${WRITER_ROLE};
`,
  },
  {
    version: 2,
    description: 'pgaudit (where the server provides it): extension and object-audit role',
    sql: `
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgaudit') THEN
    CREATE EXTENSION IF NOT EXISTS pgaudit;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_pgaudit') THEN CREATE ROLE rds_pgaudit NOLOGIN; END IF;
    -- Object-level audit: every read and write of PHI tables is logged whatever the session setting.
    GRANT SELECT, INSERT, UPDATE, DELETE ON fhir_resource_history, fhir_resource_current, quarantined_record TO rds_pgaudit;
  ELSE
    RAISE NOTICE 'pgaudit is not available on this server; skipping (expected only for the local run)';
  END IF;
END $$;
`,
  },
  {
    version: 3,
    description: 'audit events for reads, which have no stream position',
    sql: `
ALTER TABLE audit_event ALTER COLUMN shard_id DROP NOT NULL;
ALTER TABLE audit_event ALTER COLUMN sequence_number DROP NOT NULL;
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS detail text;
`,
  },
  {
    version: 4,
    description: 'exactly once without meta: content-hash history key, arrival order, lease fencing token, storable quarantine keys',
    sql: `
-- meta, meta.versionId and meta.lastUpdated are optional in FHIR R4 (the old key held versionId).
ALTER TABLE fhir_resource_history DROP CONSTRAINT IF EXISTS fhir_resource_history_pkey;
ALTER TABLE fhir_resource_history ALTER COLUMN version_id DROP NOT NULL, ALTER COLUMN last_updated DROP NOT NULL;
ALTER TABLE fhir_resource_history ADD COLUMN IF NOT EXISTS entry_index integer NOT NULL DEFAULT 0;
ALTER TABLE fhir_resource_history ADD COLUMN IF NOT EXISTS patient_from_partition_key boolean NOT NULL DEFAULT false;
ALTER TABLE fhir_resource_history ADD COLUMN IF NOT EXISTS content_hash bytea;
-- History is append-only; this one-time backfill of the new key column is the only exception.
ALTER TABLE fhir_resource_history DISABLE TRIGGER history_append_only;
UPDATE fhir_resource_history SET content_hash = sha256(convert_to(resource::text, 'UTF8')) WHERE content_hash IS NULL;
ALTER TABLE fhir_resource_history ENABLE TRIGGER history_append_only;
ALTER TABLE fhir_resource_history ALTER COLUMN content_hash SET NOT NULL;
-- One history row per distinct content of a resource: a byte-identical re-send is a no-op.
ALTER TABLE fhir_resource_history ADD CONSTRAINT fhir_resource_history_pkey PRIMARY KEY (resource_type, resource_id, content_hash);

ALTER TABLE fhir_resource_current ALTER COLUMN version_id DROP NOT NULL, ALTER COLUMN last_updated DROP NOT NULL;
-- Arrival position of the current version (Kinesis sequence number, then bundle entry): the last tie-breaker.
ALTER TABLE fhir_resource_current ADD COLUMN IF NOT EXISTS sequence_number text NOT NULL DEFAULT '0';
ALTER TABLE fhir_resource_current ADD COLUMN IF NOT EXISTS entry_index integer NOT NULL DEFAULT 0;
ALTER TABLE fhir_resource_current ADD COLUMN IF NOT EXISTS patient_from_partition_key boolean NOT NULL DEFAULT false;

-- The exact partition key bytes when partition_key had to be escaped (it held U+0000, which text cannot).
ALTER TABLE quarantined_record ADD COLUMN IF NOT EXISTS partition_key_raw bytea;
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS entry_index integer;

-- Fencing token (as the Kinesis Client Library's lease counter): every take-over increments it,
-- and a commit or checkpoint succeeds only with the counter its worker was given.
ALTER TABLE shard_lease ADD COLUMN IF NOT EXISTS lease_counter bigint NOT NULL DEFAULT 0;
ALTER TABLE shard_checkpoint ADD COLUMN IF NOT EXISTS lease_counter bigint NOT NULL DEFAULT 0;

-- Numeric-aware versionId order: both all digits compare as numbers, otherwise by code point.
CREATE OR REPLACE FUNCTION fhir_version_cmp(a text, b text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT CASE WHEN a ~ '^[0-9]+$' AND b ~ '^[0-9]+$' THEN sign(a::numeric - b::numeric)::integer
              WHEN a COLLATE "C" < b COLLATE "C" THEN -1 WHEN a COLLATE "C" > b COLLATE "C" THEN 1 ELSE 0 END
$f$;
-- Does version n replace version c? Newer lastUpdated when both have one, then versionId when
-- both have one, then arrival (sequence number, entry index). Mirrored by isNewer() in records.ts.
CREATE OR REPLACE FUNCTION fhir_is_newer(n_lu timestamptz, n_vid text, n_seq text, n_idx integer,
                                         c_lu timestamptz, c_vid text, c_seq text, c_idx integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT CASE
    WHEN n_lu IS NOT NULL AND c_lu IS NOT NULL AND n_lu <> c_lu THEN n_lu > c_lu
    WHEN n_vid IS NOT NULL AND c_vid IS NOT NULL AND fhir_version_cmp(n_vid, c_vid) <> 0 THEN fhir_version_cmp(n_vid, c_vid) > 0
    ELSE (n_seq::numeric, n_idx) > (c_seq::numeric, c_idx) END
$f$;
`,
  },
  {
    version: 10,
    description: "the processor's own login: fhir_processor, member of the writer role, IAM authentication where rds_iam exists",
    sql: `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${PROCESSOR_DB_USER}') THEN CREATE ROLE ${PROCESSOR_DB_USER} LOGIN; END IF;
  -- IAM database authentication (RDS only): the processor logs in with short-lived tokens, never a password.
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO ${PROCESSOR_DB_USER};
  ELSE
    RAISE NOTICE 'rds_iam does not exist on this server; ${PROCESSOR_DB_USER} gets no IAM login (expected only for the local run)';
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO ${PROCESSOR_DB_USER}', current_database());
END $$;
-- Its only privileges are the writer role's: RESET ROLE leaves it with nothing more.
GRANT ${WRITER_ROLE} TO ${PROCESSOR_DB_USER};
`,
  },
  {
    version: 11,
    description: 're-drive of quarantined records: attempt and outcome columns, the writer may update only those, a re-driven row is final',
    sql: `
-- NULL until the record was persisted by a re-drive (lib/processor/redrive.ts); the row itself is never deleted.
ALTER TABLE quarantined_record ADD COLUMN IF NOT EXISTS redriven_at timestamptz;
-- The last re-drive attempt: when, by whom, with which validator build, and its outcome
-- ('redriven', or the code it is still quarantined with, and that rule: never a value from the record).
ALTER TABLE quarantined_record ADD COLUMN IF NOT EXISTS redrive_attempted_at timestamptz;
ALTER TABLE quarantined_record ADD COLUMN IF NOT EXISTS redrive_actor text;
ALTER TABLE quarantined_record ADD COLUMN IF NOT EXISTS redrive_validator text;
ALTER TABLE quarantined_record ADD COLUMN IF NOT EXISTS redrive_outcome text;
ALTER TABLE quarantined_record ADD COLUMN IF NOT EXISTS redrive_detail text;
-- The re-drive scans what is still quarantined, in id order.
CREATE INDEX IF NOT EXISTS quarantined_record_pending ON quarantined_record (id) WHERE redriven_at IS NULL;

-- What was received stays as received (payload, position, keys, reason), for everyone including the
-- owner; only the re-drive columns change, and a re-driven row cannot be re-driven again.
CREATE OR REPLACE FUNCTION quarantine_redrive_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.id, NEW.stream_name, NEW.shard_id, NEW.sequence_number, NEW.partition_key, NEW.partition_key_raw, NEW.reason_code, NEW.detail, NEW.payload, NEW.received_at)
     IS DISTINCT FROM (OLD.id, OLD.stream_name, OLD.shard_id, OLD.sequence_number, OLD.partition_key, OLD.partition_key_raw, OLD.reason_code, OLD.detail, OLD.payload, OLD.received_at) THEN
    RAISE EXCEPTION 'quarantined_record keeps what was received: only the re-drive columns may change' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.redriven_at IS NOT NULL THEN
    RAISE EXCEPTION 'quarantined_record % was re-driven: its re-drive columns are final', OLD.id USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS quarantine_redrive_only ON quarantined_record;
CREATE TRIGGER quarantine_redrive_only BEFORE UPDATE ON quarantined_record FOR EACH ROW EXECUTE FUNCTION quarantine_redrive_only();

-- Exactly the re-drive columns; column UPDATE is also what SELECT ... FOR UPDATE needs to lock a row.
GRANT UPDATE (redriven_at, redrive_attempted_at, redrive_actor, redrive_validator, redrive_outcome, redrive_detail) ON quarantined_record TO ${WRITER_ROLE};
`,
  },
  {
    version: 12,
    description: 'restore drill: fhir_drill login whose only privilege is EXECUTE on restore_drill_summary (aggregates, no PHI)',
    // Why a dedicated login with one SECURITY DEFINER function (and not the master user, the
    // processor's login or a read-only role): the drill connects to a restored copy whose
    // DbiResourceId is only known at run time, so its IAM grant is rds-db:connect on
    // dbuser:*/fhir_drill, valid on every instance of the account and region. That is safe only if
    // this login reaches no PHI anywhere: it has no table privilege at all, and the function returns
    // counts and timestamps only. The master secret would give the drill every row; fhir_processor
    // (or any SELECT grant) would let the wildcard grant read PHI on the live database too.
    sql: `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${DRILL_DB_USER}') THEN CREATE ROLE ${DRILL_DB_USER} LOGIN; END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO ${DRILL_DB_USER};
  ELSE
    RAISE NOTICE 'rds_iam does not exist on this server; ${DRILL_DB_USER} gets no IAM login (expected only for the local run)';
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO ${DRILL_DB_USER}', current_database());
END $$;
-- Owned by the migration (master) user, so it can count rows the caller cannot read. A fixed
-- search_path keeps a caller's objects out of it; it takes a timestamp and returns aggregates only.
-- One scan per table: every row, the rows up to the cutoff (the comparison), and the newest
-- timestamp up to as_of (the recovery point: rows written after the drill started do not count).
CREATE OR REPLACE FUNCTION ${RESTORE_DRILL_FUNCTION}(cutoff timestamptz, as_of timestamptz)
RETURNS TABLE (table_name text, row_count bigint, rows_to_cutoff bigint, newest_as_of timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $f$
  SELECT 'fhir_resource_history', count(*), count(*) FILTER (WHERE ingested_at <= cutoff), max(ingested_at) FILTER (WHERE ingested_at <= as_of) FROM public.fhir_resource_history
  UNION ALL
  SELECT 'fhir_resource_current', count(*), count(*) FILTER (WHERE updated_at <= cutoff), max(updated_at) FILTER (WHERE updated_at <= as_of) FROM public.fhir_resource_current
  UNION ALL
  SELECT 'quarantined_record', count(*), count(*) FILTER (WHERE received_at <= cutoff), max(received_at) FILTER (WHERE received_at <= as_of) FROM public.quarantined_record
  UNION ALL
  SELECT 'audit_event', count(*), count(*) FILTER (WHERE occurred_at <= cutoff), max(occurred_at) FILTER (WHERE occurred_at <= as_of) FROM public.audit_event
$f$;
-- Functions are executable by PUBLIC by default: only the drill login may call this one.
REVOKE ALL ON FUNCTION ${RESTORE_DRILL_FUNCTION}(timestamptz, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ${RESTORE_DRILL_FUNCTION}(timestamptz, timestamptz) TO ${DRILL_DB_USER};
`,
  },
  {
    version: 13,
    description:
      'history key by meaning: content_hash is the SHA-256 of the resource as jsonb prints it (resource::text), not of the bytes sent',
    // The processor computes the same text (canonicalJson in lib/processor/fhir/exact-json.ts), so a
    // re-serialized re-send (other member order, whitespace or escapes) finds the stored row.
    sql: `
-- History is append-only; this one-time re-key of existing rows is the only exception. Where rows
-- stored before this migration differ only in formatting, the one already keyed canonically (else
-- the first stored) takes the canonical key and the others keep theirs: no history row is removed.
ALTER TABLE fhir_resource_history DISABLE TRIGGER history_append_only;
UPDATE fhir_resource_history h SET content_hash = r.canonical
FROM (
  SELECT resource_type, resource_id, content_hash, canonical,
         row_number() OVER (PARTITION BY resource_type, resource_id, canonical
                            ORDER BY content_hash = canonical DESC, ingested_at, sequence_number::numeric, entry_index) AS rn
  FROM (SELECT resource_type, resource_id, content_hash, ingested_at, sequence_number, entry_index,
               sha256(convert_to(resource::text, 'UTF8')) AS canonical
        FROM fhir_resource_history) c
) r
WHERE h.resource_type = r.resource_type AND h.resource_id = r.resource_id AND h.content_hash = r.content_hash
  AND r.rn = 1 AND r.content_hash <> r.canonical;
ALTER TABLE fhir_resource_history ENABLE TRIGGER history_append_only;
`,
  },
  {
    version: 14,
    description: 'tamper-evident audit_event: a hash chain per writing connection, set by a trigger for every writer',
    // Why a trigger and not the writers: every INSERT (the batch write, quarantine, re-drive, verify, the read
    // API, any future writer) is chained without each remembering to, and the login (session_user) is
    // recorded by the server, not claimed by the row. Why one chain per connection and not per login: a
    // chain's head is taken by each insert, so a shared chain would serialize every processor task's
    // transactions; a connection's own chain costs no lock. Links live in the connection (a session
    // setting that a rollback undoes), so a chain never holds a row that was not committed.
    // What it proves: an altered row (its hash), a deleted row (a gap in its chain's sequence), a row
    // inserted into a chain (a sequence taken twice, refused by the unique index, or a broken link), a row
    // moved between logins. A writer can always append valid rows to its own chain: the chain heads exported
    // to the Object-Locked bucket (lib/processor/tasks/audit-chain) are what make a later rewrite of the chain
    // detectable. New columns must be nullable with no default, or every older row's hash changes.
    sql: `
SET LOCAL TimeZone = 'UTC';
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS chain_login text;
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS chain_id uuid;
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS chain_seq bigint;
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS chain_prev bytea;
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS chain_hash bytea;

CREATE OR REPLACE FUNCTION audit_event_chain() RETURNS trigger LANGUAGE plpgsql SET TimeZone = 'UTC' AS $$
DECLARE
  head text := current_setting('${AUDIT_CHAIN_HEAD_SETTING}', true);
BEGIN
  IF head IS NULL OR head = '' THEN
    NEW.chain_id := gen_random_uuid();
    NEW.chain_seq := 1;
    NEW.chain_prev := '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  ELSE
    NEW.chain_id := split_part(head, ':', 1)::uuid;
    NEW.chain_seq := split_part(head, ':', 2)::bigint + 1;
    NEW.chain_prev := decode(split_part(head, ':', 3), 'hex');
  END IF;
  NEW.chain_login := session_user;
  NEW.chain_hash := sha256(NEW.chain_prev || convert_to(${AUDIT_CANONICAL_SQL('NEW')}, 'UTF8'));
  PERFORM set_config('${AUDIT_CHAIN_HEAD_SETTING}', NEW.chain_id || ':' || NEW.chain_seq || ':' || encode(NEW.chain_hash, 'hex'), false);
  RETURN NEW;
END $$;

-- The rows written before chaining form one chain, in id order (the append-only trigger's one exception, as in version 4).
ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only;
DO $$
DECLARE
  r audit_event;
  prev bytea := '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea;
  seq bigint := 0;
  chain uuid := gen_random_uuid();
BEGIN
  FOR r IN SELECT * FROM audit_event WHERE chain_hash IS NULL ORDER BY id LOOP
    seq := seq + 1;
    r.chain_id := chain; r.chain_seq := seq; r.chain_prev := prev; r.chain_login := session_user;
    r.chain_hash := sha256(prev || convert_to(${AUDIT_CANONICAL_SQL('r')}, 'UTF8'));
    UPDATE audit_event SET chain_login = r.chain_login, chain_id = chain, chain_seq = seq, chain_prev = prev, chain_hash = r.chain_hash WHERE id = r.id;
    prev := r.chain_hash;
  END LOOP;
END $$;
ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only;

ALTER TABLE audit_event ALTER COLUMN chain_login SET NOT NULL, ALTER COLUMN chain_id SET NOT NULL, ALTER COLUMN chain_seq SET NOT NULL,
  ALTER COLUMN chain_prev SET NOT NULL, ALTER COLUMN chain_hash SET NOT NULL;
-- One row per chain position: a row inserted into a chain is refused, and the verifier reads chains in order.
CREATE UNIQUE INDEX IF NOT EXISTS audit_event_chain_position ON audit_event (chain_id, chain_seq);
DROP TRIGGER IF EXISTS audit_event_chain ON audit_event;
CREATE TRIGGER audit_event_chain BEFORE INSERT ON audit_event FOR EACH ROW EXECUTE FUNCTION audit_event_chain();

-- The scheduled export of chain heads logs in as ${AUDITOR_DB_USER} (IAM authentication): it reads the id and
-- chain columns only, never what a row says, so this login reaches no PHI.
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${AUDITOR_DB_USER}') THEN CREATE ROLE ${AUDITOR_DB_USER} LOGIN; END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO ${AUDITOR_DB_USER};
  ELSE
    RAISE NOTICE 'rds_iam does not exist on this server; ${AUDITOR_DB_USER} gets no IAM login (expected only for the local run)';
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO ${AUDITOR_DB_USER}', current_database());
END $$;
GRANT SELECT (id, chain_login, chain_id, chain_seq, chain_prev, chain_hash) ON audit_event TO ${AUDITOR_DB_USER};
`,
  },
  {
    version: 15,
    description: 'positions inside a Kinesis record: KPL sub-sequence number and NDJSON line on history, current, audit and quarantine',
    sql: `
-- A KPL aggregated record carries several user records (sub-sequence numbers, as the KCL numbers them)
-- and an NDJSON payload several documents (lines from 1); 0 is a whole record, as every row before.
ALTER TABLE fhir_resource_history ADD COLUMN IF NOT EXISTS sub_sequence_number integer NOT NULL DEFAULT 0;
ALTER TABLE fhir_resource_history ADD COLUMN IF NOT EXISTS line_number integer NOT NULL DEFAULT 0;
ALTER TABLE fhir_resource_current ADD COLUMN IF NOT EXISTS sub_sequence_number integer NOT NULL DEFAULT 0;
ALTER TABLE fhir_resource_current ADD COLUMN IF NOT EXISTS line_number integer NOT NULL DEFAULT 0;
-- Null for events without a stream position (reads), like sequence_number.
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS sub_sequence_number integer;
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS line_number integer;
ALTER TABLE quarantined_record ADD COLUMN IF NOT EXISTS sub_sequence_number integer NOT NULL DEFAULT 0;
ALTER TABLE quarantined_record ADD COLUMN IF NOT EXISTS line_number integer NOT NULL DEFAULT 0;
-- One quarantine row per part: each user record or line of one Kinesis record is quarantined on its own.
ALTER TABLE quarantined_record DROP CONSTRAINT IF EXISTS quarantined_record_stream_name_shard_id_sequence_number_key;
ALTER TABLE quarantined_record DROP CONSTRAINT IF EXISTS quarantined_record_position_key;
ALTER TABLE quarantined_record ADD CONSTRAINT quarantined_record_position_key UNIQUE (stream_name, shard_id, sequence_number, sub_sequence_number, line_number);

-- The position is part of what was received: as immutable as the rest of the row (quarantine_redrive_only guards the others).
CREATE OR REPLACE FUNCTION quarantine_position_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.sub_sequence_number, NEW.line_number) IS DISTINCT FROM (OLD.sub_sequence_number, OLD.line_number) THEN
    RAISE EXCEPTION 'quarantined_record keeps what was received: only the re-drive columns may change' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS quarantine_position_fixed ON quarantined_record;
CREATE TRIGGER quarantine_position_fixed BEFORE UPDATE ON quarantined_record FOR EACH ROW EXECUTE FUNCTION quarantine_position_fixed();

-- Arrival order inside one Kinesis record: sub-sequence number, then line, then Bundle entry.
-- Mirrored by isNewer() in records.ts.
CREATE OR REPLACE FUNCTION fhir_is_newer(n_lu timestamptz, n_vid text, n_seq text, n_sub integer, n_line integer, n_idx integer,
                                         c_lu timestamptz, c_vid text, c_seq text, c_sub integer, c_line integer, c_idx integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT CASE
    WHEN n_lu IS NOT NULL AND c_lu IS NOT NULL AND n_lu <> c_lu THEN n_lu > c_lu
    WHEN n_vid IS NOT NULL AND c_vid IS NOT NULL AND fhir_version_cmp(n_vid, c_vid) <> 0 THEN fhir_version_cmp(n_vid, c_vid) > 0
    ELSE (n_seq::numeric, n_sub, n_line, n_idx) > (c_seq::numeric, c_sub, c_line, c_idx) END
$f$;
`,
  },
  {
    version: 16,
    description: 'read API: fhir_api login (SELECT on current and history, INSERT of its audit events), audit_event.result_count',
    // The API reads PHI for its callers, so its login reaches exactly what it serves: no quarantine
    // (payloads that failed validation), no leases or checkpoints, and audit_event only to append its
    // own events, column by column (the id and occurred_at stay the table's own; it cannot read the
    // audit trail). Not a member of the writer role.
    sql: `
ALTER TABLE audit_event ALTER COLUMN stream_name DROP NOT NULL;
ALTER TABLE audit_event ADD COLUMN IF NOT EXISTS result_count integer;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${API_DB_USER}') THEN CREATE ROLE ${API_DB_USER} LOGIN; END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN
    GRANT rds_iam TO ${API_DB_USER};
  ELSE
    RAISE NOTICE 'rds_iam does not exist on this server; ${API_DB_USER} gets no IAM login (expected only for the local run)';
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO ${API_DB_USER}', current_database());
END $$;
GRANT SELECT ON fhir_resource_current, fhir_resource_history TO ${API_DB_USER};
GRANT INSERT (actor, action, outcome, resource_type, resource_id, version_id, detail, result_count) ON audit_event TO ${API_DB_USER};
GRANT USAGE ON SEQUENCE audit_event_id_seq TO ${API_DB_USER};
`,
  },
];
