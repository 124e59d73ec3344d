//! The HTTP client against the local receiver: classification, timeouts, redirects, the SSRF guard
//! and what errors may show.

use std::{collections::BTreeMap, time::Duration};

use test_support::{Receiver, Reply, Script};

use super::support::{local_client, local_config};
use crate::{AllowList, Config, HttpClient, HttpRequest, NotifyError, http::parse_retry_after};

fn post(url: &str) -> HttpRequest {
    HttpRequest {
        method: "POST".to_owned(),
        url: url.to_owned(),
        headers: BTreeMap::new(),
        body: "{}".to_owned(),
    }
}

#[tokio::test]
async fn every_status_class_is_classified() {
    // (status, expected: "ok" | "retryable" | "permanent")
    let table: &[(u16, &str)] = &[
        (200, "ok"),
        (201, "ok"),
        (202, "ok"),
        (204, "ok"),
        (301, "permanent"),
        (302, "permanent"),
        (307, "permanent"),
        (308, "permanent"),
        (400, "permanent"),
        (401, "permanent"),
        (403, "permanent"),
        (404, "permanent"),
        (409, "permanent"),
        (410, "permanent"),
        (413, "permanent"),
        (422, "permanent"),
        (408, "retryable"),
        (429, "retryable"),
        (500, "retryable"),
        (501, "retryable"),
        (502, "retryable"),
        (503, "retryable"),
        (504, "retryable"),
    ];
    let mut script = Script::new();
    for (status, _) in table {
        script = script.route(
            &format!("/s{status}"),
            [Reply::status(*status).body(format!("body of {status}"))],
        );
    }
    let receiver = Receiver::start(script).await;
    let client = local_client();
    for (status, expected) in table {
        let result = client.send(&post(&receiver.url(&format!("/s{status}")))).await;
        let got = match &result {
            Ok(sent) => {
                assert_eq!(sent.status, Some(*status));
                assert_eq!(
                    sent.response,
                    if *status == 204 {
                        String::new()
                    } else {
                        format!("body of {status}")
                    }
                );
                "ok"
            }
            Err(error) => {
                assert_eq!(error.status(), Some(*status), "{error}");
                if error.is_retryable() {
                    "retryable"
                } else {
                    "permanent"
                }
            }
        };
        assert_eq!(got, *expected, "status {status}: {result:?}");
    }
    assert_eq!(receiver.requests().len(), table.len());
}

#[tokio::test]
async fn errors_name_the_status_and_the_origin_only() {
    let receiver = Receiver::start(
        Script::new()
            .route("/gone", [Reply::status(410)])
            .route("/bad", [Reply::status(400).body("missing field `summary`")]),
    )
    .await;
    let client = local_client();
    let origin = receiver.url("");
    let gone = client.send(&post(&receiver.url("/gone"))).await.unwrap_err();
    assert_eq!(
        gone.to_string(),
        format!("POST {origin}: status 410 Gone (the endpoint is gone)")
    );
    let bad = client.send(&post(&receiver.url("/bad"))).await.unwrap_err();
    assert_eq!(
        bad.to_string(),
        format!("POST {origin}: status 400 Bad Request: missing field `summary`")
    );
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let receiver =
        Receiver::start(Script::new().route("/moved", [Reply::status(301).header("Location", "/elsewhere")]))
            .await;
    let error = local_client()
        .send(&post(&receiver.url("/moved")))
        .await
        .unwrap_err();
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("redirect not followed"), "{error}");
    assert_eq!(receiver.requests().len(), 1);
    assert!(receiver.requests_to("/elsewhere").is_empty());
}

