//! Settings read once from the environment.
//!
//! This is the only module that reads environment variables; everything else receives a [`Config`].

use std::{net::IpAddr, path::PathBuf, str::FromStr, time::Duration};

/// A missing or invalid setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("missing environment variable `{0}`")]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("environment variable `{name}`: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built (TLS set-up).
    #[error("cannot build the http client: {0}")]
    HttpClient(String),
}

/// The function's settings, read once in `main` (see [`Config::from_lookup`]).
///
/// `Default` gives the documented defaults with empty table names (in-memory use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `DEFINITIONS_TABLE`; empty when definitions come from [`Config::definitions_file`].
    pub definitions_table: String,
    /// `DELIVERIES_TABLE`; empty means an in-memory delivery log (local runs with a definitions file).
    pub deliveries_table: String,
    /// `TOCSIN_DEFINITIONS_FILE`: read definitions from this YAML file instead of DynamoDB.
    pub definitions_file: Option<PathBuf>,
    /// `TOCSIN_CACHE_SECONDS` (default 60): how long definitions and secrets are cached.
    pub cache_ttl: Duration,
    /// `TOCSIN_HTTP_CONNECT_TIMEOUT_MS` (default 3000).
    pub http_connect_timeout: Duration,
    /// `TOCSIN_HTTP_TIMEOUT_MS` (default 10000): the whole request, body included.
    pub http_timeout: Duration,
    /// `TOCSIN_MAX_ATTEMPTS` (default 4, 1..=20): attempts per message and invocation.
    pub max_attempts: u32,
    /// `TOCSIN_ALLOW_HOSTS`: what the SSRF guard lets through.
    pub allow_hosts: AllowList,
    /// `TOCSIN_ALLOW_HTTP` (default false): allow plain `http://` URLs.
    pub allow_http: bool,
    /// `TOCSIN_EMAIL_FROM`: sender of e-mail integrations without `from`.
    pub email_from: Option<String>,
    /// `TOCSIN_CLAIM_SECONDS` (default 300): how long a delivery claim holds before another
    /// invocation may take it over. At least one attempt (the HTTP connect and request timeouts)
    /// and [`CLAIM_MARGIN`], and, when `TOCSIN_FUNCTION_TIMEOUT_SECONDS` says the function's
    /// timeout, longer than it by [`CLAIM_MARGIN`]; a claim is also renewed before an attempt it
    /// might not outlive.
    pub claim_ttl: Duration,
    /// `TOCSIN_FUNCTION_TIMEOUT_SECONDS`: the function's timeout (the SAM template sets it with
    /// `Timeout`), when known.
    pub function_timeout: Option<Duration>,
    /// `TOCSIN_DELIVERY_RETENTION_DAYS` (default 30): `expiresAt` of delivery-log items.
    pub delivery_retention: Duration,
    /// `TOCSIN_TOPIC_ARN`: the alerts topic, where delivery-failure notices for fallback
    /// integrations are published; without it there are no notices (the metric is still emitted).
    pub topic_arn: Option<String>,
    /// `TOCSIN_FALLBACK_AFTER_ATTEMPTS` (default 8, 1..=1000): a route that keeps failing is reported
    /// to its fallback integration once it has made this many attempts over every invocation
    /// (a permanent failure is reported at once).
    pub fallback_after_attempts: u32,
    /// `TOCSIN_NOTICE_INTERVAL_SECONDS` (default 3600): at most one delivery-failure notice per
    /// route (integration and alert definition) in this interval.
    pub notice_interval: Duration,
    /// `TOCSIN_MAX_CONCURRENT_SENDS` (default 64, 1..=512): messages on the wire at once over
    /// every route of an invocation (each holds a connection; Lambda allows 1,024 descriptors),
    /// and routes of one record in progress at once (each holds its built messages).
    pub max_concurrent_sends: usize,
    /// `TOCSIN_METRICS_NAMESPACE` (default `Tocsin`): the CloudWatch namespace of the EMF metrics.
    pub metrics_namespace: String,
    /// `AWS_LAMBDA_LOG_FORMAT=JSON`: JSON log lines instead of compact text.
    pub log_json: bool,
    /// `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG` (default `info`).
    pub log_filter: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            definitions_table: String::new(),
            deliveries_table: String::new(),
            definitions_file: None,
            cache_ttl: Duration::from_secs(60),
            http_connect_timeout: Duration::from_millis(3000),
            http_timeout: Duration::from_millis(10_000),
            max_attempts: 4,
            allow_hosts: AllowList::default(),
            allow_http: false,
            email_from: None,
            claim_ttl: Duration::from_secs(300),
            function_timeout: None,
            delivery_retention: Duration::from_secs(30 * 24 * 3600),
            topic_arn: None,
            fallback_after_attempts: 8,
            notice_interval: Duration::from_secs(3600),
            max_concurrent_sends: 64,
            metrics_namespace: "Tocsin".to_owned(),
            log_json: false,
            log_filter: "info".to_owned(),
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    ///
    /// Empty values count as unset. `DEFINITIONS_TABLE` and `DELIVERIES_TABLE` are required unless
    /// `TOCSIN_DEFINITIONS_FILE` is set.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let defaults = Config::default();
        let definitions_file = get("TOCSIN_DEFINITIONS_FILE").map(PathBuf::from);
        let table = |name: &'static str| match get(name) {
            Some(value) => Ok(value),
            None if definitions_file.is_some() => Ok(String::new()),
            None => Err(ConfigError::Missing(name)),
        };
        let number = |name: &'static str, min: u64, max: u64, default: u64| -> Result<u64, ConfigError> {
            let Some(text) = get(name) else { return Ok(default) };
            let value: u64 = text.parse().map_err(|_| ConfigError::Invalid {
                name,
                reason: format!("`{text}` is not a whole number"),
            })?;
            if value < min || value > max {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("{value} is outside {min}..={max}"),
                });
            }
            Ok(value)
        };
        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            match get(name).map(|v| v.to_ascii_lowercase()) {
                None => Ok(false),
                Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => Ok(true),
                Some(v) if matches!(v.as_str(), "false" | "0" | "no") => Ok(false),
                Some(v) => Err(ConfigError::Invalid {
                    name,
                    reason: format!("`{v}` is not true or false"),
                }),
            }
        };
        let allow_hosts = match get("TOCSIN_ALLOW_HOSTS") {
            None => AllowList::default(),
            Some(text) => text.parse().map_err(|reason| ConfigError::Invalid {
                name: "TOCSIN_ALLOW_HOSTS",
                reason,
            })?,
        };
        let log_json = match get("AWS_LAMBDA_LOG_FORMAT") {
            None => false,
            Some(format) if format.eq_ignore_ascii_case("json") => true,
            Some(format) if format.eq_ignore_ascii_case("text") => false,
            Some(format) => {
                return Err(ConfigError::Invalid {
                    name: "AWS_LAMBDA_LOG_FORMAT",
                    reason: format!("`{format}` is not JSON or Text"),
                });
            }
        };
        let config = Config {
            definitions_table: table("DEFINITIONS_TABLE")?,
            deliveries_table: table("DELIVERIES_TABLE")?,
            cache_ttl: Duration::from_secs(number("TOCSIN_CACHE_SECONDS", 0, 86_400, 60)?),
            http_connect_timeout: Duration::from_millis(number(
                "TOCSIN_HTTP_CONNECT_TIMEOUT_MS",
                1,
                600_000,
                3000,
            )?),
            http_timeout: Duration::from_millis(number("TOCSIN_HTTP_TIMEOUT_MS", 1, 900_000, 10_000)?),
            // Bounded so that a typo cannot turn a 429 into a retry storm.
            max_attempts: number("TOCSIN_MAX_ATTEMPTS", 1, 20, 4)? as u32,
            allow_hosts,
            allow_http: flag("TOCSIN_ALLOW_HTTP")?,
            email_from: match get("TOCSIN_EMAIL_FROM") {
                Some(from) if !from.contains('@') => {
                    return Err(ConfigError::Invalid {
                        name: "TOCSIN_EMAIL_FROM",
                        reason: format!("`{from}` is not an e-mail address"),
                    });
                }
                from => from,
            },
            claim_ttl: Duration::from_secs(number("TOCSIN_CLAIM_SECONDS", 1, 86_400, 300)?),
            function_timeout: match get("TOCSIN_FUNCTION_TIMEOUT_SECONDS") {
                Some(_) => Some(Duration::from_secs(number(
                    "TOCSIN_FUNCTION_TIMEOUT_SECONDS",
                    1,
                    900,
                    60,
                )?)),
                None => None,
            },
            delivery_retention: Duration::from_secs(
                number("TOCSIN_DELIVERY_RETENTION_DAYS", 1, 3650, 30)? * 24 * 3600,
            ),
            topic_arn: match get("TOCSIN_TOPIC_ARN") {
                Some(arn) if !arn.starts_with("arn:") => {
                    return Err(ConfigError::Invalid {
                        name: "TOCSIN_TOPIC_ARN",
                        reason: format!("`{arn}` is not an arn"),
                    });
                }
                arn => arn,
            },
            fallback_after_attempts: number("TOCSIN_FALLBACK_AFTER_ATTEMPTS", 1, 1000, 8)? as u32,
            notice_interval: Duration::from_secs(number(
                "TOCSIN_NOTICE_INTERVAL_SECONDS",
                0,
                86_400 * 7,
                3600,
            )?),
            max_concurrent_sends: number("TOCSIN_MAX_CONCURRENT_SENDS", 1, 512, 64)? as usize,
            metrics_namespace: match get("TOCSIN_METRICS_NAMESPACE") {
                // CloudWatch: 1 to 255 characters of letters, digits and `.-_/#:`.
                Some(namespace)
                    if namespace.len() > 255
                        || !namespace
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || ".-_/#: ".contains(c)) =>
                {
                    return Err(ConfigError::Invalid {
                        name: "TOCSIN_METRICS_NAMESPACE",
                        reason: format!("`{namespace}` is not a CloudWatch namespace"),
                    });
                }
                Some(namespace) => namespace,
                None => defaults.metrics_namespace.clone(),
            },
            log_json,
            log_filter: get("AWS_LAMBDA_LOG_LEVEL")
                .map(|level| match level.to_ascii_lowercase().as_str() {
                    // Lambda's level names; FATAL has no tracing counterpart.
                    "fatal" => "error".to_owned(),
                    other => other.to_owned(),
                })
                .or_else(|| get("RUST_LOG"))
                .unwrap_or(defaults.log_filter),
            definitions_file,
        };
        config.check_claim_lifetime()?;
        Ok(config)
    }

    /// A claim must outlive an attempt, and the function's timeout when it is known: a claim that
    /// expires while its holder is still working lets a second invocation send too.
    fn check_claim_lifetime(&self) -> Result<(), ConfigError> {
        let attempt = self.http_connect_timeout + self.http_timeout + CLAIM_MARGIN;
        let needed = match self.function_timeout {
            Some(timeout) => attempt.max(timeout + CLAIM_MARGIN),
            None => attempt,
        };
        if self.claim_ttl < needed {
            let why = match self.function_timeout {
                Some(timeout) if timeout + CLAIM_MARGIN >= attempt => format!(
                    "the function's timeout (TOCSIN_FUNCTION_TIMEOUT_SECONDS, {} s) plus {} s",
                    timeout.as_secs(),
                    CLAIM_MARGIN.as_secs()
                ),
                _ => format!(
                    "one attempt (TOCSIN_HTTP_CONNECT_TIMEOUT_MS + TOCSIN_HTTP_TIMEOUT_MS) plus {} s",
                    CLAIM_MARGIN.as_secs()
                ),
            };
            return Err(ConfigError::Invalid {
                name: "TOCSIN_CLAIM_SECONDS",
                reason: format!(
                    "{} s is shorter than {why}, {} s: a claim could expire while its holder still sends, and a second invocation would send again",
                    self.claim_ttl.as_secs(),
                    needed.as_secs_f64().ceil()
                ),
            });
        }
        Ok(())
    }
}

