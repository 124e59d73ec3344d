//! The SSRF guard (DESIGN.md §7): which addresses an outgoing request may reach.
//!
//! The check runs twice: on IP-literal URLs before sending (the connector does not resolve those),
//! and on every address a name resolves to, inside the client's DNS resolver. The connector
//! connects only to the addresses that resolver returned, and each connection resolves once, so
//! the addresses checked are the addresses connected to: an answer that changes between lookups
//! (DNS rebinding) cannot slip a private address past the check.
//!
//! Refused: every address the IANA special-purpose registries mark as not globally reachable
//! (<https://www.iana.org/assignments/iana-ipv4-special-registry>,
//! <https://www.iana.org/assignments/iana-ipv6-special-registry>), the cloud metadata addresses,
//! and multicast. IPv6 forms that carry an IPv4 address (mapped, compatible, translated, NAT64,
//! 6to4) are judged by that IPv4 address.

use std::{
    future::Future,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    pin::Pin,
    sync::Arc,
};

use crate::config::AllowList;

/// Why an address is refused, or `None` when it is a public address.
pub(crate) fn refused_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("the cloud metadata address")
    } else if a == 0 {
        Some("an unspecified address")
    } else if a == 127 {
        // Also where the Lambda Runtime API listens.
        Some("a loopback address")
    } else if a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168) {
        Some("a private address")
    } else if a == 169 && b == 254 {
        Some("a link-local address")
    } else if a == 100 && (64..=127).contains(&b) {
        Some("a shared (cgnat) address")
    } else if (224..=239).contains(&a) {
        Some("a multicast address")
    } else if (a, b, c) == (192, 0, 2) || (a, b, c) == (198, 51, 100) || (a, b, c) == (203, 0, 113) {
        Some("a documentation address")
    } else if a >= 240
        || (a, b, c) == (192, 0, 0)
        || (a, b, c) == (192, 88, 99)
        || (a == 198 && (18..=19).contains(&b))
    {
        // 240/4 (and the broadcast address), IETF protocol assignments, the deprecated 6to4 relay
        // anycast, benchmarking.
        Some("a reserved address")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        return Some("the cloud metadata address");
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // Forms that embed an IPv4 address reach that address, so they are judged by it: mapped
    // (::ffff:a.b.c.d), translated (::ffff:0:a.b.c.d), compatible (::a.b.c.d), NAT64
    // (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::).
    let tail = Ipv4Addr::from((u32::from(segments[6]) << 16) | u32::from(segments[7]));
    if matches!(
        segments,
        [0, 0, 0, 0, 0, 0, _, _]
            | [0, 0, 0, 0, 0, 0xffff, _, _]
            | [0, 0, 0, 0, 0xffff, 0, _, _]
            | [0x64, 0xff9b, 0, 0, 0, 0, _, _]
    ) {
        return refused_v4(tail);
    }
    if segments[0] == 0x2002 {
        let embedded = Ipv4Addr::from((u32::from(segments[1]) << 16) | u32::from(segments[2]));
        return refused_v4(embedded);
    }
    if segments[0] & 0xfe00 == 0xfc00 {
        return Some("a unique-local (private) address");
    }
    if segments[0] & 0xffc0 == 0xfe80 {
        return Some("a link-local address");
    }
    if segments[0] & 0xffc0 == 0xfec0 {
        return Some("a site-local (private) address");
    }
    if segments[0] & 0xff00 == 0xff00 {
        return Some("a multicast address");
    }
    if segments[..2] == [0x2001, 0xdb8] || segments[0] & 0xfff0 == 0x3ff0 {
        return Some("a documentation address");
    }
    // The local-use NAT64 prefix 64:ff9b:1::/48 (its translator is a local network's), the
    // discard prefix 100::/64, the IETF protocol assignments 2001::/23 (Teredo, benchmarking,
    // ORCHID, …) and SRv6 SIDs 5f00::/16.
    if segments[..3] == [0x64, 0xff9b, 1]
        || segments[..4] == [0x100, 0, 0, 0]
        || (segments[0] == 0x2001 && segments[1] < 0x200)
        || segments[0] == 0x5f00
    {
        return Some("a reserved address");
    }
    None
}

/// The error the resolver returns for a refused name; found again in the error chain to classify
/// the failure as permanent.
#[derive(Debug, thiserror::Error)]
#[error("`{host}` resolves to {reason} ({ip})")]
pub(crate) struct Refused {
    pub(crate) host: String,
    pub(crate) ip: IpAddr,
    pub(crate) reason: &'static str,
}

/// What [`Lookup::lookup`] returns.
pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>>;

/// Resolves a host name to its addresses for [`crate::HttpClient`]. The guard checks every address
/// of the answer, and the client connects only to those addresses.
///
/// Production resolves with the system resolver; tests can give a lookup of their own (see
/// `HttpClient::with_lookup`, behind the `testing` feature) to make names resolve to chosen
/// addresses.
pub trait Lookup: std::fmt::Debug + Send + Sync + 'static {
    /// The addresses `host` resolves to, now.
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The system resolver (`getaddrinfo` through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}

/// A DNS resolver that refuses names resolving to non-public addresses, unless allowed.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub(crate) allow: Arc<AllowList>,
    pub(crate) lookup: Arc<dyn Lookup>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = Arc::clone(&self.allow);
        let host = name.as_str().to_owned();
        let answer = self.lookup.lookup(&host);
        Box::pin(async move {
            let ips = answer.await?;
            if !allow.allows_host(&host) {
                for &ip in &ips {
                    if allow.allows_ip(ip) {
                        continue;
                    }
                    if let Some(reason) = refused_reason(ip) {
                        let refused: Box<dyn std::error::Error + Send + Sync> =
                            Box::new(Refused { host, ip, reason });
                        return Err(refused);
                    }
                }
            }
            // Exactly the addresses checked; the connector sets the URL's port.
            let addrs: reqwest::dns::Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
