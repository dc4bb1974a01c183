//! Reading one plan file: bytes to YAML to raw serde structs to the validated `Plan`.

use crate::error::Error;
use crate::pg::quote::fnv1a;
use crate::plan::allow::{self, Allow};
use crate::plan::archive::Archive;
use crate::plan::change::{self, Change, KINDS};
use crate::plan::check::{did_you_mean, Checker, SqlText};
use crate::plan::diagnostic::{Code, Diagnostic, Position};
use crate::plan::record::RawRecord;
use crate::plan::source::{FieldPath, SourceMap};
use crate::plan::{
    duration, lint, semantics, BackfillSettings, Dependency, Plan, DEFAULT_INDEX_WORKERS,
    DEFAULT_LOCK_TIMEOUT, MAX_INDEX_WORKERS, MAX_WORKERS,
};
use serde::Deserialize;
use serde_yaml::Value;
use std::path::Path;

/// Plan files are hand-written; anything this large is a mistake, and refusing it early keeps
/// a stray multi-megabyte file from slowing CI down.
pub const MAX_PLAN_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    description: Option<String>,
    #[serde(default)]
    depends_on: Vec<String>,
    schema: Option<String>,
    backfill: Option<RawBackfill>,
    lock_timeout: Option<SqlText>,
    index_workers: Option<u32>,
    record: Option<RawRecord>,
    archive: Option<SqlText>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a mapping of workers, batch_size, target_batch_time, max_rows_per_second, max_replica_lag"
)]
struct RawBackfill {
    workers: Option<u64>,
    batch_size: Option<u64>,
    target_batch_time: Option<SqlText>,
    max_rows_per_second: Option<u64>,
    max_replica_lag: Option<SqlText>,
}

/// Reads and checks one plan file. I/O failures are errors; everything wrong with the file's
/// content is a finding, and the plan is returned only when no finding is an error.
pub fn load_file(path: &Path) -> Result<(Option<Plan>, Vec<Diagnostic>), Error> {
    let read_error = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    let file_finding = |code: Code, message: String| Diagnostic {
        code,
        severity: code.severity(),
        file: path.to_path_buf(),
        position: None,
        field: String::new(),
        message,
        help: None,
    };
    if size > MAX_PLAN_BYTES {
        let message =
            format!("plan file is {size} bytes; plans are at most {MAX_PLAN_BYTES} bytes");
        return Ok((None, vec![file_finding(Code::TooLarge, message)]));
    }
    let bytes = std::fs::read(path).map_err(read_error)?;
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok((
            None,
            vec![file_finding(
                Code::NotText,
                "plan file is not UTF-8 text".into(),
            )],
        ));
    };
    Ok(check_text(path, &text))
}

fn id_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Checks plan text that did not come from a file (a definition stored in the ledger); the
/// plan's id is `path`'s stem.
pub fn check_text(path: &Path, text: &str) -> (Option<Plan>, Vec<Diagnostic>) {
    let source = SourceMap::build(text);
    let mut cx = Checker::new(path, &source);
    let mut allows = Vec::new();
    let plan = check_document(path, text, &mut cx, &mut allows);
    let mut diagnostics = std::mem::take(&mut cx.diagnostics);
    // Live-catalog rules cannot fire offline, so allowing them is never "unneeded" here.
    let offline = |code: Code| code.as_str()[1..] < *"700";
    allow::apply(&mut diagnostics, &allows, Some((&mut cx, &offline)));
    diagnostics.append(&mut cx.diagnostics);
    let plan = plan
        .filter(|_| !diagnostics.iter().any(Diagnostic::is_error))
        .map(|plan| Plan { allows, ..plan });
    crate::plan::diagnostic::sort(&mut diagnostics);
    (plan, diagnostics)
}

