//! Files through the gateways over real HTTP on 127.0.0.1, with a real node:
//! a visitor's upload becomes a message carrying the file, served back to
//! that visitor only with their token; the REST API uploads and downloads
//! by hash; sizes over the node's limit are refused before anything is
//! stored.

mod common;

use common::*;
use meshdesk_model::blobs::BlobHash;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn body(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn start(env: &Env, name: &str) -> (String, String) {
    let (status, started) = body(
        env.http
            .post(env.url(&format!("/chat/{WEBCHAT}/start")))
            .json(&json!({"name": name, "text": "Hello, a picture of the damage"}))
            .send()
            .await
            .expect("start"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    (
        started["token"].as_str().expect("token").to_string(),
        started["interaction"].as_str().expect("id").to_string(),
    )
}

async fn upload(env: &Env, token: &str, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    body(
        env.http
            .post(env.url(&format!("/chat/{WEBCHAT}/files")))
            .query(&[("name", name)])
            .bearer_auth(token)
            .body(bytes)
            .send()
            .await
            .expect("upload"),
    )
    .await
}

fn png(len: usize) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend((0..len).map(|n| (n * 7 % 251) as u8));
    bytes
}

#[tokio::test]
async fn a_visitors_file_is_a_message_and_only_that_visitor_gets_it_back() {
    let env = env().await;
    let (token, id) = start(&env, "Vic").await;
    let bytes = png(40_000);
    let (status, sent) = upload(&env, &token, "damage.png", bytes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let hash = BlobHash::of(&bytes).to_hex();
    assert_eq!(sent["file"]["hash"], hash.as_str());
    assert_eq!(sent["file"]["mime"], "image/png");
    assert_eq!(sent["interaction"], id.as_str());

    // The agent's side: the message names the file.
    let api = env.token("crm");
    let (_, shown) = body(
        env.http
            .get(env.url(&format!("/api/v1/interactions/{id}")))
            .bearer_auth(&api)
            .send()
            .await
            .expect("get"),
    )
    .await;
    let last = &shown["messages"][1];
    assert_eq!(last["author"], "customer");
    assert_eq!(last["files"][0]["name"], "damage.png");
    assert_eq!(last["files"][0]["size"], bytes.len());

    // The visitor's transcript lists it; the visitor fetches it.
    let transcript: Value = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}/transcript")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("transcript")
        .json()
        .await
        .expect("json");
    assert_eq!(transcript["messages"][1]["files"][0]["hash"], hash.as_str());
    let r = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}/files/{hash}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("file");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), bytes);

    // Another visitor, or no token, gets nothing of it.
    let (other, _) = start(&env, "Mallory").await;
    let r = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}/files/{hash}")))
        .bearer_auth(&other)
        .send()
        .await
        .expect("file");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = env
        .http
        .get(env.url(&format!("/chat/{WEBCHAT}/files/{hash}")))
        .send()
        .await
        .expect("file");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // A file that is not a picture is a download, whatever it claims.
    let (status, sent) = upload(
        &env,
        &token,
        "../notes.html",
        b"<script>alert(1)</script>".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["file"]["name"], "notes.html");
    let r = env
        .http
        .get(env.url(&format!(
            "/chat/{WEBCHAT}/files/{}",
            sent["file"]["hash"].as_str().expect("hash")
        )))
        .bearer_auth(&token)
        .send()
        .await
        .expect("file");
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    let disposition = r.headers()["content-disposition"].to_str().expect("ascii");
    assert!(disposition.starts_with("attachment"), "{disposition}");
}

#[tokio::test]
async fn uploads_over_the_limit_or_empty_or_to_a_closed_chat_are_refused() {
    let env = env().await;
    std::fs::write(
        env.dir.path().join("files.json"),
        r#"{"max_file_bytes": 10000}"#,
    )
    .expect("write");
    // The node reads its limit when it starts.
    let mut env = env;
    env.restart(config(&env.dir)).await;
    let (token, id) = start(&env, "Vic").await;
    let (status, error) = upload(&env, &token, "big.png", png(20_000)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{error}");
    assert!(
        error["error"].as_str().unwrap_or("").contains("10000"),
        "{error}"
    );
    let (status, _) = upload(&env, &token, "empty.png", vec![]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let blobs = env.dir.path().join("blobs");
    let stored = std::fs::read_dir(&blobs).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 0, "nothing stored");

    // No name: 400; a bad token: 401.
    let r = env
        .http
        .post(env.url(&format!("/chat/{WEBCHAT}/files")))
        .bearer_auth(&token)
        .body(png(10))
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (status, _) = upload(&env, "nope", "a.png", png(10)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    env.agent_reply(&id, "On it").await;
    env.finalize(&id).await;
    let (status, error) = upload(&env, &token, "late.png", png(100)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
}

#[tokio::test]
async fn the_api_uploads_a_customers_file_and_downloads_it_by_hash() {
    let env = env().await;
    let api = env.token("crm");
    let (status, created) = body(
        env.http
            .post(env.url("/api/v1/interactions"))
            .bearer_auth(&api)
            .json(&json!({
                "campaign": API,
                "contact": {"name": "Ana Lima"},
                "message": "The invoice follows"
            }))
            .send()
            .await
            .expect("create"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id");
    let pdf = b"%PDF-1.7 an invoice".to_vec();
    let (status, shown) = body(
        env.http
            .post(env.url(&format!("/api/v1/interactions/{id}/files")))
            .query(&[("name", "invoice.pdf")])
            .bearer_auth(&api)
            .body(pdf.clone())
            .send()
            .await
            .expect("upload"),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{shown}");
    let file = &shown["messages"][1]["files"][0];
    assert_eq!(file["mime"], "application/pdf");
    let hash = file["hash"].as_str().expect("hash");
    assert_eq!(hash, BlobHash::of(&pdf).to_hex());

    let r = env
        .http
        .get(env.url(&format!("/api/v1/files/{hash}")))
        .bearer_auth(&api)
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(r.bytes().await.expect("bytes").to_vec(), pdf);

    let missing = BlobHash::of(b"nobody sent this").to_hex();
    for (path, want) in [
        (format!("/api/v1/files/{missing}"), StatusCode::NOT_FOUND),
        ("/api/v1/files/XYZ".to_string(), StatusCode::BAD_REQUEST),
    ] {
        let r = env
            .http
            .get(env.url(&path))
            .bearer_auth(&api)
            .send()
            .await
            .expect("download");
        assert_eq!(r.status(), want, "{path}");
    }
    let r = env
        .http
        .get(env.url(&format!("/api/v1/files/{hash}")))
        .send()
        .await
        .expect("download");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
