//! The states the ledger records, as enums: a plan's stage, a step's status, a job's state
//! and a range's. Their text is the ledger's business; everyone else compares enums.

/// Where a plan is between `advance` calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The expand stage has started and not finished.
    Expanding,
    /// At the gate: expand is done and verified; waiting for the deploy and the next advance.
    Expanded,
    Contracting,
    Completed,
    Aborting,
    Aborted,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Expanding => "expanding",
            Stage::Expanded => "expanded",
            Stage::Contracting => "contracting",
            Stage::Completed => "completed",
            Stage::Aborting => "aborting",
            Stage::Aborted => "aborted",
        }
    }

    pub(super) fn parse(text: &str) -> Stage {
        match text {
            "expanded" => Stage::Expanded,
            "contracting" => Stage::Contracting,
            "completed" => Stage::Completed,
            "aborting" => Stage::Aborting,
            "aborted" => Stage::Aborted,
            _ => Stage::Expanding,
        }
    }
}

macro_rules! state_text {
    ($(#[$doc:meta])* $name:ident ($what:literal) { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($(#[$vdoc])* $variant),* }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub(super) fn parse(text: &str) -> Result<$name, crate::error::Error> {
                match text {
                    $($text => Ok($name::$variant),)*
                    other => Err(crate::error::Error::Refused(format!(
                        "read the ledger: {other:?} is not a {} this version of switchback knows",
                        $what
                    ))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }
    };
}

state_text!(
    /// Where one step is.
    StepStatus ("step status") {
        Pending => "pending",
        Running => "running",
        Done => "done",
        Failed => "failed",
        /// Abort put back what the step did.
        Undone => "undone",
    }
);

impl StepStatus {
    /// Whether the step touched the database (abort undoes those).
    pub fn has_run(self) -> bool {
        matches!(
            self,
            StepStatus::Running | StepStatus::Done | StepStatus::Failed
        )
    }
}

state_text!(
    /// Where a backfill or verification job is.
    JobState ("job state") {
        Running => "running",
        /// Waiting for replica lag to come down.
        Throttled => "throttled",
        Done => "done",
        /// A verification found rows that differ.
        Failed => "failed",
    }
);

/// Where one key range of a job is; written by the ledger, never read back as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeState {
    Pending,
    /// A worker holds it under a lease.
    Claimed,
    Done,
}

impl RangeState {
    pub fn as_str(self) -> &'static str {
        match self {
            RangeState::Pending => "pending",
            RangeState::Claimed => "claimed",
            RangeState::Done => "done",
        }
    }
}
