//! The HTTP client against the local receiver: classification, timeouts, redirects, the SSRF guard
//! (every address form, names through a scripted resolver, DNS rebinding, redirects), header and
//! URL injection, and what errors may show.

use std::{
    collections::BTreeMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use test_support::{Receiver, Reply, Script};

use super::support::{local_client, local_config};
use crate::{
    AllowList, Config, HttpClient, HttpRequest, NotifyError,
    http::{Lookup, LookupFuture, parse_retry_after},
};

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

/// Every URL form that reaches a non-public address, with the reason the guard gives. The forms
/// that reach the receiver's own address use its port, so that a gap in the guard would deliver.
fn refused_urls(port: u16) -> Vec<(String, &'static str)> {
    let loopback = "a loopback address";
    let metadata = "the cloud metadata address";
    let unspecified = "an unspecified address";
    let private = "a private address";
    let reserved = "a reserved address";
    let documentation = "a documentation address";
    let mut urls: Vec<(String, &'static str)> = [
        // 127.0.0.1 in every spelling the URL parser turns into it: dotted, decimal, octal, hex,
        // short, mixed, a trailing dot, full-width digits and ideographic dots (IDNA mapping),
        // percent-encoded.
        ("127.0.0.1", loopback),
        ("2130706433", loopback),
        ("0177.0.0.1", loopback),
        ("0177.0000.0000.0001", loopback),
        ("0x7f.0.0.1", loopback),
        ("0x7f000001", loopback),
        ("0x7F.1", loopback),
        ("127.1", loopback),
        ("127.0.1", loopback),
        ("0x7f.0.1", loopback),
        ("017700000001", loopback),
        ("127.0.0.1.", loopback),
        ("\u{ff11}\u{ff12}\u{ff17}.0.0.1", loopback),
        ("127\u{3002}0\u{3002}0\u{3002}1", loopback),
        ("%31%32%37.0.0.1", loopback),
        ("127.255.255.254", loopback),
        // Userinfo and backslash tricks: the host is still 127.0.0.1.
        ("example.com@127.0.0.1", loopback),
        ("user:pass@127.0.0.1", loopback),
        // IPv6 forms reaching 127.0.0.1 or ::1.
        ("[::1]", loopback),
        ("[0:0:0:0:0:0:0:1]", loopback),
        ("[::ffff:127.0.0.1]", loopback),
        ("[::ffff:7f00:1]", loopback),
        ("[0:0:0:0:0:ffff:127.0.0.1]", loopback),
        ("[::127.0.0.1]", loopback),
        ("[::ffff:0:127.0.0.1]", loopback),
        ("[64:ff9b::127.0.0.1]", loopback),
        ("[2002:7f00:1::]", loopback),
        ("0.0.0.0", unspecified),
        ("0", unspecified),
        ("[::]", unspecified),
        ("localhost", loopback),
    ]
    .iter()
    .map(|(host, reason)| (format!("http://{host}:{port}/hook"), *reason))
    .collect();
    urls.extend(
        [
            // The metadata address in every spelling.
            ("169.254.169.254", metadata),
            ("2852039166", metadata),
            ("0xa9fea9fe", metadata),
            ("0251.0376.0251.0376", metadata),
            ("0xa9.0xfe.0xa9.0xfe", metadata),
            ("169.254.43518", metadata),
            ("0xa9.254.0251.254", metadata),
            ("[fd00:ec2::254]", metadata),
            ("[fd00:0ec2:0000:0000:0000:0000:0000:0254]", metadata),
            ("[::ffff:169.254.169.254]", metadata),
            ("[::ffff:a9fe:a9fe]", metadata),
            ("[::169.254.169.254]", metadata),
            ("[64:ff9b::a9fe:a9fe]", metadata),
            ("[2002:a9fe:a9fe::1]", metadata),
            // Every other refused class, IPv4.
            ("10.1.2.3", private),
            ("10.1", private),
            ("012.1.2.3", private),
            ("172.16.0.1", private),
            ("172.31.255.255", private),
            ("192.168.1.1", private),
            ("0xc0a80101", private),
            ("169.254.1.1", "a link-local address"),
            ("169.254.170.2", "a link-local address"),
            ("100.64.0.1", "a shared (cgnat) address"),
            ("100.127.255.255", "a shared (cgnat) address"),
            ("0.1.2.3", unspecified),
            ("224.0.0.1", "a multicast address"),
            ("239.255.255.250", "a multicast address"),
            ("240.0.0.1", reserved),
            ("255.255.255.255", reserved),
            ("4294967295", reserved),
            ("192.0.0.1", reserved),
            ("192.88.99.1", reserved),
            ("198.18.0.1", reserved),
            ("198.19.255.255", reserved),
            ("192.0.2.1", documentation),
            ("198.51.100.7", documentation),
            ("203.0.113.9", documentation),
            // Every other refused class, IPv6.
            ("[fc00::1]", "a unique-local (private) address"),
            ("[fd12:3456::1]", "a unique-local (private) address"),
            ("[fe80::1]", "a link-local address"),
            ("[febf::1]", "a link-local address"),
            ("[fec0::1]", "a site-local (private) address"),
            ("[ff02::1]", "a multicast address"),
            ("[ff0e::1]", "a multicast address"),
            ("[::ffff:10.0.0.1]", private),
            ("[::ffff:0:10.0.0.1]", private),
            ("[64:ff9b::10.0.0.1]", private),
            ("[2002:c0a8:101::]", private),
            ("[::ffff:100.64.0.1]", "a shared (cgnat) address"),
            ("[64:ff9b:1::1]", reserved),
            ("[100::1]", reserved),
            ("[2001::1]", reserved),
            ("[2001:2::1]", reserved),
            ("[2001:10::1]", reserved),
            ("[5f00::1]", reserved),
            ("[2001:db8::1]", documentation),
            ("[3fff::1]", documentation),
        ]
        .iter()
        .map(|(host, reason)| (format!("http://{host}/latest/meta-data"), *reason)),
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
    for (url, reason) in refused_urls(receiver.address().port()) {
        let error = client.send(&post(&url)).await.unwrap_err();
        assert!(!error.is_retryable(), "{url}: {error}");
        let text = error.to_string();
        assert!(
            text.contains("refused: resolves to a private address"),
            "{url}: {text}"
        );
        assert!(text.contains(&format!("({reason} ")), "{url}: {text}");
        assert!(text.starts_with("url `http://"), "{url}: {text}");
        assert!(
            !text.contains("/hook") && !text.contains("meta-data") && !text.contains("pass"),
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

#[test]
fn refused_classes_end_exactly_where_the_registries_say() {
    use std::net::IpAddr;

    use crate::ssrf::refused_reason;

    // (address, refused?) on both sides of every boundary.
    let table: &[(&str, bool)] = &[
        ("8.8.8.8", false),
        ("1.1.1.1", false),
        ("93.184.216.34", false),
        ("9.255.255.255", false),
        ("10.0.0.0", true),
        ("10.255.255.255", true),
        ("11.0.0.0", false),
        ("100.63.255.255", false),
        ("100.64.0.0", true),
        ("100.127.255.255", true),
        ("100.128.0.0", false),
        ("126.255.255.255", false),
        ("127.0.0.0", true),
        ("128.0.0.0", false),
        ("169.253.255.255", false),
        ("169.254.0.0", true),
        ("169.255.0.0", false),
        ("172.15.255.255", false),
        ("172.16.0.0", true),
        ("172.31.255.255", true),
        ("172.32.0.0", false),
        ("192.0.1.255", false),
        ("192.0.0.255", true),
        ("192.0.2.0", true),
        ("192.0.3.0", false),
        ("192.88.98.255", false),
        ("192.88.99.0", true),
        ("192.167.255.255", false),
        ("192.168.0.0", true),
        ("192.169.0.0", false),
        ("198.17.255.255", false),
        ("198.18.0.0", true),
        ("198.20.0.0", false),
        ("198.51.99.255", false),
        ("198.51.100.0", true),
        ("203.0.112.255", false),
        ("203.0.113.255", true),
        ("223.255.255.255", false),
        ("224.0.0.0", true),
        ("239.255.255.255", true),
        ("240.0.0.0", true),
        ("2606:4700:4700::1111", false),
        ("2a00:1450:4001::200e", false),
        ("2001:4860:4860::8888", false),
        ("2001:200::1", false),
        ("2001:1ff:ffff::1", true),
        ("2001:db7::1", false),
        ("2001:db8::", true),
        ("2001:db9::1", false),
        ("3fef::1", false),
        ("3fff:fff::1", true),
        ("::ffff:8.8.8.8", false),
        ("::ffff:0:8.8.8.8", false),
        ("64:ff9b::808:808", false),
        ("64:ff9b:1::808:808", true),
        ("2002:808:808::1", false),
        ("fbff::1", false),
        ("fc00::", true),
        ("fdff:ffff::1", true),
        ("fe00::1", false),
        ("fe80::", true),
        ("ff00::", true),
        ("100::ffff", true),
        ("100:0:0:1::1", false),
        ("5eff::1", false),
        ("5f00::1", true),
    ];
    for (text, refused) in table {
        let ip: IpAddr = text.parse().unwrap();
        assert_eq!(
            refused_reason(ip).is_some(),
            *refused,
            "{text}: {:?}",
            refused_reason(ip)
        );
    }
}

#[tokio::test]
async fn zone_ids_and_malformed_ip_literals_are_refused_before_sending() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let port = receiver.address().port();
    let client = HttpClient::new(&Config {
        allow_http: true,
        ..Config::default()
    })
    .unwrap();
    for host in [
        "[fe80::1%25eth0]",
        "[fe80::1%eth0]",
        "[::1%251]",
        "[::ffff:127.0.0.1",
        "[127.0.0.1]",
        "256.0.0.1",
        "0x100000000",
        "127.0.0.1.1.1",
    ] {
        let url = format!("http://{host}:{port}/hook");
        let error = client.send(&post(&url)).await.unwrap_err();
        assert!(!error.is_retryable(), "{url}: {error}");
        assert!(error.to_string().starts_with("invalid url: "), "{url}: {error}");
    }
    assert!(receiver.requests().is_empty());
}

/// A resolver that answers from a script: the n-th lookup of a name gets its n-th answer (the last
/// one once the script runs out), and every lookup is counted.
#[derive(Debug, Default)]
struct ScriptedLookup {
    answers: BTreeMap<String, Vec<Vec<IpAddr>>>,
    calls: Mutex<BTreeMap<String, usize>>,
}

impl ScriptedLookup {
    fn answer(mut self, name: &str, answers: &[&[&str]]) -> Self {
        let answers = answers
            .iter()
            .map(|answer| answer.iter().map(|ip| ip.parse().unwrap()).collect())
            .collect();
        self.answers.insert(name.to_owned(), answers);
        self
    }

    fn calls(&self, name: &str) -> usize {
        self.calls.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

impl Lookup for ScriptedLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let mut calls = self.calls.lock().unwrap();
        let count = calls.entry(host.to_owned()).or_insert(0);
        let answer = self
            .answers
            .get(host)
            .and_then(|answers| answers.get(*count).or(answers.last()))
            .cloned();
        *count += 1;
        Box::pin(async move {
            answer.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no such name"))
        })
    }
}

#[tokio::test]
async fn names_resolving_to_non_public_addresses_are_refused() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let port = receiver.address().port();
    // (name, its addresses, the refused address, the reason)
    let cases: &[(&str, &[&str], &str, &str)] = &[
        ("loopback.test", &["127.0.0.1"], "127.0.0.1", "a loopback address"),
        ("loopback6.test", &["::1"], "::1", "a loopback address"),
        (
            "mapped.test",
            &["::ffff:127.0.0.1"],
            "::ffff:127.0.0.1",
            "a loopback address",
        ),
        (
            "unspecified.test",
            &["0.0.0.0"],
            "0.0.0.0",
            "an unspecified address",
        ),
        (
            "metadata.test",
            &["169.254.169.254"],
            "169.254.169.254",
            "the cloud metadata address",
        ),
        (
            "metadata6.test",
            &["fd00:ec2::254"],
            "fd00:ec2::254",
            "the cloud metadata address",
        ),
        (
            "nat64.test",
            &["64:ff9b::a9fe:a9fe"],
            "64:ff9b::a9fe:a9fe",
            "the cloud metadata address",
        ),
        ("private.test", &["10.0.0.1"], "10.0.0.1", "a private address"),
        (
            "cgnat.test",
            &["100.64.0.1"],
            "100.64.0.1",
            "a shared (cgnat) address",
        ),
        (
            "ula.test",
            &["fd12::1"],
            "fd12::1",
            "a unique-local (private) address",
        ),
        // One private address among public ones is enough to refuse the name, wherever it is.
        (
            "mixed.test",
            &["8.8.8.8", "127.0.0.1"],
            "127.0.0.1",
            "a loopback address",
        ),
        (
            "mixed-first.test",
            &["127.0.0.1", "2606:4700::1111"],
            "127.0.0.1",
            "a loopback address",
        ),
        (
            "mixed6.test",
            &["2606:4700::1111", "fe80::1", "8.8.8.8"],
            "fe80::1",
            "a link-local address",
        ),
    ];
    let mut lookup = ScriptedLookup::default();
    for (name, addresses, _, _) in cases {
        lookup = lookup.answer(name, &[addresses]);
    }
    let lookup = Arc::new(lookup);
    let client = HttpClient::with_lookup(
        &Config {
            allow_http: true,
            ..Config::default()
        },
        lookup.clone(),
    );
    for (name, _, ip, reason) in cases {
        let error = client
            .send(&post(&format!("http://{name}:{port}/hook?token=sekrit")))
            .await
            .unwrap_err();
        assert!(!error.is_retryable(), "{name}: {error}");
        assert_eq!(
            error.to_string(),
            format!("url `http://{name}:{port}/…` refused: resolves to a private address ({reason} {ip})"),
        );
        assert_eq!(lookup.calls(name), 1, "{name} is resolved once");
    }
    // https names are checked the same way.
    let error = client
        .send(&post("https://metadata.test/latest/meta-data/"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "url `https://metadata.test/…` refused: resolves to a private address (the cloud metadata address 169.254.169.254)"
    );
    assert!(
        receiver.requests().is_empty(),
        "a refused name reached the receiver"
    );
}

/// A listener on 127.0.0.2 that accepts connections and counts them (and answers nothing).
async fn counting_listener(port: u16) -> (Arc<std::sync::atomic::AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.2", port)).await.unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    (accepted, task)
}

#[tokio::test]
async fn the_addresses_checked_are_the_addresses_connected_to() {
    // GIVEN the allowed receiver on 127.0.0.1, a local listener that is not allowed on 127.0.0.2
    // (same port), and names whose answer changes between lookups
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let port = receiver.address().port();
    let (not_allowed, listener) = counting_listener(port).await;
    let config = Config {
        allow_http: true,
        allow_hosts: "127.0.0.1".parse().unwrap(),
        http_connect_timeout: Duration::from_millis(500),
        ..Config::default()
    };
    let lookup = Arc::new(
        ScriptedLookup::default()
            .answer("rebind.test", &[&["127.0.0.1"], &["127.0.0.2"]])
            .answer("rebind-back.test", &[&["127.0.0.2"], &["127.0.0.1"]])
            .answer(
                "flip.test",
                &[
                    &["127.0.0.1"],
                    &["127.0.0.2"],
                    &["127.0.0.1"],
                    &["127.0.0.2"],
                    &["127.0.0.1"],
                    &["127.0.0.2"],
                ],
            ),
    );

    // WHEN a name checked as allowed would resolve elsewhere on a second lookup
    let sent = HttpClient::with_lookup(&config, lookup.clone())
        .send(&post(&format!("http://rebind.test:{port}/hook")))
        .await;
    // THEN it is resolved once and connected to the address checked
    assert_eq!(sent.map(|sent| sent.status), Ok(Some(200)));
    assert_eq!(lookup.calls("rebind.test"), 1);

    // WHEN the first answer is refused and a later one would be allowed
    let error = HttpClient::with_lookup(&config, lookup.clone())
        .send(&post(&format!("http://rebind-back.test:{port}/hook")))
        .await
        .unwrap_err();
    // THEN the refusal stands: no second lookup decides otherwise
    assert!(!error.is_retryable(), "{error}");
    assert!(
        error.to_string().contains("(a loopback address 127.0.0.2)"),
        "{error}"
    );
    assert_eq!(lookup.calls("rebind-back.test"), 1);

    // WHEN the answer flips on every lookup (a fresh client each time, so nothing is pooled)
    let mut outcomes = Vec::new();
    for _ in 0..6 {
        let sent = HttpClient::with_lookup(&config, lookup.clone())
            .send(&post(&format!("http://flip.test:{port}/hook")))
            .await;
        outcomes.push(match sent {
            Ok(sent) => format!("sent {:?}", sent.status),
            Err(error) if !error.is_retryable() && error.to_string().contains("127.0.0.2") => {
                "refused".to_owned()
            }
            Err(error) => format!("other: {error}"),
        });
    }
    // THEN every allowed answer was delivered, every other refused
    assert_eq!(
        outcomes,
        [
            "sent Some(200)",
            "refused",
            "sent Some(200)",
            "refused",
            "sent Some(200)",
            "refused"
        ]
    );
    assert_eq!(lookup.calls("flip.test"), 6);
    assert_eq!(receiver.requests().len(), 4);
    assert_eq!(
        not_allowed.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "a connection reached the address that is not allowed"
    );
    listener.abort();
}

#[tokio::test]
async fn redirects_to_the_metadata_address_are_not_followed_and_are_permanent() {
    let location = "http://169.254.169.254/latest/meta-data/iam/security-credentials/";
    let by_name = "http://metadata.test/latest/meta-data/";
    let mut script = Script::new();
    for status in [301, 302, 303, 307, 308] {
        script = script
            .route(
                &format!("/moved-{status}"),
                [Reply::status(status).header("Location", location)],
            )
            .route(
                &format!("/named-{status}"),
                [Reply::status(status).header("Location", by_name)],
            );
    }
    let receiver = Receiver::start(script).await;
    let lookup = Arc::new(ScriptedLookup::default().answer("metadata.test", &[&["169.254.169.254"]]));
    let client = HttpClient::with_lookup(&local_config(), lookup.clone());
    let origin = receiver.url("");
    for status in [301, 302, 303, 307, 308] {
        for path in [format!("/moved-{status}"), format!("/named-{status}")] {
            let error = client.send(&post(&receiver.url(&path))).await.unwrap_err();
            assert!(!error.is_retryable(), "{path}: {error}");
            assert_eq!(error.status(), Some(status));
            let text = error.to_string();
            assert!(
                text.starts_with(&format!("POST {origin}: status {status} ")),
                "{text}"
            );
            assert!(text.ends_with(", redirect not followed"), "{text}");
            assert!(!text.contains("169.254") && !text.contains("metadata"), "{text}");
        }
    }
    assert_eq!(
        receiver.requests().len(),
        10,
        "one request per redirect, none followed"
    );
    assert_eq!(
        lookup.calls("metadata.test"),
        0,
        "the redirect target was never resolved"
    );
}

#[tokio::test]
async fn a_refusal_is_recorded_once_and_never_retried_by_the_pipeline() {
    use definition_store::MemoryStore;
    use test_support::{moto::unique, sns};

    use super::support::{TestNotifier, definitions, integration, settings};
    use crate::{
        DeliveryLog, EventReport, LogTimes, MemoryDeliveryLog, MemorySecrets, Pipeline,
        deliveries::AttemptOutcome,
    };

    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let port = receiver.address().port();
    let lookup = Arc::new(ScriptedLookup::default().answer("internal.test", &[&["127.0.0.1"]]));
    let http = HttpClient::with_lookup(
        &Config {
            allow_http: true,
            ..Config::default()
        },
        lookup.clone(),
    );
    let pipeline = Pipeline::new(
        TestNotifier { http },
        MemoryStore::new(definitions(vec![
            integration("by-name", &format!("http://internal.test:{port}/hook")),
            integration("by-address", "http://169.254.169.254/latest/meta-data"),
        ])),
        MemorySecrets::new(),
        MemoryDeliveryLog::new(LogTimes::default()),
        settings(4),
    );
    let alert_id = unique("alert");
    let event = sns::event(&[("m-1", &sns::native_alert(&alert_id))]);
    let report = pipeline
        .handle_event(&event, std::time::Instant::now() + Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        report,
        EventReport {
            records: 1,
            routes: 2,
            failed: 2,
            ..EventReport::default()
        }
    );
    let history = pipeline.deliveries().history(&alert_id).await.unwrap();
    assert_eq!(history.len(), 2, "one attempt per route: {history:?}");
    for attempt in &history {
        assert_eq!(attempt.outcome, AttemptOutcome::Permanent);
        let error = attempt.error.as_deref().unwrap_or_default();
        assert!(
            error.contains("refused: resolves to a private address"),
            "{error}"
        );
        assert!(
            !error.contains("/hook") && !error.contains("meta-data"),
            "{error}"
        );
    }
    assert_eq!(lookup.calls("internal.test"), 1);
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn line_breaks_in_a_url_are_refused_and_encoded_ones_stay_in_the_path() {
    let receiver = Receiver::start(
        Script::new()
            .route("/hook", [Reply::ok()])
            .route("/hook%0D%0AX-Injected:%20yes", [Reply::ok()]),
    )
    .await;
    let client = local_client();
    let port = receiver.address().port();
    for url in [
        format!("http://127.0.0.1:{port}/hook\r\nX-Injected: yes"),
        format!("http://127.0.0.1:{port}/hook?a=1\nX-Injected: yes"),
        format!("http://127.0.0.1:{port}/hook\rX-Injected: yes"),
        format!("http://127.0.0.1:{port}/hook\tx"),
        format!("http://127.0.0.1:{port}/hook\u{0}"),
        format!("http://127.0.0.1\r\n:{port}/hook"),
        format!("http://127.0.0.1:{port}/hook HTTP/1.1\r\nHost: evil\r\n\r\nGET /"),
    ] {
        let error = client.send(&post(&url)).await.unwrap_err();
        assert!(!error.is_retryable(), "{url:?}: {error}");
        assert_eq!(
            error.to_string(),
            format!(
                "url `http://127.0.0.1:{port}/…` refused: it contains a control character (CR, LF, tab, NUL, …)"
            ),
            "{url:?}"
        );
    }
    assert!(receiver.requests().is_empty());
    // Percent-encoded line breaks are path data, never a header.
    let sent = client
        .send(&post(&receiver.url("/hook%0D%0AX-Injected:%20yes")))
        .await
        .unwrap();
    assert_eq!(sent.status, Some(200));
    let received = &receiver.requests()[0];
    assert_eq!(received.path, "/hook%0D%0AX-Injected:%20yes");
    assert_eq!(received.header("x-injected"), None);
}

#[tokio::test]
async fn header_values_with_control_characters_and_bad_header_names_are_refused() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let client = local_client();
    let origin = receiver.url("");
    for value in [
        "a\r\nX-Injected: yes",
        "a\nX-Injected: yes",
        "a\rX-Injected: yes",
        "a\u{0}b",
        "a\u{b}b",
        "a\u{1b}[31m",
        "a\u{7f}",
    ] {
        let mut request = post(&receiver.url("/hook"));
        request.headers.insert("X-Value".to_owned(), value.to_owned());
        let error = client.send(&request).await.unwrap_err();
        assert!(!error.is_retryable(), "{value:?}");
        assert_eq!(
            error.to_string(),
            format!("{origin}: invalid value for header `X-Value`"),
            "{value:?}"
        );
    }
    for name in ["X Bad", "X-Bad:", "X-Bad\r\nX-Injected", "", "Ünï", "X\u{0}"] {
        let mut request = post(&receiver.url("/hook"));
        request.headers.insert(name.to_owned(), "v".to_owned());
        let error = client.send(&request).await.unwrap_err();
        assert!(!error.is_retryable(), "{name:?}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("{origin}: invalid header name `")),
            "{name:?}: {error}"
        );
    }
    assert!(receiver.requests().is_empty(), "a refused header was sent");
    // Text beyond ASCII and tabs are values, sent byte for byte.
    let mut request = post(&receiver.url("/hook"));
    let value = "Évènement ✓ 🚨 漢字\tand a tab";
    request.headers.insert("X-Monitor".to_owned(), value.to_owned());
    client.send(&request).await.unwrap();
    assert_eq!(receiver.requests()[0].header("x-monitor"), Some(value));
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
