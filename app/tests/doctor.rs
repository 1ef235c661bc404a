//! `meshdesk doctor` through the real binary: a healthy store passes (exit
//! 0), a damaged one is reported document by document (exit 1), and the
//! doctor writes nothing.

use meshdesk_model::store::Replication;
use std::path::Path;
use std::process::{Command, Output};

use meshdesk_model::authorship::{DeviceKey, Sealed};
use meshdesk_model::store::Store;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meshdesk"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("MESHDESK_DATA_DIR")
        .output()
        .unwrap_or_else(|e| panic!("run meshdesk: {e}"))
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "{args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn created(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let reply: serde_json::Value =
        serde_json::from_str(&ok(dir, &all)).unwrap_or_else(|e| panic!("not JSON: {e}"));
    reply["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {reply}"))
        .to_string()
}

/// Flips the first byte of every copy of `needle` in the file.
fn corrupt_on_disk(path: &Path, needle: &[u8]) -> usize {
    let mut file = std::fs::read(path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    let hits: Vec<usize> = (0..file.len().saturating_sub(needle.len()))
        .filter(|&at| file[at..].starts_with(needle))
        .collect();
    for &at in &hits {
        file[at] ^= 0xff;
    }
    std::fs::write(path, file).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
    hits.len()
}

#[test]
fn doctor_passes_a_healthy_store_and_reports_a_corrupt_document_then_its_quarantine() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let dir = dir.path();
    ok(
        dir,
        &["team", "create", "--name", "Support", "--agent", "Ana"],
    );
    created(dir, &["contact", "add", "--name", "Kept"]);
    let broken = created(dir, &["contact", "add", "--name", "Broken"]);

    let out = run(dir, &["doctor"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("no problems found"), "{stdout}");
    let out = run(dir, &["--json", "doctor"]);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}"));
    assert_eq!(report["documents"], 4);
    assert_eq!(report["problems"], serde_json::json!([]));

    // The broken contact's bytes, damaged in the redb file itself.
    let store_path = dir.join("meshdesk.redb");
    let doc = format!("contact:{broken}");
    let stored = {
        let store =
            Store::open(&store_path, DeviceKey::generate()).unwrap_or_else(|e| panic!("open: {e}"));
        let raw = store
            .raw_doc_bytes(std::slice::from_ref(&doc), usize::MAX)
            .unwrap_or_else(|e| panic!("raw: {e}"));
        let first = raw.first().unwrap_or_else(|| panic!("{doc} is stored"));
        Sealed::decode(&first.bytes)
            .unwrap_or_else(|e| panic!("sealed: {e}"))
            .bytes
    };
    assert!(corrupt_on_disk(&store_path, &stored) > 0);

    let out = run(dir, &["doctor"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("problem: {doc}: its stored bytes do not load")),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 problem(s)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The doctor quarantined nothing: the phonebook still lists it.
    assert!(ok(dir, &["contact", "list"]).contains("Broken"));

    // Editing it finds it broken and quarantines it, with a clear error;
    // the doctor lists it so.
    let edit = run(dir, &["contact", "edit", &broken, "--name", "Fixed"]);
    assert!(!edit.status.success());
    let stderr = String::from_utf8_lossy(&edit.stderr);
    assert!(stderr.contains("quarantined"), "{stderr}");
    let out = run(dir, &["doctor"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!("quarantined: {doc}: cannot be loaded")),
        "{stdout}"
    );
    assert!(!stdout.contains("problem:"), "{stdout}");
    assert!(!ok(dir, &["contact", "list"]).contains("Broken"));
}
