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

/// What a code means, for `--explain` and `docs/rules.md`, and how it may be used. Lint rules
/// keep theirs in their own file beside their logic (`plan::lint`); the other codes in
/// `plan::explain`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub code: &'static str,
    pub severity: Severity,
    /// A few words naming the problem, used as the title of annotations.
    pub title: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// The safe alternative.
    pub instead: &'static str,
    /// Lint rules judge a valid plan and may be silenced by `allow:`; the other codes say a
    /// plan cannot run at all, or are notes.
    pub allowable: bool,
    /// The names of squawk's rules this one covers, for teams moving from squawk.
    pub squawk: &'static str,
}

impl Rule {
    pub const fn error(code: &'static str, title: &'static str) -> Rule {
        Rule::new(code, Severity::Error, title)
    }

    pub const fn warning(code: &'static str, title: &'static str) -> Rule {
        Rule::new(code, Severity::Warning, title)
    }

    pub const fn note(code: &'static str, title: &'static str) -> Rule {
        Rule::new(code, Severity::Note, title)
    }

    const fn new(code: &'static str, severity: Severity, title: &'static str) -> Rule {
        Rule {
            code,
            severity,
            title,
            why: "",
            instead: "",
            allowable: false,
            squawk: "",
        }
    }

    pub const fn why(self, why: &'static str) -> Rule {
        Rule { why, ..self }
    }

    pub const fn instead(self, instead: &'static str) -> Rule {
        Rule { instead, ..self }
    }

    pub const fn squawk(self, squawk: &'static str) -> Rule {
        Rule { squawk, ..self }
    }

    pub const fn allowable(self) -> Rule {
        Rule {
            allowable: true,
            ..self
        }
    }
}

macro_rules! codes {
    ($($variant:ident => $rule:path;)*) => {
        /// Every finding switchback can report. Codes are stable: CI configurations and
        /// `allow:` lists refer to them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code { $($variant,)* }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            pub fn rule(self) -> &'static Rule {
                match self { $(Code::$variant => &$rule,)* }
            }
        }
    };
}

