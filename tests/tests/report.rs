//! Reports across real nodes: two nodes of one team do the day's work,
//! sync, and `meshdesk report --csv` gives the same bytes on each, with
//! the figures the interactions' own documents say.

use std::collections::BTreeMap;
use std::time::Duration;

use meshdesk_tests::{Device, team_of_two, wait_until};

const RANGE: [&str; 4] = ["--from", "2000-01-01", "--to", "2100-01-01"];

fn csv(device: &Device, by: &str) -> String {
    let path = device.data_dir().join(format!("report-{by}.csv"));
    let mut args = vec!["report", "--by", by, "--csv"];
    let file = path.display().to_string();
    args.push(&file);
    args.extend(RANGE);
    device.ok(&args);
    std::fs::read_to_string(&path).expect("the CSV was written")
}

/// The CSV's rows by name, each a map from column to value.
fn rows(csv: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    lines
        .map(|line| {
            let row: BTreeMap<String, String> = header
                .iter()
                .zip(line.split(','))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (row["name"].clone(), row)
        })
        .collect()
}

fn enqueue(a: &Device, message: &str) -> String {
    a.ok(&[
        "interaction",
        "enqueue",
        "--campaign",
        "General",
        "--from",
        "+34 600 100 200",
        "--message",
        message,
    ])
}

/// `accept` on a node, retried until the queued interaction has synced there.
fn accept(device: &Device, id: &str) {
    assert!(
        wait_until(Duration::from_secs(20), || {
            device.run(&["interaction", "accept", id]).status.success()
        }),
        "{} never could accept {id}\n--- log ---\n{}",
        device.name,
        device.log()
    );
}

fn ms(v: &serde_json::Value) -> i64 {
    v.as_i64().expect("a time")
}

/// The wait and handle times the interaction's document records: the
/// first round's queueing to its answer, and the last round's answer to
/// the finalization.
fn times(device: &Device, id: &str) -> (i64, i64) {
    let i = device.json(&["interaction", "show", id])["interaction"].take();
    let claims = i["claims"].as_array().expect("claims").clone();
    let claimed = |epoch: i64| {
        claims
            .iter()
            .filter(|c| c["epoch"].as_i64() == Some(epoch))
            .map(|c| ms(&c["claimed_at"]))
            .min()
            .expect("a claim")
    };
    let last_epoch = i["transfers"].as_array().map_or(0, |t| t.len() as i64);
    let wait = claimed(0) - ms(&i["enqueued_at"]);
    let handle = ms(&i["finalization"]["at"]) - claimed(last_epoch);
    (wait, handle)
}

