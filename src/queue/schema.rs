//! tilerun's own tables, created and migrated by whichever process gets
//! there first.
//!
//! Migrations run in one transaction under a transaction-scoped advisory
//! lock, so several workers starting at once line up: the first creates or
//! upgrades, the others then find the version current. A database newer
//! than this binary is refused rather than used with the wrong shape.

use postgres::Client;

/// `pg_advisory_xact_lock` key: "tilerun" in ASCII, so it is recognisable
/// in `pg_locks` and unlikely to collide with an application's own.
const LOCK_KEY: i64 = 0x0074_696c_6572_756e;

/// Migration N (1-based) takes the schema from version N-1 to N.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tilerun.jobs (
    id            bigserial PRIMARY KEY,
    input         text NOT NULL,
    fingerprint   text NOT NULL,
    recipe        text NOT NULL,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN
                  ('pending', 'running', 'done', 'failed', 'dead', 'cancelled')),
    attempts      integer NOT NULL DEFAULT 0,
    reclaims      integer NOT NULL DEFAULT 0,
    lease_token   uuid,
    lease_expires timestamptz,
    host          text,
    last_error    text,
    output        text,
    not_before    timestamptz NOT NULL DEFAULT now(),
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (input, fingerprint, recipe)
);
CREATE INDEX jobs_claimable ON tilerun.jobs (id) WHERE state IN ('pending', 'running');
CREATE INDEX jobs_finished ON tilerun.jobs (finished_at) WHERE state IN ('failed', 'dead');
"#,
    // 2: a job may read several files (a delivery's set). NULL members = the
    // one file in `input`, so every row written by version 1 keeps its meaning.
    // A set's `input` is its first member and its fingerprint a digest of every
    // member's path and content, so the unique key still finds a resubmission.
    r#"
ALTER TABLE tilerun.jobs ADD COLUMN members text[], ADD COLUMN set_key text;
"#,
    // 3: multipart uploads a run opened ("bucket\nkey\nupload id"), so the
    // next run can abort those of a run that was killed.
    r#"
ALTER TABLE tilerun.jobs ADD COLUMN uploads text[] NOT NULL DEFAULT '{}';
"#,
];

/// The schema version this binary writes.
pub const VERSION: i32 = MIGRATIONS.len() as i32;

/// Ok(Err(why)) when the database is newer than this binary.
pub fn migrate(c: &mut Client) -> Result<Result<(), String>, postgres::Error> {
    let mut tx = c.transaction()?;
    // IF NOT EXISTS raises NOTICEs the client would log on every start.
    tx.batch_execute("SET LOCAL client_min_messages TO warning")?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS tilerun;
         CREATE TABLE IF NOT EXISTS tilerun.schema_version (version integer NOT NULL)",
    )?;
    let have: i32 = tx
        .query_opt("SELECT max(version) FROM tilerun.schema_version", &[])?
        .and_then(|r| r.get::<_, Option<i32>>(0))
        .unwrap_or(0);
    if have > VERSION {
        return Ok(Err(format!(
            "the database holds tilerun schema version {have}, newer than this tilerun \
             (version {VERSION}): upgrade tilerun"
        )));
    }
    for m in &MIGRATIONS[have as usize..] {
        tx.batch_execute(m)?;
    }
    if have < VERSION {
        tx.execute("DELETE FROM tilerun.schema_version", &[])?;
        tx.execute(
            "INSERT INTO tilerun.schema_version (version) VALUES ($1)",
            &[&VERSION],
        )?;
    }
    tx.commit()?;
    Ok(Ok(()))
}
