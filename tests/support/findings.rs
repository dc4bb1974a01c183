//! Findings of plan files written to a fresh folder, as one line each, for tests that assert
//! exact codes, positions and messages.

use switchback::plan::folder;

/// Writes `files` into a fresh folder, validates it, and renders each finding as
/// `file:line:col: severity[CODE]: message (at field)` plus ` [help: ...]`.
pub fn findings(files: &[(&str, &[u8])]) -> (Vec<String>, usize) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let set = folder::load(&[dir.path().to_path_buf()]).unwrap();
    let prefix = format!("{}/", dir.path().display());
    let lines = set
        .diagnostics
        .iter()
        .map(|d| {
            let mut line = d.to_string().replace(&prefix, "");
            if let Some(help) = &d.help {
                line.push_str(&format!(" [help: {help}]"));
            }
            line
        })
        .collect();
    (lines, set.plans.len())
}

/// Asserts the findings, and that a file with an error yields no plan.
pub fn assert_findings(files: &[(&str, &[u8])], expected: &[&str]) {
    let (lines, plans) = findings(files);
    assert_eq!(lines, expected);
    let files_with_errors = expected
        .iter()
        .filter(|e| e.contains(": error["))
        .map(|e| e.split(':').next().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    assert_eq!(
        plans,
        files.len() - files_with_errors,
        "a file with errors must not yield a plan, and a clean one must"
    );
}