#[test]
fn a_report_is_the_same_bytes_on_two_nodes_after_sync() {
    let (a, b) = team_of_two();
    a.ok(&["status", "set", "available"]);
    b.ok(&["status", "set", "available"]);

    // Bo answers one and closes it.
    let first = enqueue(&a, "My line is dead");
    accept(&b, &first);
    b.ok(&[
        "interaction",
        "finalize",
        &first,
        "--disposition",
        "Resolved",
    ]);
    // Ana answers another and passes it to Bo, who closes it.
    let second = enqueue(&a, "A question about my bill");
    accept(&a, &second);
    a.ok(&["interaction", "transfer", &second, "--agent", "Bo"]);
    accept(&b, &second);
    b.ok(&[
        "interaction",
        "finalize",
        &second,
        "--disposition",
        "Callback",
    ]);
    // Bo takes a break and comes back.
    b.ok(&["status", "set", "break", "--reason", "Lunch"]);
    std::thread::sleep(Duration::from_millis(300));
    b.ok(&["status", "set", "available"]);

    // Once synced, both nodes write the same file.
    let mut last = (String::new(), String::new());
    let same = wait_until(Duration::from_secs(30), || {
        last = (csv(&a, "campaign"), csv(&b, "campaign"));
        last.0 == last.1
            && last.0.contains("disposition:Callback")
            && last.0.contains("disposition:Resolved")
    });
    assert!(
        same,
        "the reports differ\n--- A ---\n{}\n--- B ---\n{}",
        last.0, last.1
    );

    // Its figures are the documents' own.
    let (w1, h1) = times(&a, &first);
    let (w2, h2) = times(&a, &second);
    let all = rows(&last.0);
    let general = &all["General"];
    let expect = [
        ("by", "campaign".to_string()),
        ("offered", "2".into()),
        ("answered", "2".into()),
        ("abandoned", "0".into()),
        ("service_level_percent", String::new()),
        ("wait_avg_ms", ((w1 + w2) / 2).to_string()),
        ("wait_p90_ms", w1.max(w2).to_string()),
        ("handled", "2".into()),
        ("handle_avg_ms", ((h1 + h2) / 2).to_string()),
        ("handle_p90_ms", h1.max(h2).to_string()),
        ("transfers", "1".into()),
        ("disposition:Resolved", "1".into()),
        ("disposition:Callback", "1".into()),
    ];
    for (column, value) in expect {
        assert_eq!(general[column], value, "{column}\n{}", last.0);
    }
    let per_hour: u64 = (0..24)
        .map(|h| {
            general[&format!("hour_{h:02}")]
                .parse::<u64>()
                .expect("a count")
        })
        .sum();
    assert_eq!(per_hour, 2);

    // By agent: the supervisor sees both; Bo, an agent, his own row, the
    // same figures as on A.
    let (mut on_a, mut on_b) = (BTreeMap::new(), BTreeMap::new());
    let synced = wait_until(Duration::from_secs(30), || {
        on_a = rows(&csv(&a, "agent"));
        on_b = rows(&csv(&b, "agent"));
        on_a.get("Bo").and_then(|r| r.get("break:Lunch")).is_some()
            && on_a.get("Bo") == on_b.get("Bo")
    });
    assert!(synced, "Bo's row differs: {on_a:?}\n{on_b:?}");
    assert_eq!(on_a.keys().collect::<Vec<_>>(), ["Ana", "Bo"]);
    assert_eq!(on_b.keys().collect::<Vec<_>>(), ["Bo"]);
    let (bo_a, bo_b) = (&on_a["Bo"], &on_b["Bo"]);
    for (column, value) in bo_a.iter().filter(|(k, _)| !k.contains(':')) {
        assert_eq!(&bo_b[column], value, "{column}");
    }
    assert_eq!(bo_a["answered"], "2");
    assert_eq!(bo_a["handled"], "2");
    assert_eq!(on_a["Ana"]["transfers"], "1");
    assert_eq!(on_a["Ana"]["handled"], "0");
    let lunch: i64 = bo_a["break:Lunch"].parse().expect("ms");
    assert!(lunch >= 300, "Bo's break counts: {lunch} ms");
    assert_eq!(bo_b["break:Lunch"], bo_a["break:Lunch"]);

    // Bad input is refused by name, and no file is left behind.
    let bad = a.run(&["report", "--from", "yesterday", "--to", "2100-01-01"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`yesterday` is not a date"));
    let empty = a.run(&["report", "--from", "2026-12-01", "--to", "2026-11-01"]);
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("range is empty"));

    // The table names the campaign and its figures.
    let table = a.ok(&["report", "--from", "2000-01-01", "--to", "2100-01-01"]);
    assert!(table.contains("General"), "{table}");
    assert!(table.contains("Resolved"), "{table}");

    // The charts as a PNG.
    let png = a.data_dir().join("report.png");
    let png_arg = png.display().to_string();
    let said = a.ok(&[
        "report",
        "--from",
        "2000-01-01",
        "--to",
        "2100-01-01",
        "--png",
        &png_arg,
    ]);
    assert!(said.contains("Drew the charts into"), "{said}");
    let bytes = std::fs::read(&png).expect("the PNG was written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
}
