use std::{collections::HashMap, net::IpAddr, path::PathBuf, time::Duration};

use crate::{AllowList, Config, ConfigError};

fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

const TABLES: [(&str, &str); 2] = [
    ("DEFINITIONS_TABLE", "Definitions"),
    ("DELIVERIES_TABLE", "Deliveries"),
];

#[test]
fn defaults_apply_when_only_tables_are_set() {
    let config = config(&TABLES).unwrap();
    assert_eq!(config.definitions_table, "Definitions");
    assert_eq!(config.deliveries_table, "Deliveries");
    assert_eq!(config.definitions_file, None);
    assert_eq!(config.cache_ttl, Duration::from_secs(60));
    assert_eq!(config.http_connect_timeout, Duration::from_millis(3000));
    assert_eq!(config.http_timeout, Duration::from_millis(10_000));
    assert_eq!(config.max_attempts, 4);
    assert!(config.allow_hosts.is_empty());
    assert!(!config.allow_http);
    assert_eq!(config.email_from, None);
    assert_eq!(config.claim_ttl, Duration::from_secs(300));
    assert_eq!(config.delivery_retention, Duration::from_secs(30 * 86_400));
    assert_eq!(config.topic_arn, None);
    assert_eq!(config.fallback_after_attempts, 8);
    assert_eq!(config.notice_interval, Duration::from_secs(3600));
    assert_eq!(config.metrics_namespace, "Tocsin");
    assert!(!config.log_json);
    assert_eq!(config.log_filter, "info");
}

