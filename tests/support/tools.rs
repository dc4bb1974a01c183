//! The real programs the application side of some tests needs (drizzle-orm's migrator,
//! dbmate, psycopg 3, asyncpg, node-postgres), installed on first use from the npm registry
//! and PyPI into `target/test-tools`, at pinned versions. `flock` serialises the install
//! across the test binaries that ask at once; later runs find it done.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-tools")
}

/// Runs `install` (a shell command, in `dir`) once, under a lock, unless `marker` is there.
fn once(dir: &PathBuf, marker: &str, install: &str) {
    std::fs::create_dir_all(dir).unwrap();
    if dir.join(marker).exists() {
        return;
    }
    let script = format!("test -e {marker} || {{ {install} && touch {marker}; }}");
    let out = Command::new("flock")
        .current_dir(dir)
        .arg(dir.join(".lock"))
        .args(["sh", "-c", &script])
        .output()
        .expect("flock (util-linux) runs");
    assert!(
        out.status.success(),
        "installing the test tools in {} failed ({install}):\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `node_modules` holding drizzle-orm, pg (node-postgres) and dbmate.
pub fn node_modules() -> PathBuf {
    let dir = root().join("node");
    once(
        &dir,
        "installed-1",
        "npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error drizzle-orm@0.45.4 pg@8.23.1 dbmate@2.36.0",
    );
    dir.join("node_modules")
}

/// A `node` command that finds the installed modules.
pub fn node() -> Command {
    let modules = node_modules();
    let mut command = Command::new("node");
    command.env("NODE_PATH", &modules);
    command
}

/// The dbmate binary of the npm package.
pub fn dbmate() -> Command {
    let modules = node_modules();
    Command::new(modules.join(".bin").join("dbmate"))
}

/// A `python3` command that finds psycopg 3 and asyncpg.
pub fn python() -> Command {
    let dir = root().join("python");
    once(
        &dir,
        "installed-1",
        "python3 -m pip install --quiet --disable-pip-version-check --target site 'psycopg[binary]==3.2.13' 'asyncpg==0.32.0'",
    );
    let mut command = Command::new("python3");
    command.env("PYTHONPATH", dir.join("site"));
    command
}
