use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Receiver, Reply, Script, sns};

/// One raw HTTP/1.1 request; returns the response text, or "" when the connection was dropped.
async fn raw(receiver: &Receiver, path: &str, body: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(receiver.address()).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nX-Token: abc\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    response
}

#[tokio::test]
async fn replies_play_in_order_and_the_last_repeats() {
    let receiver = Receiver::start(Script::new().route(
        "/seq",
        [
            Reply::status(500),
            Reply::status(429).header("Retry-After", "1"),
            Reply::ok(),
        ],
    ))
    .await;
    let statuses: Vec<String> = {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let response = raw(&receiver, "/seq?x=1", "{}").await;
            statuses.push(response.lines().next().unwrap_or_default().to_owned());
        }
        statuses
    };
    assert_eq!(
        statuses,
        vec![
            "HTTP/1.1 500 Internal Server Error",
            "HTTP/1.1 429 Too Many Requests",
            "HTTP/1.1 200 OK",
            "HTTP/1.1 200 OK"
        ]
    );
    let requests = receiver.requests_to("/seq");
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].query.as_deref(), Some("x=1"));
    assert_eq!(requests[0].header("x-token"), Some("abc"));
    assert_eq!(requests[0].body, "{}");
    assert!(requests.windows(2).all(|pair| pair[0].at <= pair[1].at));
}

#[tokio::test]
async fn retry_after_headers_bodies_unknown_paths_delays_and_drops() {
    let receiver = Receiver::start(
        Script::new()
            .route(
                "/throttle",
                [Reply::status(429).header("Retry-After", "3").body("slow down")],
            )
            .route("/slow", [Reply::ok().delay(Duration::from_millis(300))])
            .route("/drop", [Reply::drop_connection()]),
    )
    .await;
    let throttled = raw(&receiver, "/throttle", "").await;
    assert!(throttled.contains("retry-after: 3"), "{throttled}");
    assert!(throttled.ends_with("slow down"), "{throttled}");
    assert!(raw(&receiver, "/unknown", "").await.starts_with("HTTP/1.1 404"));
    let started = std::time::Instant::now();
    assert!(raw(&receiver, "/slow", "").await.starts_with("HTTP/1.1 200"));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(raw(&receiver, "/drop", "").await, "");
    assert_eq!(receiver.requests().len(), 4, "dropped requests are recorded too");
    assert_eq!(receiver.wait_for(4, Duration::from_millis(10)).await.len(), 4);
}

#[test]
fn sample_events_carry_the_records_given() {
    let event = sns::event(&[("m-1", &sns::native_alert("a-1")), ("m-2", "plain text")]);
    let records = event["Records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[1]["Sns"]["MessageId"], "m-2");
    assert_eq!(records[1]["Sns"]["Message"], "plain text");
    let message: serde_json::Value =
        serde_json::from_str(records[0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    assert_eq!(message["version"], 1);
    assert_eq!(message["alert"]["alertGuid"], "a-1");
    assert_eq!(message["monitor"]["monitorGuid"], sns::SAMPLE_MONITOR_GUID);
    assert_eq!(message["monitor"]["customFields"]["Team"], "ops");
}

#[test]
fn a_record_takes_a_subject_a_topic_a_time_and_attributes() {
    let plain = sns::Record::new("m-1", "text").to_json();
    assert_eq!(plain["Sns"]["Subject"], serde_json::Value::Null);
    assert_eq!(plain["Sns"]["TopicArn"], sns::TOPIC_ARN);
    assert_eq!(
        plain["EventSubscriptionArn"],
        format!("{}:0b8c5e0a", sns::TOPIC_ARN)
    );
    assert_eq!(plain["Sns"]["MessageAttributes"]["severity"]["Value"], "critical");
    let record = sns::Record::new("m-2", "ALARM")
        .subject("ALARM: \"cpu\" in US East")
        .topic_arn("arn:aws:sns:eu-west-1:1:other")
        .timestamp("2026-01-02T03:04:05.000Z")
        .attributes(serde_json::json!({}));
    let event = sns::event_of([record.clone(), record.subject(None)]);
    let records = event["Records"].as_array().unwrap();
    assert_eq!(records[0]["Sns"]["Subject"], "ALARM: \"cpu\" in US East");
    assert_eq!(records[0]["Sns"]["TopicArn"], "arn:aws:sns:eu-west-1:1:other");
    assert_eq!(
        records[0]["EventSubscriptionArn"],
        "arn:aws:sns:eu-west-1:1:other:0b8c5e0a"
    );
    assert_eq!(records[0]["Sns"]["Timestamp"], "2026-01-02T03:04:05.000Z");
    assert_eq!(records[0]["Sns"]["MessageAttributes"], serde_json::json!({}));
    assert_eq!(records[1]["Sns"]["Subject"], serde_json::Value::Null);
    assert_eq!(
        sns::event(&[("m-3", "x")])["Records"][0],
        sns::Record::new("m-3", "x").to_json()
    );
}