#[tokio::test]
async fn retry_after_is_parsed_from_seconds_and_http_dates() {
    let future = (chrono::Utc::now() + chrono::Duration::seconds(30))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let receiver = Receiver::start(
        Script::new()
            .route("/seconds", [Reply::status(429).header("Retry-After", "7")])
            .route("/date", [Reply::status(503).header("Retry-After", &future)])
            .route(
                "/past",
                [Reply::status(503).header("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")],
            )
            .route("/garbage", [Reply::status(503).header("Retry-After", "soon")])
            .route("/none", [Reply::status(502)]),
    )
    .await;
    let client = local_client();
    let retry_after = |error: NotifyError| match error {
        NotifyError::Retryable { retry_after, .. } => retry_after,
        other => panic!("expected retryable, got {other:?}"),
    };
    let seconds = retry_after(client.send(&post(&receiver.url("/seconds"))).await.unwrap_err());
    assert_eq!(seconds, Some(Duration::from_secs(7)));
    let date = retry_after(client.send(&post(&receiver.url("/date"))).await.unwrap_err()).unwrap();
    assert!(
        date > Duration::from_secs(25) && date <= Duration::from_secs(30),
        "{date:?}"
    );
    let past = retry_after(client.send(&post(&receiver.url("/past"))).await.unwrap_err());
    assert_eq!(past, Some(Duration::ZERO));
    assert_eq!(
        retry_after(client.send(&post(&receiver.url("/garbage"))).await.unwrap_err()),
        None
    );
    assert_eq!(
        retry_after(client.send(&post(&receiver.url("/none"))).await.unwrap_err()),
        None
    );
    assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn success_keeps_the_first_kilobyte_and_sends_method_headers_body_and_user_agent() {
    let long = "é".repeat(3000);
    let receiver = Receiver::start(Script::new().route("/ok", [Reply::status(202).body(long)])).await;
    let mut request = post(&receiver.url("/ok"));
    request.method = "put".to_owned();
    request
        .headers
        .insert("X-Custom".to_owned(), "value-1".to_owned());
    request.body = "{\"a\":1}".to_owned();
    let sent = local_client().send(&request).await.unwrap();
    assert_eq!(sent.status, Some(202));
    assert!(
        sent.response.len() <= 1024 && sent.response.len() >= 1022,
        "{}",
        sent.response.len()
    );
    let received = &receiver.requests()[0];
    assert_eq!(received.method, "PUT");
    assert_eq!(received.header("x-custom"), Some("value-1"));
    assert_eq!(received.body, "{\"a\":1}");
    assert!(
        received.header("user-agent").unwrap().starts_with("tocsin/"),
        "{:?}",
        received.header("user-agent")
    );
}

#[tokio::test]
async fn a_slow_target_times_out_as_retryable() {
    let receiver =
        Receiver::start(Script::new().route("/slow", [Reply::ok().delay(Duration::from_secs(3))])).await;
    let config = Config {
        http_timeout: Duration::from_millis(300),
        ..local_config()
    };
    let error = HttpClient::new(&config)
        .unwrap()
        .send(&post(&receiver.url("/slow")))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains("timed out"), "{error}");
}

#[tokio::test]
async fn a_dropped_connection_is_retryable() {
    let receiver = Receiver::start(Script::new().route("/drop", [Reply::drop_connection()])).await;
    let error = local_client()
        .send(&post(&receiver.url("/drop")))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = local_client()
        .send(&post(&format!("http://127.0.0.1:{port}/x")))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
    assert!(error.to_string().contains("connection failed"), "{error}");
}

#[tokio::test]
async fn errors_never_show_the_path_query_userinfo_or_header_values() {
    let receiver = Receiver::start(
        Script::new()
            .route("/hook/sekrit-path", [Reply::status(500)])
            .route("/slow/sekrit-path", [Reply::ok().delay(Duration::from_secs(3))]),
    )
    .await;
    let port = receiver.address().port();
    let config = Config {
        http_timeout: Duration::from_millis(300),
        ..local_config()
    };
    let client = HttpClient::new(&config).unwrap();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let urls = [
        format!("http://user:sekrit-pass@127.0.0.1:{port}/hook/sekrit-path?token=sekrit-query"),
        format!("http://user:sekrit-pass@127.0.0.1:{port}/slow/sekrit-path?token=sekrit-query"),
        format!("http://user:sekrit-pass@127.0.0.1:{closed_port}/hook/sekrit-path?token=sekrit-query"),
        "https://user:sekrit-pass@10.0.0.1/sekrit-path?token=sekrit-query".to_owned(),
        "ftp://user:sekrit-pass@example.com/sekrit-path?token=sekrit-query".to_owned(),
        "http://[sekrit-broken/sekrit-path".to_owned(),
    ];
    for url in urls {
        let mut request = post(&url);
        request
            .headers
            .insert("authorization".to_owned(), "Bearer sekrit-header".to_owned());
        let error = client.send(&request).await.unwrap_err();
        for shown in [error.to_string(), format!("{error:?}")] {
            assert!(!shown.contains("sekrit"), "leaked in {shown}");
        }
    }
    let mut bad_header = post(&receiver.url("/hook/sekrit-path"));
    bad_header
        .headers
        .insert("x-token".to_owned(), "sekrit-value\r\ninjected".to_owned());
    let error = client.send(&bad_header).await.unwrap_err();
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        format!("{}: invalid value for header `x-token`", receiver.url(""))
    );
}

