//! Renders engine events: progress bars on a terminal, plain lines when piped, JSON lines for
//! machines. Lives in the binary so the library never prints.

use indicatif::{HumanCount, ProgressBar, ProgressState, ProgressStyle};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use switchback::exec::{Event, Reporter};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Progress {
    /// Bars on a terminal, plain lines otherwise.
    Auto,
    Bars,
    Plain,
    /// One JSON object per event on stdout.
    Json,
}

pub fn reporter(progress: Progress) -> Box<dyn Reporter> {
    use std::io::IsTerminal;
    match progress {
        Progress::Json => Box::new(JsonLines),
        Progress::Bars => Box::new(Bars::default()),
        Progress::Auto if std::io::stderr().is_terminal() => Box::new(Bars::default()),
        Progress::Auto | Progress::Plain => Box::new(Plain::default()),
    }
}

struct JsonLines;

impl Reporter for JsonLines {
    fn report(&self, event: &Event) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string(event).expect("events serialize")
        );
        let _ = out.flush();
    }
}

/// One line per event, backfill progress at most every two seconds.
#[derive(Default)]
struct Plain {
    last_batch_line: Mutex<Option<Instant>>,
}

fn line(event: &Event) -> Option<String> {
    Some(match event {
        Event::Stage { plan, stage } => format!("{plan}: {stage} stage"),
        Event::Skipped { plan, change, kind, why } => format!("{plan}: changes[{change}] ({kind}) skipped: {why}"),
        Event::StepStarted { plan, step, title } => format!("{plan}: {step}: {title}"),
        Event::StepDone { plan, step, seconds } => format!("{plan}: {step}: done in {seconds:.2}s"),
        Event::LockRetry { plan, step, attempt, wait_ms, blockers } => {
            let who: Vec<String> = blockers.iter().map(|b| format!("pid {}", b.pid)).collect();
            format!("{plan}: {step}: lock not granted (attempt {attempt}), retrying in {wait_ms}ms; held by {}", if who.is_empty() { "unknown".into() } else { who.join(", ") })
        }
        Event::WaitingForSessions { plan, step, seconds, blockers } => {
            let who: Vec<String> = blockers.iter().map(|b| format!("\n    {b}")).collect();
            format!("{plan}: {step}: waiting {seconds:.0}s for older transactions to end (a CONCURRENTLY statement waits for every transaction older than it, on any table, and blocks no application statement meanwhile):{}", who.concat())
        }
        Event::Batch { plan, step, rows_done, rows_estimated, rows_per_second, batch_size, .. } => {
            let percent = if *rows_estimated > 0 { 100.0 * *rows_done as f64 / *rows_estimated as f64 } else { 100.0 };
            format!("{plan}: {step}: {rows_done}/{rows_estimated} rows ({percent:.0}%), {rows_per_second:.0} rows/s, batch {batch_size}")
        }
        Event::Paused { plan, step, by, reason } => format!("{plan}: {step}: paused by {by}: {reason}"),
        Event::Resumed { plan, step } => format!("{plan}: {step}: resumed"),
        Event::Throttled { plan, step, reason } => format!("{plan}: {step}: {reason}"),
        Event::Unthrottled { plan, step } => format!("{plan}: {step}: replicas caught up; going on"),
        Event::Triggers { plan, step, skipped, fired, why } => {
            let mut said = Vec::new();
            if !skipped.is_empty() {
                said.push(format!("the batches leave out {} (they fire for the application's writes, not the backfill's)", skipped.join(", ")));
            }
            if !fired.is_empty() {
                let why = why.as_deref().unwrap_or("ENABLE ALWAYS");
                said.push(format!("warning: the batches fire {} on every row they write: {why}", fired.join(", ")));
            }
            format!("{plan}: {step}: {}", said.join("; "))
        }
        Event::Sessions { plan, step, sessions } => format!("{plan}: {step}: {sessions} session(s) from the next batch on"),
        Event::Detached { plan, step } => format!("{plan}: {step}: left to workers; run `switchback backfill {plan}`, then `switchback advance` again"),
        Event::Verified { plan, step, rows } => format!("{plan}: {step}: {rows} rows verified"),
        Event::Gate { plan } => format!("{plan}: expand done — deploy the application that uses the new shape, then run `switchback advance` again"),
        Event::Completed { plan } => format!("{plan}: completed"),
        Event::UseUnchecked { plan, why } => format!("{plan}: warning: cannot check whether the application still uses what contract removes: {why}"),
        Event::Unused { plan, since, hidden } => {
            let since = since.as_deref().map_or(String::new(), |s| format!(" since {s}"));
            let hidden = match hidden { 0 => String::new(), n => format!(" (warning: {n} statement(s) of other roles could not be read; grant pg_read_all_stats to check them)") };
            format!("{plan}: no statement has used what contract removes{since} (pg_stat_statements){hidden}")
        }
        Event::WaitingUntilUnused { plan, statements, window } => format!("{plan}: waiting until none of these has run for {window} before contract:{}", statements.iter().map(|s| format!("\n    {s}")).collect::<String>()),
        Event::ContractForced { plan, reason, statements } => format!("{plan}: contract forced over {statements} statement(s) that used what it removes: {reason}"),
        Event::Recorded { plan, tool, table } => format!("{plan}: recorded as applied in {tool}'s table {table}"),
        Event::Waiting { plan, dependency } => format!("{plan}: waiting for plan {dependency} to complete"),
        Event::Undo { plan, step } => format!("{plan}: undoing {step}"),
        Event::Aborted { plan } => format!("{plan}: aborted; the schema and data are as before the plan"),
        Event::DryRun { plan, step, title, statements } => format!("{plan}: would run {step}: {title}\n{}", statements.iter().map(|s| format!("    {s};")).collect::<Vec<_>>().join("\n")),
    })
}

