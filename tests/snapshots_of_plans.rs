//! Snapshots of `plan` output (text and sql) for every example plan: one per change kind
//! and the multi-change plan. A diff here is a change in what switchback would run.

use std::path::{Path, PathBuf};
use switchback::plan::folder;
use switchback::render::{plan as render, Style};

fn example_plans() -> Vec<PathBuf> {
    folder::plan_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("plans")).unwrap()
}

#[test]
fn every_example_plan_renders_as_text_and_sql() {
    let files = example_plans();
    assert!(files.len() >= 18);
    for file in files {
        let set = folder::load(std::slice::from_ref(&file)).unwrap();
        assert_eq!(set.diagnostics, [], "{}", file.display());
        let graph = switchback::graph::build(&set.plans, "switchback").unwrap();
        let id = &set.plans[0].id;
        insta::assert_snapshot!(
            format!("{id}.text"),
            render::text(&set.plans, &graph, Style { color: false })
        );
        insta::assert_snapshot!(format!("{id}.sql"), render::sql(&set.plans, &graph));
    }
}
