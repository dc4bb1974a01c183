//! `switchback demo`: on a fresh machine, with no flags, the whole story on a throwaway
//! PostgreSQL: a 1,000,000-row `users` table, the old application writing to it, a plan
//! that renames `name` to `full_name` and makes `email` NOT NULL advanced through expand,
//! the new application deployed, contract, and the writer's latency throughout.

use crate::cli::database::block_on;
use crate::cli::{write_stdout, Failure, Outcome};
use crate::report::{reporter, Progress};
use std::time::{Duration, Instant};
use switchback::exec::{Executor, Options};
use switchback::pg::cluster::TempCluster;
use switchback::pg::connect;
use switchback::pg::query::Query;
use switchback::plan::folder;
use switchback::workload::{self, App, Writer};

const PLAN: &str = "description: Rename users.name to full_name; require an email
changes:
  - rename_column: { table: users, from: name, to: full_name }
  - set_not_null:  { table: users, column: email, fill: \"'unknown@example.com'\" }
backfill:
  batch_size: 10000
  target_batch_time: 50ms
lock_timeout: 2s
";

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rows in the demo's users table.
    #[arg(long, default_value_t = 1_000_000)]
    rows: i64,
    #[arg(long, value_enum, default_value = "auto")]
    progress: Progress,
}

fn say(text: &str) {
    let _ = write_stdout(&format!("\n==> {text}\n"));
}

pub fn run(args: Args, state_schema: &str) -> Result<Outcome, Failure> {
    say("starting a throwaway PostgreSQL cluster");
    let cluster = TempCluster::start()?;
    let info = connect::resolve(Some(&cluster.url("postgres")))?;
    let plans = tempfile::tempdir().map_err(Failure::Output)?;
    let plan_path = plans.path().join("20261122_users_full_name.yaml");
    std::fs::write(&plan_path, PLAN).map_err(Failure::Output)?;
    let set = folder::load(std::slice::from_ref(&plan_path))?;
    let plan = set.plans.first().expect("the demo plan is valid").clone();
    let reporter = reporter(args.progress);
    let options = Options {
        state_schema: state_schema.to_owned(),
        application: "switchback demo".into(),
        // Short, for a demo: contract starts once the old application's statements have
        // not run for this long (pg_stat_statements).
        unused_for: Duration::from_secs(2),
        ..Options::default()
    };
    block_on(async {
        let client = connect::connect(&info, "switchback demo").await?;
        say(&format!(
            "creating users with {} rows (one email in twenty is NULL)",
            args.rows
        ));
        let started = Instant::now();
        workload::create_users(&client, "users", args.rows).await?;
        // Where the server has the library, contract can see the old application's
        // statements; without it contract says it cannot check, and goes on.
        let _ = client
            .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .await;
        let _ = write_stdout(&format!(
            "    done in {:.1}s\n",
            started.elapsed().as_secs_f64()
        ));
        let writer = Writer::start(
            connect::connect(&info, "switchback demo: old application").await?,
            "users",
            args.rows,
            App::Old,
            Duration::from_millis(1),
        );
        let _ = write_stdout(&format!(
            "    plan {}:\n{}",
            plan.id,
            PLAN.lines()
                .map(|l| format!("      {l}\n"))
                .collect::<String>()
        ));

        say("deploy N: `switchback advance` runs the expand stage while the old application writes `name`");
        let mut executor = Executor::connect(&info, options, reporter.as_ref()).await?;
        let started = Instant::now();
        executor.advance(&plan).await?;
        let expand_seconds = started.elapsed().as_secs_f64();
        let row = client
            .fetch_one("SELECT count(*) FILTER (WHERE full_name IS DISTINCT FROM name), count(*) FILTER (WHERE email IS NULL), count(*) FROM users", &[])
            .await
            .map_err(switchback::Error::sql("check the expanded table"))?;
        let (differ, nulls, total): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        let _ = write_stdout(&format!(
            "    expand took {expand_seconds:.1}s; verification: {total} rows, {differ} where full_name differs from name, {nulls} NULL emails\n"
        ));

        say("deploy N+1: the new application writes `full_name`; `switchback advance` runs the contract stage once pg_stat_statements shows the old application's statements have stopped");
        writer.play(App::New);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        executor.advance(&plan).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let latency = writer.stop().await;
        let columns: Vec<String> = client
            .fetch(
                "SELECT format('%s %s%s', attname, format_type(atttypid, atttypmod), CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END)
                   FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
                &[],
            )
            .await
            .map_err(switchback::Error::sql("read the final table"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        say("done");
        let _ = write_stdout(&format!(
            "    users is now: {}\n    writer: {} statements, {} errors, latency p50 {:.2}ms, p99 {:.2}ms, max {:.1}ms (lock_timeout 2s)\n",
            columns.join(", "),
            latency.statements,
            latency.errors,
            latency.p50_ms,
            latency.p99_ms,
            latency.max_ms
        ));
        if let Some(error) = &latency.first_error {
            let _ = write_stdout(&format!("    first writer error: {error}\n"));
        }
        Ok(if latency.errors == 0 && differ == 0 && nulls == 0 {
            Outcome::Done
        } else {
            Outcome::Failed
        })
    })
}