#[tokio::test]
async fn plain_http_and_other_schemes_are_refused_by_default() {
    let config = Config {
        allow_hosts: "127.0.0.1".parse().unwrap(),
        ..Config::default()
    };
    let client = HttpClient::new(&config).unwrap();
    let receiver = Receiver::start(Script::new().route("/x", [Reply::ok()])).await;
    let error = client.send(&post(&receiver.url("/x"))).await.unwrap_err();
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("plain http is not allowed"), "{error}");
    let error = client.send(&post("file:///etc/passwd")).await.unwrap_err();
    assert_eq!(error.to_string(), "url scheme `file` is not http or https");
    assert!(receiver.requests().is_empty());
}

/// Every URL form that reaches a non-public address, by the receiver's port where it matters.
fn refused_urls(port: u16) -> Vec<String> {
    let mut urls: Vec<String> = [
        "127.0.0.1",
        "2130706433",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "0x7f000001",
        "127.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "localhost",
    ]
    .iter()
    .map(|host| format!("http://{host}:{port}/hook"))
    .collect();
    urls.extend(
        [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "0",
            "224.0.0.1",
            "255.255.255.255",
            "[fd00:ec2::254]",
            "[fc00::1]",
            "[fe80::1]",
            "[::]",
            "[ff02::1]",
            "[::ffff:10.0.0.1]",
            "[::ffff:169.254.169.254]",
            "[64:ff9b::7f00:1]",
            "[2002:7f00:1::]",
            "012.1.2.3",
        ]
        .iter()
        .map(|host| format!("http://{host}/latest/meta-data")),
    );
    urls
}

#[tokio::test]
async fn the_ssrf_guard_refuses_non_public_addresses_in_every_form() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let config = Config {
        allow_http: true,
        http_connect_timeout: Duration::from_millis(300),
        ..Config::default()
    };
    let client = HttpClient::new(&config).unwrap();
    for url in refused_urls(receiver.address().port()) {
        let error = client.send(&post(&url)).await.unwrap_err();
        assert!(!error.is_retryable(), "{url}: {error}");
        let text = error.to_string();
        assert!(
            text.contains("refused: resolves to a private address"),
            "{url}: {text}"
        );
        assert!(text.starts_with("url `http://"), "{url}: {text}");
        assert!(
            !text.contains("/hook") && !text.contains("meta-data"),
            "{url}: {text}"
        );
    }
    assert!(
        receiver.requests().is_empty(),
        "a refused url reached the receiver"
    );
    // https is checked the same way.
    let error = client.send(&post("https://169.254.169.254/")).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "url `https://169.254.169.254/…` refused: resolves to a private address (the cloud metadata address 169.254.169.254)"
    );
}

#[tokio::test]
async fn the_allow_list_lets_listed_addresses_and_names_through() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let port = receiver.address().port();
    let by_ip = HttpClient::new(&Config {
        allow_http: true,
        allow_hosts: "127.0.0.1".parse().unwrap(),
        ..Config::default()
    })
    .unwrap();
    for host in ["127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.0.0.1", "127.1"] {
        let sent = by_ip.send(&post(&format!("http://{host}:{port}/hook"))).await;
        assert_eq!(sent.map(|s| s.status), Ok(Some(200)), "{host}");
    }
    // A name resolving to an allowed address passes too (the check is on the address).
    let sent = by_ip.send(&post(&format!("http://localhost:{port}/hook"))).await;
    assert!(sent.is_ok(), "{sent:?}");
    let by_cidr = HttpClient::new(&Config {
        allow_http: true,
        allow_hosts: "127.0.0.0/8,::1".parse().unwrap(),
        ..Config::default()
    })
    .unwrap();
    assert!(
        by_cidr
            .send(&post(&format!("http://127.0.0.1:{port}/hook")))
            .await
            .is_ok()
    );
    let by_name = HttpClient::new(&Config {
        allow_http: true,
        allow_hosts: "localhost".parse::<AllowList>().unwrap(),
        ..Config::default()
    })
    .unwrap();
    assert!(
        by_name
            .send(&post(&format!("http://localhost:{port}/hook")))
            .await
            .is_ok()
    );
    // Listing one address does not open the others.
    let error = by_ip.send(&post("http://10.0.0.1/hook")).await.unwrap_err();
    assert!(error.to_string().contains("refused"), "{error}");
    assert_eq!(receiver.requests().len(), 8);
}