impl Reporter for Plain {
    fn report(&self, event: &Event) {
        if let Event::Batch {
            rows_done,
            rows_estimated,
            ..
        } = event
        {
            let mut last = self.last_batch_line.lock().expect("reporter lock");
            let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(2));
            if !due && rows_done < rows_estimated {
                return;
            }
            *last = Some(Instant::now());
        }
        if let Some(text) = line(event) {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }
}

/// A progress bar per backfill; other events print above it.
#[derive(Default)]
struct Bars {
    bar: Mutex<Option<(String, ProgressBar)>>,
}

impl Reporter for Bars {
    fn report(&self, event: &Event) {
        let mut bar = self.bar.lock().expect("reporter lock");
        match event {
            Event::Batch {
                step,
                rows_done,
                rows_estimated,
                ..
            } => {
                let current = match bar.as_ref() {
                    Some((name, b)) if name == step => b.clone(),
                    _ => {
                        let b = ProgressBar::new((*rows_estimated).max(1) as u64);
                        b.set_style(
                            ProgressStyle::with_template("  {msg} [{bar:40.cyan/blue}] {human_pos}/{human_len} rows {percent}% · {rate} · ETA {eta}")
                                .expect("valid template")
                                // indicatif's {per_sec} prints `62,407.0753/s`; people read rows/s.
                                .with_key("rate", |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                                    let _ = write!(w, "{} rows/s", HumanCount(state.per_sec() as u64));
                                })
                                .progress_chars("=> "),
                        );
                        b.set_message(step.clone());
                        *bar = Some((step.clone(), b.clone()));
                        b
                    }
                };
                current.set_length((*rows_estimated).max(*rows_done).max(1) as u64);
                current.set_position(*rows_done as u64);
            }
            other => {
                if let Some((_, b)) = bar.take() {
                    b.finish_and_clear();
                }
                if let Some(text) = line(other) {
                    let _ = writeln!(std::io::stderr().lock(), "{text}");
                }
            }
        }
    }
}