fn check_document(
    path: &Path,
    text: &str,
    cx: &mut Checker,
    allows: &mut Vec<Allow>,
) -> Option<Plan> {
    let root = FieldPath::root();
    let document: Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let position = e.location().map(|l| Position {
                line: l.line(),
                column: l.column(),
            });
            // serde_yaml appends " at line L column C"; the position is printed separately.
            let message = e.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            cx.push(
                Code::YamlSyntax,
                position,
                &root,
                format!("invalid YAML: {message}"),
                None,
            );
            return None;
        }
    };
    let mut mapping = match document {
        Value::Mapping(m) => m,
        Value::Null => {
            cx.report(
                Code::EmptyPlan,
                &root,
                "plan file is empty".into(),
                Some("a plan needs a `changes:` list".into()),
            );
            return None;
        }
        _ => {
            cx.report(
                Code::WrongType,
                &root,
                "a plan file is a mapping with a `changes:` list".into(),
                None,
            );
            return None;
        }
    };
    let changes = mapping.remove("changes");
    allows.extend(Allow::take(&mut mapping, &root, false, cx));
    let header: Option<RawHeader> = cx.deserialize(&root, Value::Mapping(mapping));
    let changes = check_changes(changes, cx, allows);
    let header = header?;

    let schema = cx.ident(
        &root.key("schema"),
        header.schema.as_deref().unwrap_or("public"),
    );
    let lock_timeout = header
        .lock_timeout
        .map(|t| positive_duration(cx, &root.key("lock_timeout"), &t.0))
        .unwrap_or(Some(DEFAULT_LOCK_TIMEOUT));
    let index_workers = match header.index_workers {
        Some(n) if n > MAX_INDEX_WORKERS => {
            cx.report(
                Code::BadValue,
                &root.key("index_workers"),
                format!("`index_workers` is at most {MAX_INDEX_WORKERS}, PostgreSQL's limit for max_parallel_maintenance_workers"),
                None,
            );
            None
        }
        n => Some(n.unwrap_or(DEFAULT_INDEX_WORKERS)),
    };
    let backfill = header
        .backfill
        .map(|b| check_backfill(b, &root.key("backfill"), cx))
        .unwrap_or_default();
    let depends_on = header
        .depends_on
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let at = root.key("depends_on").index(i);
            Dependency {
                id,
                position: cx.position(&at),
                field: at.to_string(),
            }
        })
        .collect();
    let record = header.record.map(|raw| raw.check(&root.key("record"), cx));
    let archive = match &header.archive {
        Some(raw) => Archive::check(raw, &root.key("archive"), cx),
        None => Some(Archive::default()),
    };
    let changes = changes?;
    let change_dependencies = semantics::check(&changes, cx);
    lint::changes(&changes, cx);
    // A record that did not check is an error already reported.
    let record = match record {
        Some(None) => return None,
        checked => checked.flatten(),
    };
    let plan = Plan {
        id: id_of(path),
        file: path.to_path_buf(),
        description: header.description,
        depends_on,
        schema,
        changes: changes.into_iter().map(|(c, _)| c).collect(),
        backfill,
        lock_timeout: lock_timeout?,
        index_workers: index_workers?,
        checksum: format!("{:016x}", fnv1a(text.as_bytes())),
        text: text.to_owned(),
        change_dependencies,
        allows: Vec::new(),
        record,
        archive: archive?,
    };
    lint::steps(&plan, cx);
    Some(plan)
}

/// Checks every entry of `changes:`; all entries are checked even when one fails.
fn check_changes(
    changes: Option<Value>,
    cx: &mut Checker,
    allows: &mut Vec<Allow>,
) -> Option<Vec<(Change, FieldPath)>> {
    let root = FieldPath::root();
    let entries = match changes {
        None => {
            cx.report(
                Code::MissingKey,
                &root,
                "missing key `changes`".into(),
                None,
            );
            return None;
        }
        Some(Value::Sequence(entries)) => entries,
        Some(Value::Null) => Vec::new(),
        Some(_) => {
            cx.report(
                Code::WrongType,
                &root.key("changes"),
                "`changes` must be a list".into(),
                None,
            );
            return None;
        }
    };
    if entries.is_empty() {
        cx.report(
            Code::EmptyPlan,
            &root.key("changes"),
            "`changes` is empty".into(),
            None,
        );
        return None;
    }
    let mut checked = Vec::new();
    let mut all_valid = true;
    for (index, entry) in entries.into_iter().enumerate() {
        let at = root.key("changes").index(index);
        match check_change(entry, &at, cx, allows) {
            Some(change) => checked.push(change),
            None => all_valid = false,
        }
    }
    all_valid.then_some(checked)
}

