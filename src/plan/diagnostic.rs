//! Findings about plan files: a stable code, a severity, where (file, line, column and the
//! field path), what is wrong and how to fix it. Every check in `plan` reports through here,
//! so all output formats and exit codes agree.

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// What a live check learned (a row estimate, a rewrite decision); never fails a run.
    Note,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

macro_rules! codes {
    ($($variant:ident = $code:literal, $severity:ident, $title:literal;)*) => {
        /// Every finding switchback can report. Codes are stable: CI configurations and
        /// `allow:` lists refer to them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// A few words naming the problem, used as the title of annotations.
            pub fn title(self) -> &'static str {
                match self { $(Code::$variant => $title,)* }
            }
        }
    };
}

codes! {
    YamlSyntax = "E100", Error, "invalid YAML";
    WrongType = "E101", Error, "wrong type";
    UnknownKey = "E102", Error, "unknown key";
    MissingKey = "E103", Error, "missing key";
    UnknownChangeKind = "E104", Error, "unknown change kind";
    BadChangeEntry = "E105", Error, "malformed change entry";
    EmptyPlan = "E106", Error, "plan has no changes";
    BadDuration = "E107", Error, "invalid duration";
    BadValue = "E108", Error, "invalid value";
    NotText = "E109", Error, "plan file is not UTF-8 text";
    TooLarge = "E110", Error, "plan file too large";
    BadIdentifier = "E200", Error, "invalid identifier";
    IdentifierTooLong = "E201", Error, "identifier too long";
    BadExpression = "E202", Error, "invalid SQL expression";
    BadType = "E203", Error, "invalid SQL type";
    BadStatement = "E204", Error, "invalid SQL statement";
    UseAfterDrop = "E300", Error, "column used after the plan drops or renames it";
    ColumnConflict = "E301", Error, "two changes fight over one column";
    DuplicateName = "E302", Error, "duplicate object name";
    NotNullWithoutValue = "E303", Error, "NOT NULL column without a value for existing rows";
    TableGone = "E304", Error, "table used after the plan drops or renames it";
    BadTableDefinition = "E305", Error, "invalid table definition";
    NoOpChange = "E306", Error, "change does nothing";
    BadAllow = "E307", Error, "invalid allow list";
    DuplicatePlanId = "E400", Error, "duplicate plan id";
    UnknownDependency = "E401", Error, "unknown dependency";
    DependencyCycle = "E402", Error, "dependency cycle";
    StepCycle = "E403", Error, "step graph cycle";
    CaseFolding = "W500", Warning, "identifier with upper-case letters";
    UnneededAllow = "W501", Warning, "allow names a rule that did not fire";
    RawCreateIndex = "E600", Error, "CREATE INDEX without CONCURRENTLY";
    RawValidatingConstraint = "E601", Error, "ADD CONSTRAINT that validates under lock";
    RawSetNotNull = "E602", Error, "SET NOT NULL without a validated CHECK";
    RawAlterType = "E603", Error, "ALTER COLUMN TYPE that may rewrite";
    RawVolatileDefault = "E604", Error, "ADD COLUMN with a volatile default";
    RawRename = "E605", Error, "raw RENAME of a column or table";
    RawDrop = "E606", Error, "raw DROP of a column or table";
    RawRewrite = "E607", Error, "VACUUM FULL or CLUSTER";
    RawLockTable = "E608", Error, "LOCK TABLE";
    RawTruncate = "E609", Error, "TRUNCATE";
    NotNullWithoutFill = "W610", Warning, "set_not_null without fill";
    TypeChangeWithoutDown = "W611", Warning, "change_type without down";
    DropStillRead = "E612", Error, "dropped while the plan still reads it";
    ForeignKeyWithoutUniqueTarget = "E613", Error, "foreign key toward columns without a unique index";
    CharType = "W614", Warning, "char(n) column";
    JsonType = "W615", Warning, "json instead of jsonb";
    TimestampWithoutTimeZone = "W616", Warning, "timestamp without time zone";
    IntPrimaryKey = "W617", Warning, "32-bit integer primary key";
    ManyTablesBackfilled = "W618", Warning, "one plan backfills many tables";
    Missing = "E700", Error, "named object does not exist";
    AlreadyExists = "E701", Error, "object to create already exists";
    NoBackfillKey = "E702", Error, "table has no usable key for a backfill";
    NullsPresent = "E703", Error, "column still holds NULLs";
    DependentObjects = "E704", Error, "other objects depend on what the plan changes";
    FunctionMentions = "W705", Warning, "a function body mentions what the plan changes";
    EditedAppliedPlan = "E706", Error, "plan changed after it started";
    MissingPrivilege = "E707", Error, "the role lacks a privilege the plan needs";
    PoolerTimeout = "E708", Error, "a pooler keeps switchback from lifting statement_timeout";
    Rewrite = "N710", Note, "type change and rewrites";
    BackfillEstimate = "N711", Note, "backfill estimate";
    PlanState = "N712", Note, "plan state in the ledger";
    Pooler = "N713", Note, "connection through a pooler or proxy";
}

impl Code {
    /// Lint rules judge a valid plan and may be silenced by `allow:`; the other codes say a
    /// plan cannot run at all, or are notes.
    pub fn is_lint_rule(self) -> bool {
        let code = self.as_str();
        code == "W500"
            || code.starts_with(['E', 'W'])
                && code[1..] >= *"600"
                && !matches!(
                    self,
                    Code::EditedAppliedPlan | Code::MissingPrivilege | Code::PoolerTimeout
                )
    }

    pub fn parse(text: &str) -> Option<Code> {
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.as_str().eq_ignore_ascii_case(text.trim()))
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A 1-based line and column in a plan file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub file: PathBuf,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// Where in the plan's structure, as `changes[1].set_not_null.fill`; empty for the file.
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// The one-line form every text output uses:
/// `plans/x.yaml:7:20: error[E102]: unknown key `fil` (at changes[1].set_not_null)`.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        write!(f, ": {}[{}]: {}", self.severity, self.code, self.message)?;
        if !self.field.is_empty() {
            write!(f, " (at {})", self.field)?;
        }
        Ok(())
    }
}

/// Sorts findings the way a reader scans a file: by file, then position, then field.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (&a.file, a.position.is_none(), a.position, &a.field).cmp(&(
            &b.file,
            b.position.is_none(),
            b.position,
            &b.field,
        ))
    });
}
