//! Records the git commit the binary is built from, for `GET /` (Qdrant
//! reports its own there). `GIT_COMMIT_ID` set by the caller wins; outside a
//! git checkout there is none and `commit` is left out of the answer.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=GIT_COMMIT_ID");
    // A new commit moves HEAD or the branch it points at.
    // (Only paths that exist: a missing one would rerun this script every build.)
    for path in ["../../.git/HEAD", "../../.git/refs/heads", "../../.git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    if std::env::var_os("GIT_COMMIT_ID").is_some() {
        return;
    }
    let head = Command::new("git").args(["rev-parse", "HEAD"]).output();
    if let Ok(out) = head
        && out.status.success()
        && let Ok(commit) = String::from_utf8(out.stdout)
        && commit.trim().len() == 40
    {
        println!("cargo:rustc-env=GIT_COMMIT_ID={}", commit.trim());
    }
}