fn check_change(
    entry: Value,
    at: &FieldPath,
    cx: &mut Checker,
    allows: &mut Vec<Allow>,
) -> Option<(Change, FieldPath)> {
    let example = "a change is a mapping with one key naming its kind, like `- rename_column: { table: users, from: name, to: full_name }`";
    let Value::Mapping(mapping) = entry else {
        cx.report(Code::BadChangeEntry, at, example.into(), None);
        return None;
    };
    if mapping.len() != 1 {
        let keys: Vec<String> = mapping
            .keys()
            .filter_map(|k| k.as_str().map(|k| format!("`{k}`")))
            .collect();
        cx.report(
            Code::BadChangeEntry,
            at,
            format!(
                "a change has exactly one kind, found {} keys ({})",
                mapping.len(),
                keys.join(", ")
            ),
            Some("start each change with its own `- `".into()),
        );
        return None;
    }
    let (kind, mut value) = mapping.into_iter().next()?;
    let Some(kind) = kind.as_str().map(str::to_owned) else {
        cx.report(Code::BadChangeEntry, at, example.into(), None);
        return None;
    };
    let at = at.key(&kind);
    if KINDS.contains(&kind.as_str()) && !value.is_mapping() {
        cx.report(
            Code::WrongType,
            &at,
            format!("`{kind}` takes a mapping of its fields"),
            Some(format!("write `{kind}: {{ ... }}` with its fields inside")),
        );
        return None;
    }
    if let Value::Mapping(fields) = &mut value {
        allows.extend(Allow::take(fields, &at, kind == "sql", cx));
    }
    match Change::check(&kind, value, &at, cx) {
        Some(change) => change.map(|c| (c, at)),
        None => {
            let catalogue: Vec<&str> = change::catalogue().collect();
            let help = did_you_mean(&kind, &catalogue)
                .unwrap_or_else(|| format!("the change kinds are {}", catalogue.join(", ")));
            cx.report_key(
                Code::UnknownChangeKind,
                &at,
                format!("unknown change kind `{kind}`"),
                Some(help),
            );
            None
        }
    }
}

fn positive_duration(cx: &mut Checker, at: &FieldPath, text: &str) -> Option<std::time::Duration> {
    match duration::parse(text) {
        Ok(d) if d.is_zero() => {
            cx.report(
                Code::BadValue,
                at,
                format!("`{text}` must be more than zero"),
                None,
            );
            None
        }
        Ok(d) => Some(d),
        Err(message) => {
            cx.report(Code::BadDuration, at, message, None);
            None
        }
    }
}

fn check_backfill(raw: RawBackfill, at: &FieldPath, cx: &mut Checker) -> BackfillSettings {
    let defaults = BackfillSettings::default();
    let workers = match raw.workers {
        Some(n @ 1..) if n <= u64::from(MAX_WORKERS) => Some(n as u16),
        Some(n) => {
            cx.report(
                Code::BadValue,
                &at.key("workers"),
                format!("`workers: {n}` must be from 1 to {MAX_WORKERS}"),
                None,
            );
            None
        }
        None => None,
    };
    if raw.batch_size == Some(0) {
        cx.report(
            Code::BadValue,
            &at.key("batch_size"),
            "`batch_size` must be at least 1".into(),
            None,
        );
    }
    let max_replica_lag = raw
        .max_replica_lag
        .and_then(|t| positive_duration(cx, &at.key("max_replica_lag"), &t.0));
    let target_batch_time = raw
        .target_batch_time
        .and_then(|t| positive_duration(cx, &at.key("target_batch_time"), &t.0));
    BackfillSettings {
        workers: workers.unwrap_or(defaults.workers),
        batch_size: raw.batch_size.unwrap_or(defaults.batch_size),
        target_batch_time: target_batch_time.unwrap_or(defaults.target_batch_time),
        max_rows_per_second: raw
            .max_rows_per_second
            .unwrap_or(defaults.max_rows_per_second),
        max_replica_lag: max_replica_lag.unwrap_or(defaults.max_replica_lag),
    }
}