#[test]
fn every_variable_is_read() {
    let config = config(&[
        ("DEFINITIONS_TABLE", "D"),
        ("DELIVERIES_TABLE", "L"),
        ("TOCSIN_CACHE_SECONDS", "5"),
        ("TOCSIN_HTTP_CONNECT_TIMEOUT_MS", "250"),
        ("TOCSIN_HTTP_TIMEOUT_MS", "1500"),
        ("TOCSIN_MAX_ATTEMPTS", "2"),
        ("TOCSIN_ALLOW_HOSTS", "127.0.0.1, localhost ,10.0.0.0/8,[::1]"),
        ("TOCSIN_ALLOW_HTTP", "true"),
        ("TOCSIN_EMAIL_FROM", "alerts@example.com"),
        ("TOCSIN_CLAIM_SECONDS", "120"),
        ("TOCSIN_DELIVERY_RETENTION_DAYS", "7"),
        ("TOCSIN_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts"),
        ("TOCSIN_FALLBACK_AFTER_ATTEMPTS", "3"),
        ("TOCSIN_NOTICE_INTERVAL_SECONDS", "600"),
        ("TOCSIN_METRICS_NAMESPACE", "Acme/Tocsin"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
    ])
    .unwrap();
    assert_eq!(config.cache_ttl, Duration::from_secs(5));
    assert_eq!(config.http_connect_timeout, Duration::from_millis(250));
    assert_eq!(config.http_timeout, Duration::from_millis(1500));
    assert_eq!(config.max_attempts, 2);
    assert_eq!(config.allow_hosts.hosts, vec!["localhost".to_owned()]);
    assert!(config.allow_hosts.allows_ip("127.0.0.1".parse().unwrap()));
    assert!(config.allow_hosts.allows_ip("10.20.30.40".parse().unwrap()));
    assert!(config.allow_hosts.allows_ip("::1".parse().unwrap()));
    assert!(!config.allow_hosts.allows_ip("192.168.1.1".parse().unwrap()));
    assert!(config.allow_http);
    assert_eq!(config.email_from.as_deref(), Some("alerts@example.com"));
    assert_eq!(config.claim_ttl, Duration::from_secs(120));
    assert_eq!(config.delivery_retention, Duration::from_secs(7 * 86_400));
    assert_eq!(
        config.topic_arn.as_deref(),
        Some("arn:aws:sns:us-east-1:123456789012:alerts")
    );
    assert_eq!(config.fallback_after_attempts, 3);
    assert_eq!(config.notice_interval, Duration::from_secs(600));
    assert_eq!(config.metrics_namespace, "Acme/Tocsin");
    assert!(config.log_json);
    assert_eq!(config.log_filter, "debug");
}

#[test]
fn rust_log_is_used_without_lambda_log_level() {
    let config = config(&[TABLES[0], TABLES[1], ("RUST_LOG", "notify_core=trace")]).unwrap();
    assert_eq!(config.log_filter, "notify_core=trace");
}

#[test]
fn tables_are_required_without_a_definitions_file() {
    assert_eq!(
        config(&[]).unwrap_err(),
        ConfigError::Missing("DEFINITIONS_TABLE")
    );
    assert_eq!(
        config(&[TABLES[0]]).unwrap_err(),
        ConfigError::Missing("DELIVERIES_TABLE")
    );
    assert_eq!(
        config(&[TABLES[0], ("DELIVERIES_TABLE", "  ")]).unwrap_err(),
        ConfigError::Missing("DELIVERIES_TABLE")
    );
    assert_eq!(
        config(&[TABLES[0]]).unwrap_err().to_string(),
        "missing environment variable `DELIVERIES_TABLE`"
    );
}

#[test]
fn a_definitions_file_makes_tables_optional() {
    let config = config(&[("TOCSIN_DEFINITIONS_FILE", "examples/definitions.yaml")]).unwrap();
    assert_eq!(
        config.definitions_file,
        Some(PathBuf::from("examples/definitions.yaml"))
    );
    assert_eq!(config.definitions_table, "");
    assert_eq!(config.deliveries_table, "");
}

#[test]
fn invalid_values_name_the_variable_and_the_reason() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "TOCSIN_CACHE_SECONDS",
            "soon",
            "environment variable `TOCSIN_CACHE_SECONDS`: `soon` is not a whole number",
        ),
        (
            "TOCSIN_MAX_ATTEMPTS",
            "0",
            "environment variable `TOCSIN_MAX_ATTEMPTS`: 0 is outside 1..=20",
        ),
        (
            "TOCSIN_MAX_ATTEMPTS",
            "1000",
            "environment variable `TOCSIN_MAX_ATTEMPTS`: 1000 is outside 1..=20",
        ),
        (
            "TOCSIN_HTTP_TIMEOUT_MS",
            "-1",
            "environment variable `TOCSIN_HTTP_TIMEOUT_MS`: `-1` is not a whole number",
        ),
        (
            "TOCSIN_HTTP_CONNECT_TIMEOUT_MS",
            "0",
            "environment variable `TOCSIN_HTTP_CONNECT_TIMEOUT_MS`: 0 is outside 1..=600000",
        ),
        (
            "TOCSIN_ALLOW_HTTP",
            "maybe",
            "environment variable `TOCSIN_ALLOW_HTTP`: `maybe` is not true or false",
        ),
        (
            "TOCSIN_ALLOW_HOSTS",
            "10.0.0.0/33",
            "environment variable `TOCSIN_ALLOW_HOSTS`: `10.0.0.0/33` is not a valid cidr",
        ),
        (
            "TOCSIN_ALLOW_HOSTS",
            "exa mple.com",
            "environment variable `TOCSIN_ALLOW_HOSTS`: `exa mple.com` is not a host name, an ip address or a cidr",
        ),
        (
            "AWS_LAMBDA_LOG_FORMAT",
            "xml",
            "environment variable `AWS_LAMBDA_LOG_FORMAT`: `xml` is not JSON or Text",
        ),
        (
            "TOCSIN_EMAIL_FROM",
            "alerts",
            "environment variable `TOCSIN_EMAIL_FROM`: `alerts` is not an e-mail address",
        ),
        (
            "TOCSIN_CLAIM_SECONDS",
            "0",
            "environment variable `TOCSIN_CLAIM_SECONDS`: 0 is outside 1..=86400",
        ),
        (
            "TOCSIN_TOPIC_ARN",
            "alerts",
            "environment variable `TOCSIN_TOPIC_ARN`: `alerts` is not an arn",
        ),
        (
            "TOCSIN_FALLBACK_AFTER_ATTEMPTS",
            "0",
            "environment variable `TOCSIN_FALLBACK_AFTER_ATTEMPTS`: 0 is outside 1..=1000",
        ),
        (
            "TOCSIN_METRICS_NAMESPACE",
            "a{b}",
            "environment variable `TOCSIN_METRICS_NAMESPACE`: `a{b}` is not a CloudWatch namespace",
        ),
    ];
    for (name, value, expected) in cases {
        let error = config(&[TABLES[0], TABLES[1], (name, value)]).unwrap_err();
        assert_eq!(error.to_string(), *expected, "{name}={value}");
    }
}

#[test]
fn allow_list_matches_hosts_case_insensitively_and_mapped_addresses() {
    let list: AllowList = "LocalHost.,192.168.0.0/16".parse().unwrap();
    assert!(list.allows_host("localhost"));
    assert!(list.allows_host("LOCALHOST."));
    assert!(!list.allows_host("localhost.example.com"));
    let mapped: IpAddr = "::ffff:192.168.3.4".parse().unwrap();
    assert!(list.allows_ip(mapped));
    assert!(!list.allows_ip("192.169.0.1".parse().unwrap()));
}

#[test]
fn lambda_log_levels_map_to_filters() {
    for (level, filter) in [
        ("TRACE", "trace"),
        ("INFO", "info"),
        ("WARN", "warn"),
        ("FATAL", "error"),
    ] {
        let config = config(&[
            TABLES[0],
            TABLES[1],
            ("AWS_LAMBDA_LOG_LEVEL", level),
            ("RUST_LOG", "off"),
        ])
        .unwrap();
        assert_eq!(config.log_filter, filter);
    }
}
