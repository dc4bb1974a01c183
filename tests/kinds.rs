//! Every change kind end to end against real PostgreSQL, with an application running old and
//! new statements throughout: expand -> contract must end in the catalog a plain blocking DDL
//! would have produced, and expand -> abort in exactly the catalog it started from. No table is
//! rewritten (its relfilenode stays), and no application statement waits much longer than the
//! plan's lock_timeout.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;
use support::app::App;
use support::writer::{MIXED, NEW};
use support::{catalog, plan_file, switchback, text, TestDb};
use tokio_postgres::Client;

const ROWS: i64 = 20_000;

const SCHEMA: &str = "
CREATE TABLE teams (id bigint PRIMARY KEY, code text NOT NULL UNIQUE);
INSERT INTO teams SELECT g, 't' || g FROM generate_series(1, 10) g;
CREATE TABLE users (
  id bigserial PRIMARY KEY,
  name text NOT NULL DEFAULT 'anon',
  email text,
  score integer DEFAULT 0 CHECK (score < 1000000),
  team_id bigint,
  legacy text,
  nick varchar(20)
);
CREATE INDEX users_email_idx ON users (email);
CREATE INDEX users_score_idx ON users (score);
INSERT INTO users (name, email, score, team_id, legacy, nick)
  SELECT 'user ' || g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'u' || g || '@x' END, g % 100, g % 10 + 1, 'l' || g, 'k' || g
  FROM generate_series(1, 20000) g;
CREATE TABLE audit (id bigserial PRIMARY KEY, note text NOT NULL DEFAULT '');
INSERT INTO audit (note) SELECT 'a' || g FROM generate_series(1, 1000) g;
ANALYZE;
";

/// What every version of the application does whatever the change: read a range, update a
/// name, insert a full row.
const READ: &str = "SELECT count(*) FROM users WHERE id BETWEEN {id} AND {id} + 50";

/// The lock_timeout of every plan here, and how long an application statement may wait.
const LOCK_TIMEOUT: &str = "500ms";
const MAX_WAIT: Duration = Duration::from_millis(1500);

struct Case {
    /// The plan's `changes:` list.
    changes: &'static str,
    /// The statements of the application version before the change, and after it.
    old: &'static [&'static str],
    new: &'static [&'static str],
    /// What a plain, blocking migration would run; contract must end in the same catalog.
    plain: &'static str,
    /// Rows that are wrong once contract ran (must count 0).
    wrong_rows: &'static str,
    /// Abort narrows an in-place type change back, which PostgreSQL does by rewriting.
    abort_rewrites: bool,
    /// More tables for this case, created after SCHEMA.
    extra: &'static str,
}

async fn setup(db: &TestDb, case: &Case) -> Client {
    let client = db.client().await;
    client.batch_execute(SCHEMA).await.unwrap();
    client.batch_execute(case.extra).await.unwrap();
    client
}

/// Every table and view of the schema: columns, constraints (and whether validated),
/// indexes (and whether valid), triggers; view definitions.
async fn dump(client: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let relations = client
        .query("SELECT c.relname::text, c.relkind::text, CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v') ORDER BY 1", &[])
        .await
        .unwrap();
    for r in relations {
        let (name, kind): (String, String) = (r.get(0), r.get(1));
        if kind == "v" {
            out.push(format!("view {name}: {}", r.get::<_, String>(2)));
        } else {
            out.push(format!("table {name}"));
            out.extend(catalog(client, &name).await);
        }
    }
    out
}