codes! {
    YamlSyntax => crate::plan::explain::YAML_SYNTAX;
    WrongType => crate::plan::explain::WRONG_TYPE;
    UnknownKey => crate::plan::explain::UNKNOWN_KEY;
    MissingKey => crate::plan::explain::MISSING_KEY;
    UnknownChangeKind => crate::plan::explain::UNKNOWN_CHANGE_KIND;
    BadChangeEntry => crate::plan::explain::BAD_CHANGE_ENTRY;
    EmptyPlan => crate::plan::explain::EMPTY_PLAN;
    BadDuration => crate::plan::explain::BAD_DURATION;
    BadValue => crate::plan::explain::BAD_VALUE;
    NotText => crate::plan::explain::NOT_TEXT;
    TooLarge => crate::plan::explain::TOO_LARGE;
    BadIdentifier => crate::plan::explain::BAD_IDENTIFIER;
    IdentifierTooLong => crate::plan::explain::IDENTIFIER_TOO_LONG;
    BadExpression => crate::plan::explain::BAD_EXPRESSION;
    BadType => crate::plan::explain::BAD_TYPE;
    BadStatement => crate::plan::explain::BAD_STATEMENT;
    UseAfterDrop => crate::plan::explain::USE_AFTER_DROP;
    ColumnConflict => crate::plan::explain::COLUMN_CONFLICT;
    DuplicateName => crate::plan::explain::DUPLICATE_NAME;
    NotNullWithoutValue => crate::plan::explain::NOT_NULL_WITHOUT_VALUE;
    TableGone => crate::plan::explain::TABLE_GONE;
    BadTableDefinition => crate::plan::explain::BAD_TABLE_DEFINITION;
    NoOpChange => crate::plan::explain::NO_OP_CHANGE;
    BadAllow => crate::plan::explain::BAD_ALLOW;
    DuplicatePlanId => crate::plan::explain::DUPLICATE_PLAN_ID;
    UnknownDependency => crate::plan::explain::UNKNOWN_DEPENDENCY;
    DependencyCycle => crate::plan::explain::DEPENDENCY_CYCLE;
    StepCycle => crate::plan::explain::STEP_CYCLE;
    CaseFolding => crate::plan::lint::case_folding::RULE;
    UnneededAllow => crate::plan::explain::UNNEEDED_ALLOW;
    RawCreateIndex => crate::plan::lint::raw_create_index::RULE;
    RawValidatingConstraint => crate::plan::lint::raw_validating_constraint::RULE;
    RawSetNotNull => crate::plan::lint::raw_set_not_null::RULE;
    RawAlterType => crate::plan::lint::raw_alter_type::RULE;
    RawVolatileDefault => crate::plan::lint::raw_volatile_default::RULE;
    RawRename => crate::plan::lint::raw_rename::RULE;
    RawDrop => crate::plan::lint::raw_drop::RULE;
    RawRewrite => crate::plan::lint::raw_rewrite::RULE;
    RawLockTable => crate::plan::lint::raw_lock_table::RULE;
    RawTruncate => crate::plan::lint::raw_truncate::RULE;
    RawRequiredColumn => crate::plan::lint::raw_required_column::RULE;
    RawDropIndex => crate::plan::lint::raw_drop_index::RULE;
    RawReindex => crate::plan::lint::raw_reindex::RULE;
    RawDomainConstraint => crate::plan::lint::raw_domain_constraint::RULE;
    RawDropNotNull => crate::plan::lint::raw_drop_not_null::RULE;
    TransactionNesting => crate::plan::lint::transaction_nesting::RULE;
    ConcurrentInTransaction => crate::plan::lint::concurrent_in_transaction::RULE;
    MissingTimeouts => crate::plan::lint::missing_timeouts::RULE;
    NotNullWithoutFill => crate::plan::lint::not_null_without_fill::RULE;
    TypeChangeWithoutDown => crate::plan::lint::type_change_without_down::RULE;
    DropStillRead => crate::plan::lint::drop_still_read::RULE;
    ForeignKeyWithoutUniqueTarget => crate::plan::lint::foreign_key_without_unique_target::RULE;
    CharType => crate::plan::lint::char_type::RULE;
    JsonType => crate::plan::lint::json_type::RULE;
    TimestampWithoutTimeZone => crate::plan::lint::timestamp_without_time_zone::RULE;
    IntPrimaryKey => crate::plan::lint::int_primary_key::RULE;
    ManyTablesBackfilled => crate::plan::lint::many_tables_backfilled::RULE;
    ArchiveOff => crate::plan::lint::archive_off::RULE;
    Missing => crate::plan::explain::MISSING;
    AlreadyExists => crate::plan::explain::ALREADY_EXISTS;
    NoBackfillKey => crate::plan::explain::NO_BACKFILL_KEY;
    NullsPresent => crate::plan::explain::NULLS_PRESENT;
    DependentObjects => crate::plan::explain::DEPENDENT_OBJECTS;
    FunctionMentions => crate::plan::explain::FUNCTION_MENTIONS;
    EditedAppliedPlan => crate::plan::explain::EDITED_APPLIED_PLAN;
    MissingPrivilege => crate::plan::explain::MISSING_PRIVILEGE;
    PoolerTimeout => crate::plan::explain::POOLER_TIMEOUT;
    PartitionedTable => crate::plan::explain::PARTITIONED_TABLE;
    Rewrite => crate::plan::explain::REWRITE;
    BackfillEstimate => crate::plan::explain::BACKFILL_ESTIMATE;
    PlanState => crate::plan::explain::PLAN_STATE;
    Pooler => crate::plan::explain::POOLER;
    Partitioned => crate::plan::explain::PARTITIONED;
    Skipped => crate::plan::explain::SKIPPED;
    StillUsed => crate::plan::explain::STILL_USED;
    TriggersLeftOut => crate::plan::explain::TRIGGERS_LEFT_OUT;
    TriggersFired => crate::plan::explain::TRIGGERS_FIRED;
    UseUnchecked => crate::plan::explain::USE_UNCHECKED;
    ProbableRename => crate::plan::explain::PROBABLE_RENAME;
    KeptAsSql => crate::plan::explain::KEPT_AS_SQL;
    LeftOut => crate::plan::explain::LEFT_OUT;
    DownDiffers => crate::plan::explain::DOWN_DIFFERS;
    CascadeLeftOut => crate::plan::explain::CASCADE_LEFT_OUT;
    DownLosesData => crate::plan::explain::DOWN_LOSES_DATA;
}

impl Code {
    pub fn as_str(self) -> &'static str {
        self.rule().code
    }

    pub fn severity(self) -> Severity {
        self.rule().severity
    }

    pub fn title(self) -> &'static str {
        self.rule().title
    }

    pub fn is_lint_rule(self) -> bool {
        self.rule().allowable
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
