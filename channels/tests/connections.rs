//! The gateway's connection limits over real TCP on 127.0.0.1: caps in
//! total and per client address, the header-read (and keep-alive idle)
//! timeout, and the request timeout.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(env: &Env) -> std::net::SocketAddr {
    env.server.as_ref().expect("server").local_addr()
}

/// Reads until the server closes the connection, within `secs`; what it sent.
async fn read_to_close(stream: &mut TcpStream, secs: u64) -> String {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(secs), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&seen).to_string();
    assert!(read.is_ok(), "still open after {secs} s; got {text:?}");
    text
}

/// A client with no pooled connections, so each request is its own.
fn fresh_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

async fn healthz(env: &Env) -> Result<u16, reqwest::Error> {
    fresh_client()
        .get(env.url("/healthz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let env = env_with(|c| c.header_read_timeout = Duration::from_millis(300)).await;
    let mut slow = TcpStream::connect(addr(&env)).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let started = Instant::now();
    read_to_close(&mut slow, 5).await;
    assert!(started.elapsed() < Duration::from_secs(3));

    // An idle keep-alive connection is closed on the same timer.
    let mut idle = TcpStream::connect(addr(&env)).await.expect("connect");
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let answered = read_to_close(&mut idle, 5).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[tokio::test]
async fn a_request_whose_body_never_comes_times_out() {
    let env = env_with(|c| c.request_timeout = Duration::from_millis(300)).await;
    let mut slow = TcpStream::connect(addr(&env)).await.expect("connect");
    slow.write_all(
        format!(
            "POST /chat/{WEBCHAT}/start HTTP/1.1\r\nHost: x\r\n\
             content-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\""
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    let answered = read_to_close(&mut slow, 5).await;
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");
}

#[tokio::test]
async fn connections_are_capped_per_client_address() {
    let env = env_with(|c| c.max_connections_per_address = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr(&env)).await.expect("connect"));
    }
    // The fourth from this address is turned away at once.
    match healthz(&env).await {
        Ok(status) => assert_eq!(status, 503),
        Err(e) => assert!(e.is_connect() || e.is_request(), "{e}"),
    }
    drop(held.pop());
    eventually(5, "a freed connection slot", || async {
        (healthz(&env).await.ok() == Some(200)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn connections_are_capped_in_total() {
    let env = env_with(|c| c.max_connections = 2).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(addr(&env)).await.expect("connect"));
    }
    let mut refused = TcpStream::connect(addr(&env)).await.expect("connect");
    let answer = read_to_close(&mut refused, 5).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    held.clear();
    eventually(5, "free slots", || async {
        (healthz(&env).await.ok() == Some(200)).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_supervisor_sets_the_limits_in_the_settings_file() {
    // Behind a reverse proxy every client has the proxy's address: the
    // supervisor changes the per-address cap in channels.json.
    let env = env_with(|c| {
        std::fs::write(
            c.state_dir.join("channels.json"),
            r#"{"gateway_limits": {"max_connections_per_address": 2}}"#,
        )
        .expect("write settings");
    })
    .await;
    let _held: Vec<TcpStream> = vec![
        TcpStream::connect(addr(&env)).await.expect("connect"),
        TcpStream::connect(addr(&env)).await.expect("connect"),
    ];
    let mut refused = TcpStream::connect(addr(&env)).await.expect("connect");
    let answer = read_to_close(&mut refused, 5).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
}