/// What a claim must hold beyond an attempt, or beyond the function's timeout.
pub const CLAIM_MARGIN: Duration = Duration::from_secs(5);

/// Hosts, addresses and networks the SSRF guard lets through (`TOCSIN_ALLOW_HOSTS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    /// Lower-case host names, matched exactly.
    pub hosts: Vec<String>,
    /// Networks (a single address is a /32 or /128).
    pub networks: Vec<Cidr>,
}

impl AllowList {
    /// Whether the host name is listed (case-insensitive, without a trailing dot).
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.hosts.iter().any(|allowed| allowed == host)
    }

    /// Whether the address is inside a listed network.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|network| network.contains(ip))
    }

    /// True when nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.networks.is_empty()
    }
}

impl FromStr for AllowList {
    type Err = String;

    /// Comma-separated host names, IP addresses and CIDRs: `127.0.0.1,localhost,10.0.0.0/8`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut list = AllowList::default();
        for entry in text.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            let bare = entry.trim_start_matches('[').trim_end_matches(']');
            if entry.contains('/') {
                list.networks.push(entry.parse()?);
            } else if let Ok(ip) = bare.parse::<IpAddr>() {
                list.networks.push(Cidr::single(ip));
            } else if entry
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
            {
                list.hosts.push(entry.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(format!("`{entry}` is not a host name, an ip address or a cidr"));
            }
        }
        Ok(list)
    }
}

/// An IP network: address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub address: IpAddr,
    /// The prefix length (0..=32 for IPv4, 0..=128 for IPv6).
    pub prefix: u8,
}

impl Cidr {
    /// The network holding only `ip`.
    pub fn single(ip: IpAddr) -> Self {
        Cidr {
            address: ip,
            prefix: if ip.is_ipv4() { 32 } else { 128 },
        }
    }

    /// Whether `ip` is inside the network (an IPv4-mapped IPv6 address counts as its IPv4 form).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("`{text}` is not a valid cidr");
        let (address, prefix) = text.split_once('/').ok_or_else(invalid)?;
        let address: IpAddr = address.trim().parse().map_err(|_| invalid())?;
        let prefix: u8 = prefix.trim().parse().map_err(|_| invalid())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        if prefix > max {
            return Err(invalid());
        }
        Ok(Cidr { address, prefix })
    }
}
