//! Replica-lag throttling against a real streaming replica (`pg_basebackup -R`): pausing
//! replay on the replica makes the backfill wait, saying why in `status`; resuming replay lets
//! it finish. A replica that cannot be reached also makes it wait (fail closed), and so does
//! a replica whose lag the role may not read, until it is granted pg_monitor.

mod support;

use support::runner::Runner;
use support::{plan_file, switchback, text, TestDb};
use switchback::pg::cluster::TempCluster;

const PLAN: &str = "changes:\n  - set_not_null: { table: users, column: email, fill: \"'x'\" }\nbackfill: { batch_size: 1000, max_rows_per_second: 20000, max_replica_lag: 1s }\n";

async fn users(db: &TestDb) {
    db.client()
        .await
        .batch_execute("CREATE TABLE users (id bigint PRIMARY KEY, email text); INSERT INTO users SELECT g, NULL FROM generate_series(1, 100000) g;")
        .await
        .unwrap();
}

async fn rows_done(db: &TestDb) -> i64 {
    db.client()
        .await
        .query_one("SELECT rows_done FROM switchback.jobs", &[])
        .await
        .unwrap()
        .get(0)
}

fn ok(out: std::process::Output) {
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Writes on the primary until the paused replica has received WAL it has not replayed for
/// over a second: the lag the backfill reads.
async fn replica_lags_more_than_a_second(db: &TestDb, standby: &tokio_postgres::Client) {
    let primary = db.client().await;
    let started = std::time::Instant::now();
    loop {
        primary
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS wal_maker (n int); INSERT INTO wal_maker VALUES (1)",
            )
            .await
            .unwrap();
        let behind: bool = standby
            .query_one(
                "SELECT pg_last_wal_receive_lsn() <> pg_last_wal_replay_lsn()
                    AND now() - pg_last_xact_replay_timestamp() > interval '1.5 seconds'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if behind {
            return;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the paused replica never fell behind"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_replay_on_a_replica_makes_the_backfill_wait() {
    // A primary of our own, whatever DATABASE_URL says: the test needs to start its replica.
    let primary = TempCluster::start().unwrap();
    let replica = primary.start_replica().unwrap();
    let db = TestDb {
        url: primary.url("postgres"),
        direct: primary.url("postgres"),
    };
    users(&db).await;
    let (_dir, plan) = plan_file("20261122_lag", PLAN);
    let replica_url = replica.url("postgres");
    let runner = Runner::start(&db, &plan, &["--replica-url", &replica_url]);
    runner.wait_for("batch", 2);

    // Held by the control plane while the replica falls behind, so the backfill cannot end
    // before the lag passes its bound, however fast this machine runs it.
    ok(switchback(
        &db,
        &["pause", "20261122_lag", "--reason", "test"],
    ));
    runner.wait_for("paused", 1);
    let standby = support::connect(&replica_url).await;
    standby
        .batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    replica_lags_more_than_a_second(&db, &standby).await;
    ok(switchback(&db, &["resume", "20261122_lag"]));
    let throttled = runner.wait_for("throttled", 1);
    assert!(
        rows_done(&db).await < 100_000,
        "the backfill ran on past the lag"
    );
    let reason = throttled["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("throttled: replica lag ")
            && reason.contains("s > 1s on postgresql://postgres@127.0.0.1:"),
        "{reason}"
    );

    let status: serde_json::Value =
        serde_json::from_slice(&switchback(&db, &["status", "--format", "json"]).stdout).unwrap();
    let job = &status["plans"][0]["jobs"][0];
    assert_eq!(job["state"], "throttled");
    assert!(
        job["note"]
            .as_str()
            .unwrap()
            .starts_with("throttled: replica lag "),
        "{job}"
    );
    let text_status = text(&switchback(&db, &["status"]).stdout);
    assert!(
        text_status.contains("    throttled: replica lag "),
        "{text_status}"
    );

    standby
        .batch_execute("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    runner.wait_for("unthrottled", 1);
    runner.wait_for("batch", 1);
    runner.finish();
    assert_eq!(support::null_emails(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_replica_makes_the_backfill_wait_and_its_password_stays_hidden() {
    let db = TestDb::new().await;
    users(&db).await;
    let (_dir, plan) = plan_file("20261122_lag", PLAN);
    let mut runner = Runner::start(
        &db,
        &plan,
        &[
            "--replica-url",
            "postgres://watcher:s3cret@127.0.0.1:1/postgres",
        ],
    );
    let throttled = runner.wait_for("throttled", 1);
    assert_eq!(
        throttled["reason"],
        "throttled: cannot reach replica postgresql://watcher@127.0.0.1:1/postgres; waiting"
    );
    assert_eq!(
        rows_done(&db).await,
        0,
        "no batch runs while the lag is unknown"
    );
    runner.child.kill().unwrap();
    runner.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_the_role_may_not_read_makes_the_backfill_wait_until_granted() {
    let primary = TempCluster::start().unwrap();
    let _replica = primary.start_replica().unwrap();
    let admin = support::connect(&primary.url("postgres")).await;
    admin
        .batch_execute(
            "CREATE ROLE mover LOGIN NOSUPERUSER NOCREATEDB; GRANT CREATE ON DATABASE postgres TO mover; GRANT CREATE ON SCHEMA public TO mover;",
        )
        .await
        .unwrap();
    let url = primary.url("postgres").replace("postgres@", "mover@");
    let db = TestDb {
        url: url.clone(),
        direct: url,
    };
    users(&db).await;
    let streaming: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(streaming, 1, "the standby streams");
    let (_dir, plan) = plan_file("20261122_lag", PLAN);
    let runner = Runner::start(&db, &plan, &[]);
    let throttled = runner.wait_for("throttled", 1);
    assert_eq!(
        throttled["reason"],
        "throttled: replica lag is hidden from role mover (1 replica(s) in pg_stat_replication); grant it pg_monitor (GRANT pg_monitor TO \"mover\"), or pass --replica-url for each replica; waiting"
    );
    assert_eq!(
        rows_done(&db).await,
        0,
        "no batch runs while the lag is unknown"
    );
    admin
        .batch_execute("GRANT pg_monitor TO mover")
        .await
        .unwrap();
    runner.wait_for("unthrottled", 1);
    runner.finish();
    assert_eq!(support::null_emails(&db).await, 0);
}