/// oid -> relfilenode of every table of the schema.
async fn files(client: &Client) -> BTreeMap<u32, u32> {
    client
        .query("SELECT oid, relfilenode FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn assert_no_rewrite(before: &BTreeMap<u32, u32>, after: &BTreeMap<u32, u32>) {
    for (oid, file) in before {
        if let Some(now) = after.get(oid) {
            assert_eq!(now, file, "table {oid} was rewritten");
        }
    }
}

async fn run(db: &TestDb, args: &[&str]) {
    let (db, owned): (TestDb, Vec<String>) =
        (db.clone(), args.iter().map(|a| a.to_string()).collect());
    let out = tokio::task::spawn_blocking(move || {
        let owned: Vec<&str> = owned.iter().map(String::as_str).collect();
        switchback(&db, &owned)
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn plan_text(case: &Case) -> String {
    format!(
        "lock_timeout: {LOCK_TIMEOUT}\nbackfill: {{ batch_size: 2000 }}\nchanges:\n{}",
        case.changes
    )
}

async fn start_app(db: &TestDb, case: &Case) -> App {
    let app = App::start(&db.url, ROWS, case.old, case.new, 3).await;
    app.run_for(30).await;
    app
}

fn assert_app_fine(report: &support::app::Report) {
    println!(
        "{} application statements, slowest {:?}: {}",
        report.statements, report.slowest.0, report.slowest.1
    );
    assert!(
        report.errors.is_empty(),
        "application errors: {:#?}",
        &report.errors[..report.errors.len().min(5)]
    );
    assert!(
        report.statements > 100,
        "the application hardly ran: {}",
        report.statements
    );
    assert!(
        report.max_latency() < MAX_WAIT,
        "an application statement waited {:?}: {}",
        report.slowest.0,
        report.slowest.1
    );
}

async fn expand_then_contract(case: &Case) {
    let db = TestDb::new().await;
    let client = setup(&db, case).await;
    let before = files(&client).await;
    let (_dir, plan) = plan_file("20261122_kind", &plan_text(case));
    let app = start_app(&db, case).await;
    run(&db, &["advance", &plan, "--progress", "plain"]).await;
    assert_no_rewrite(&before, &files(&client).await);
    app.set_phase(MIXED);
    app.run_for(300).await;
    app.set_phase(NEW);
    app.run_for(50).await;
    run(&db, &["advance", &plan, "--progress", "plain"]).await;
    app.run_for(100).await;
    let report = app.stop().await;
    assert_app_fine(&report);
    assert_no_rewrite(&before, &files(&client).await);

    let expected = {
        let plain = TestDb::new().await;
        let c = setup(&plain, case).await;
        c.batch_execute(case.plain).await.unwrap();
        dump(&c).await
    };
    assert_eq!(
        dump(&client).await,
        expected,
        "contract did not end where the plain DDL does"
    );
    if !case.wrong_rows.is_empty() {
        let wrong: i64 = client.query_one(case.wrong_rows, &[]).await.unwrap().get(0);
        assert_eq!(wrong, 0, "{}", case.wrong_rows);
    }
    let objects: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'switchback'::regnamespace",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(objects, 0, "switchback left trigger functions behind");
}

async fn expand_then_abort(case: &Case) {
    let db = TestDb::new().await;
    let client = setup(&db, case).await;
    let before = dump(&client).await;
    let before_files = files(&client).await;
    let (_dir, plan) = plan_file("20261122_kind", &plan_text(case));
    let app = start_app(&db, case).await;
    run(&db, &["advance", &plan, "--progress", "plain"]).await;
    app.run_for(200).await;
    run(&db, &["abort", &plan, "--progress", "plain"]).await;
    app.run_for(100).await;
    let report = app.stop().await;
    assert_app_fine(&report);
    if !case.abort_rewrites {
        assert_no_rewrite(&before_files, &files(&client).await);
    }
    assert_eq!(
        dump(&client).await,
        before,
        "abort did not restore the catalog"
    );
}

macro_rules! kind {
    ($contract:ident, $abort:ident, $case:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $contract() {
            expand_then_contract(&$case).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $abort() {
            expand_then_abort(&$case).await;
        }
    };
}

kind!(add_column_contract, add_column_abort, Case {
    changes: "  - add_column:\n      table: users\n      column: { name: display, type: text, nullable: false, default: \"''\", check: \"length(display) < 500\" }\n      backfill: \"name || '!'\"\n",
    old: &[READ, "INSERT INTO users (name) VALUES ('o{n}')", "UPDATE users SET name = 'o{n}' WHERE id = {id}"],
    // The new application also leaves `display` to its DEFAULT: through contract, the trigger
    // gives way to the DEFAULT in one transaction.
    new: &[READ, "INSERT INTO users (name, display) VALUES ('w{n}', 'w{n}!')", "INSERT INTO users (name) VALUES ('w{n}')", "UPDATE users SET display = 'd{n}' WHERE id = {id}"],
    plain: "ALTER TABLE users ADD COLUMN display text NOT NULL DEFAULT '' CONSTRAINT users_display_check CHECK (length(display) < 500)",
    wrong_rows: "SELECT count(*) FROM users WHERE display IS NULL",
    abort_rewrites: false,
    extra: "",
});

kind!(add_column_unique_and_references_contract, add_column_unique_and_references_abort, Case {
    changes: "  - add_column: { table: users, column: { name: handle, type: text, unique: true }, backfill: \"'h' || id\" }\n  - add_column: { table: users, column: { name: team_ref, type: bigint, references: { table: teams, column: id } }, backfill: team_id }\n",
    old: &[READ, "INSERT INTO users (name, team_id) VALUES ('o{n}', 3)", "UPDATE users SET team_id = {id} % 10 + 1 WHERE id = {id}"],
    new: &[READ, "INSERT INTO users (name, team_id, handle, team_ref) VALUES ('w{n}', 4, 'hw{n}', 4)"],
    plain: "ALTER TABLE users ADD COLUMN handle text UNIQUE, ADD COLUMN team_ref bigint REFERENCES teams (id)",
    wrong_rows: "SELECT count(*) FROM users WHERE handle IS NULL OR team_ref IS DISTINCT FROM team_id",
    abort_rewrites: false,
    extra: "",
});

kind!(
    rename_column_contract,
    rename_column_abort,
    Case {
        changes: "  - rename_column: { table: users, from: nick, to: nickname }\n",
        old: &[
            READ,
            "UPDATE users SET nick = 'o{n}' WHERE id = {id}",
            "INSERT INTO users (name, nick) VALUES ('o{n}', 'o{n}')"
        ],
        new: &[
            READ,
            "UPDATE users SET nickname = 'w{n}' WHERE id = {id}",
            "INSERT INTO users (name, nickname) VALUES ('w{n}', 'w{n}')"
        ],
        plain: "ALTER TABLE users RENAME COLUMN nick TO nickname",
        wrong_rows: "SELECT count(*) FROM users WHERE nickname IS NULL",
        abort_rewrites: false,
        extra: "",
    }
);

kind!(set_not_null_contract, set_not_null_abort, Case {
    changes: "  - set_not_null: { table: users, column: email, fill: \"'none'\" }\n",
    old: &[READ, "INSERT INTO users (name, email) VALUES ('o{n}', NULL)", "UPDATE users SET email = NULL WHERE id = {id}"],
    new: &[READ, "INSERT INTO users (name, email) VALUES ('w{n}', 'w{n}@x')", "UPDATE users SET email = 'w{n}@x' WHERE id = {id}"],
    plain: "UPDATE users SET email = 'none' WHERE email IS NULL; ALTER TABLE users ALTER COLUMN email SET NOT NULL",
    wrong_rows: "SELECT count(*) FROM users WHERE email IS NULL",
    abort_rewrites: false,
    extra: "",
});

kind!(
    drop_not_null_contract,
    drop_not_null_abort,
    Case {
        changes: "  - drop_not_null: { table: users, column: name }\n",
        old: &[
            READ,
            "INSERT INTO users (name) VALUES ('o{n}')",
            "UPDATE users SET name = 'o{n}' WHERE id = {id}"
        ],
        new: &[
            READ,
            "INSERT INTO users (name, email) VALUES (NULL, 'w{n}@x')"
        ],
        plain: "ALTER TABLE users ALTER COLUMN name DROP NOT NULL",
        wrong_rows: "",
        abort_rewrites: false,
        extra: "",
    }
);

kind!(change_type_with_a_shadow_column_contract, change_type_with_a_shadow_column_abort, Case {
    changes: "  - change_type: { table: users, column: score, type: bigint, down: \"score::integer\" }\n",
    old: &[READ, "UPDATE users SET score = {n} % 1000 WHERE id = {id}", "INSERT INTO users (name, score) VALUES ('o{n}', 7)", "INSERT INTO users (name) VALUES ('o{n}')"],
    new: &[READ, "UPDATE users SET score = {n} % 999 WHERE id = {id}", "INSERT INTO users (name, score) VALUES ('w{n}', 8)", "INSERT INTO users (name) VALUES ('w{n}')"],
    plain: "ALTER TABLE users ALTER COLUMN score TYPE bigint",
    wrong_rows: "SELECT count(*) FROM users WHERE score IS NULL",
    abort_rewrites: false,
    extra: "",
});

kind!(
    change_type_in_place_contract,
    change_type_in_place_abort,
    Case {
        changes: "  - change_type: { table: users, column: nick, type: varchar(40), down: nick }\n",
        old: &[READ, "UPDATE users SET nick = 'o{n}' WHERE id = {id}"],
        new: &[
            READ,
            "UPDATE users SET nick = 'a-much-longer-nickname-{n}' WHERE id = {id}"
        ],
        plain: "ALTER TABLE users ALTER COLUMN nick TYPE varchar(40)",
        wrong_rows: "",
        abort_rewrites: true,
        extra: "",
    }
);

/// int -> bigint of a serial primary key that another table references.
const SERIAL_KEY: Case = Case {
    changes: "  - change_type: { table: orgs, column: id, type: bigint, down: \"id::integer\" }\n",
    old: &[READ, "INSERT INTO orgs (name) VALUES ('o{n}')", "INSERT INTO members (org_id) VALUES ({id} % 500 + 1)", "UPDATE orgs SET name = 'o{n}' WHERE id = {id} % 500 + 1"],
    new: &[READ, "INSERT INTO orgs (name) VALUES ('w{n}')", "INSERT INTO members (org_id) VALUES ({id} % 500 + 1)", "SELECT count(*) FROM members m JOIN orgs o ON o.id = m.org_id WHERE o.id = {id} % 500 + 1"],
    plain: "ALTER TABLE orgs ALTER COLUMN id TYPE bigint",
    wrong_rows: "SELECT count(*) FROM members m WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.id = m.org_id)",
    abort_rewrites: false,
    extra: "CREATE TABLE orgs (id serial PRIMARY KEY, name text NOT NULL);
            INSERT INTO orgs (name) SELECT 'o' || g FROM generate_series(1, 500) g;
            CREATE TABLE members (id bigserial PRIMARY KEY, org_id integer NOT NULL REFERENCES orgs (id) ON DELETE CASCADE);
            INSERT INTO members (org_id) SELECT g % 500 + 1 FROM generate_series(1, 5000) g;",
};

kind!(
    change_type_of_a_referenced_serial_key_contract,
    change_type_of_a_referenced_serial_key_abort,
    SERIAL_KEY
);

kind!(
    set_default_contract,
    set_default_abort,
    Case {
        changes: "  - set_default: { table: users, column: score, default: 5 }\n",
        old: &[READ, "INSERT INTO users (name, score) VALUES ('o{n}', 1)"],
        new: &[READ, "INSERT INTO users (name) VALUES ('w{n}')"],
        plain: "ALTER TABLE users ALTER COLUMN score SET DEFAULT 5",
        wrong_rows: "",
        abort_rewrites: false,
        extra: "",
    }
);

kind!(
    drop_default_contract,
    drop_default_abort,
    Case {
        changes: "  - drop_default: { table: users, column: name }\n",
        old: &[READ, "INSERT INTO users (name) VALUES ('o{n}')"],
        new: &[READ, "INSERT INTO users (name) VALUES ('w{n}')"],
        plain: "ALTER TABLE users ALTER COLUMN name DROP DEFAULT",
        wrong_rows: "",
        abort_rewrites: false,
        extra: "",
    }
);

kind!(
    drop_column_contract,
    drop_column_abort,
    Case {
        changes: "  - drop_column: { table: users, column: legacy }\n",
        old: &[
            READ,
            "UPDATE users SET legacy = 'o{n}' WHERE id = {id}",
            "SELECT legacy FROM users WHERE id = {id}"
        ],
        new: &[READ, "UPDATE users SET name = 'w{n}' WHERE id = {id}"],
        plain: "ALTER TABLE users DROP COLUMN legacy",
        wrong_rows: "",
        abort_rewrites: false,
        extra: "",
    }
);

kind!(
    add_index_contract,
    add_index_abort,
    Case {
        changes: "  - add_index: { table: users, name: users_name_idx, columns: [name] }\n",
        old: &[
            READ,
            "UPDATE users SET name = 'o{n}' WHERE id = {id}",
            "INSERT INTO users (name) VALUES ('o{n}')"
        ],
        new: &[READ, "SELECT id FROM users WHERE name = 'o{n}'"],
        plain: "CREATE INDEX users_name_idx ON users (name)",
        wrong_rows: "",
        abort_rewrites: false,
        extra: "",
    }
);

kind!(
    drop_index_contract,
    drop_index_abort,
    Case {
        changes: "  - drop_index: { name: users_email_idx }\n",
        old: &[
            READ,
            "SELECT id FROM users WHERE email = 'u{id}@x'",
            "UPDATE users SET email = 'o{n}@x' WHERE id = {id}"
        ],
        new: &[READ, "UPDATE users SET email = 'w{n}@x' WHERE id = {id}"],
        plain: "DROP INDEX users_email_idx",
        wrong_rows: "",
        abort_rewrites: false,
        extra: "",
    }
);

kind!(add_check_contract, add_check_abort, Case {
    changes: "  - add_check: { table: users, name: users_score_nonneg, check: \"score >= 0\", fill: { column: score, value: 0 } }\n",
    old: &[READ, "UPDATE users SET score = -1 WHERE id = {id}", "INSERT INTO users (name, score) VALUES ('o{n}', -5)"],
    new: &[READ, "UPDATE users SET score = 3 WHERE id = {id}"],
    plain: "ALTER TABLE users ADD CONSTRAINT users_score_nonneg CHECK (score >= 0)",
    wrong_rows: "SELECT count(*) FROM users WHERE score < 0",
    abort_rewrites: false,
    extra: "",
});

kind!(add_foreign_key_contract, add_foreign_key_abort, Case {
    changes: "  - add_foreign_key: { table: users, name: users_team_fk, columns: [team_id], references: { table: teams, columns: [id] } }\n",
    old: &[READ, "UPDATE users SET team_id = {n} % 10 + 1 WHERE id = {id}", "INSERT INTO users (name, team_id) VALUES ('o{n}', 2)"],
    new: &[READ, "INSERT INTO users (name, team_id) VALUES ('w{n}', 5)"],
    plain: "ALTER TABLE users ADD CONSTRAINT users_team_fk FOREIGN KEY (team_id) REFERENCES teams (id)",
    wrong_rows: "",
    abort_rewrites: false,
    extra: "",
});

kind!(
    add_unique_contract,
    add_unique_abort,
    Case {
        changes: "  - add_unique: { table: users, name: users_nick_key, columns: [nick] }\n",
        old: &[
            READ,
            "UPDATE users SET nick = 'o{n}' WHERE id = {id}",
            "INSERT INTO users (name, nick) VALUES ('o{n}', 'i{n}')"
        ],
        new: &[
            READ,
            "INSERT INTO users (name, nick) VALUES ('w{n}', 'w{n}')"
        ],
        plain: "ALTER TABLE users ADD CONSTRAINT users_nick_key UNIQUE (nick)",
        wrong_rows: "",
        abort_rewrites: false,
        extra: "",
    }
);

kind!(create_table_contract, create_table_abort, Case {
    changes: "  - create_table:\n      name: projects\n      columns:\n        - { name: id, type: bigint }\n        - { name: title, type: text, nullable: false, default: \"'untitled'\" }\n        - { name: owner, type: bigint, references: { table: users, column: id } }\n      primary_key: [id]\n",
    old: &[READ, "UPDATE users SET name = 'o{n}' WHERE id = {id}"],
    new: &[READ, "INSERT INTO projects (id, owner) VALUES ({n}, {id})"],
    plain: "CREATE TABLE projects (id bigint, title text NOT NULL DEFAULT 'untitled', owner bigint REFERENCES users (id), PRIMARY KEY (id))",
    wrong_rows: "",
    abort_rewrites: false,
    extra: "",
});

kind!(
    drop_table_contract,
    drop_table_abort,
    Case {
        changes: "  - drop_table: { name: audit }\n",
        old: &[
            READ,
            "INSERT INTO audit (note) VALUES ('o{n}')",
            "SELECT count(*) FROM audit"
        ],
        new: &[READ],
        plain: "DROP TABLE audit",
        wrong_rows: "",
        abort_rewrites: false,
        extra: "",
    }
);

kind!(
    rename_table_contract,
    rename_table_abort,
    Case {
        changes: "  - rename_table: { from: audit, to: audit_log }\n",
        old: &[
            READ,
            "INSERT INTO audit (note) VALUES ('o{n}')",
            "UPDATE audit SET note = 'u{n}' WHERE id = {id} % 1000 + 1",
            "SELECT count(*) FROM audit WHERE note LIKE 'o%'",
            "DELETE FROM audit WHERE id = {id} + 5000"
        ],
        new: &[
            READ,
            "INSERT INTO audit_log (note) VALUES ('w{n}')",
            "UPDATE audit_log SET note = 'v{n}' WHERE id = {id} % 1000 + 1"
        ],
        plain: "ALTER TABLE audit RENAME TO audit_log",
        wrong_rows: "SELECT count(*) FROM audit_log WHERE note IS NULL",
        abort_rewrites: false,
        extra: "",
    }
);

kind!(sql_contract, sql_abort, Case {
    changes: "  - sql:\n      up: CREATE INDEX CONCURRENTLY users_legacy_idx ON users (legacy)\n      down: DROP INDEX CONCURRENTLY IF EXISTS users_legacy_idx\n",
    old: &[READ, "UPDATE users SET legacy = 'o{n}' WHERE id = {id}"],
    new: &[READ, "SELECT id FROM users WHERE legacy = 'o{n}'"],
    plain: "CREATE INDEX users_legacy_idx ON users (legacy)",
    wrong_rows: "",
    abort_rewrites: false,
    extra: "",
});

/// Three changes on one table fill three columns in one backfill pass: one job, whose batches
/// tile the key space once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_on_one_table_share_one_backfill_pass() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(SCHEMA).await.unwrap();
    let (_dir, plan) = plan_file(
        "20261122_three",
        "backfill: { batch_size: 1000 }\nchanges:\n  - add_column: { table: users, column: { name: display, type: text }, backfill: \"name || '!'\" }\n  - set_not_null: { table: users, column: email, fill: \"'none'\" }\n  - change_type: { table: users, column: score, type: bigint, down: \"score::integer\" }\n",
    );
    run(&db, &["advance", &plan, "--progress", "plain"]).await;
    let jobs: Vec<String> = client
        .query(
            "SELECT step FROM switchback.jobs WHERE step LIKE '%backfill' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(jobs, ["users.backfill"]);
    let batches: Vec<(Option<i64>, i64, i64)> = client
        .query("SELECT after_key[1]::bigint, last_key[1]::bigint, rows FROM switchback.batches WHERE step = 'users.backfill' ORDER BY last_key[1]::bigint", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut previous = None;
    for (after, last, _) in &batches {
        assert_eq!(
            *after, previous,
            "batches must follow each other without gap or overlap"
        );
        previous = Some(*last);
    }
    assert_eq!(previous, Some(ROWS), "the pass reached the last key");
    let walked: i64 = batches.iter().map(|(_, _, rows)| rows).sum();
    assert!(walked <= ROWS, "rows were visited twice: {walked}");
    let wrong: i64 = client
        .query_one("SELECT count(*) FROM users WHERE display IS NULL OR email IS NULL OR sb_new_score IS DISTINCT FROM score", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0);
}

/// No statement of any example plan (one per change kind) takes ACCESS EXCLUSIVE for work
/// that reads or rewrites the table: those locks are held for catalog changes only.
#[test]
fn access_exclusive_is_only_taken_for_catalog_changes() {
    use switchback::pg::lock::LockMode;
    use switchback::plan::sql::Work;
    let set =
        switchback::plan::folder::load(&[concat!(env!("CARGO_MANIFEST_DIR"), "/plans").into()])
            .unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    let mut statements = 0;
    for plan in &set.plans {
        kinds.extend(plan.changes.iter().map(|c| c.kind()));
        for step in plan.steps("switchback", None).steps {
            for statement in &step.statements {
                statements += 1;
                let exclusive = statement
                    .locks
                    .iter()
                    .any(|l| l.mode == LockMode::AccessExclusive);
                assert!(
                    !exclusive || statement.work == Work::Instant,
                    "{}: {} holds ACCESS EXCLUSIVE for {:?}",
                    step.id,
                    statement.sql,
                    statement.work
                );
            }
        }
    }
    assert_eq!(
        kinds.len(),
        switchback::plan::change::catalogue().count(),
        "the example plans cover every kind: {kinds:?}"
    );
    assert!(statements > 50);
}

/// `kill -9` at the start of every step of the serial key's type change, expand and contract,
/// one step further each run: the end is the plain DDL's catalog with every row intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_step_of_a_key_type_change() {
    let case = &SERIAL_KEY;
    let db = TestDb::new().await;
    let client = setup(&db, case).await;
    let rows = "SELECT (SELECT md5(string_agg(format('%s %s', id, name), ',' ORDER BY id)) FROM orgs) || (SELECT md5(string_agg(format('%s %s', id, org_id), ',' ORDER BY id)) FROM members)";
    let before: String = client.query_one(rows, &[]).await.unwrap().get(0);
    let (_dir, plan) = plan_file("20261122_kind", &plan_text(case));
    let mut started = std::collections::BTreeSet::new();
    for _ in 0..60 {
        let stage: Option<String> = client
            .query_opt("SELECT stage FROM switchback.plans", &[])
            .await
            .ok()
            .flatten()
            .map(|r| r.get(0));
        if stage.as_deref() == Some("completed") {
            break;
        }
        let (run_db, path) = (db.clone(), plan.clone());
        let seen = started.clone();
        let killed_at = tokio::task::spawn_blocking(move || {
            let runner = support::runner::Runner::start(&run_db, &path, &[]);
            while let Some(event) = runner.next_event() {
                let step = event["step"].as_str().unwrap_or_default().to_owned();
                if event["event"] == "step_started" && !seen.contains(&step) {
                    runner.kill();
                    return Some(step);
                }
            }
            runner.finish();
            None
        })
        .await
        .unwrap();
        started.extend(killed_at);
        support::wait_for_runner_to_go(&db).await;
    }
    assert!(started.len() >= 8, "killed at {started:?}");
    assert!(
        started.contains("orgs.drop_sync"),
        "killed inside contract: {started:?}"
    );
    let expected = {
        let plain = TestDb::new().await;
        let c = setup(&plain, case).await;
        c.batch_execute(case.plain).await.unwrap();
        dump(&c).await
    };
    assert_eq!(dump(&client).await, expected);
    let after: String = client.query_one(rows, &[]).await.unwrap().get(0);
    assert_eq!(after, before, "every row survived");
}

/// add_check's fill overwrites values that break the check; abort puts the old ones back
/// (set_not_null's NULLs likewise), so the rows are exactly as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_puts_back_the_values_a_fill_overwrote() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client.batch_execute(SCHEMA).await.unwrap();
    client
        .batch_execute("UPDATE users SET score = -id WHERE id % 7 = 0")
        .await
        .unwrap();
    let rows =
        "SELECT md5(string_agg(format('%s %s %s', id, score, email), ',' ORDER BY id)) FROM users";
    let before: String = client.query_one(rows, &[]).await.unwrap().get(0);
    let (_dir, plan) = plan_file(
        "20261122_fill",
        "changes:\n  - add_check: { table: users, name: users_score_nonneg, check: \"score >= 0\", fill: { column: score, value: 0 } }\n  - set_not_null: { table: users, column: email, fill: \"'none'\" }\n",
    );
    run(&db, &["advance", &plan, "--progress", "plain"]).await;
    let negative: i64 = client
        .query_one(
            "SELECT count(*) FROM users WHERE score < 0 OR email IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(negative, 0, "expand filled them");
    run(&db, &["abort", &plan, "--progress", "plain"]).await;
    let after: String = client.query_one(rows, &[]).await.unwrap().get(0);
    assert_eq!(after, before);
}
