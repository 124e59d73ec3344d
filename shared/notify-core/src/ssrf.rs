//! The SSRF guard (DESIGN.md §7): which addresses an outgoing request may reach.
//!
//! The check runs twice: on IP-literal URLs before sending (reqwest does not resolve those), and on
//! every resolved address inside the client's DNS resolver, so that the addresses checked are the
//! addresses connected to (no DNS rebinding between check and connect).

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
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
        Some("a loopback address")
    } else if a == 10 || (a == 172 && (16..=31).contains(&b)) || (a == 192 && b == 168) {
        Some("a private address")
    } else if a == 169 && b == 254 {
        Some("a link-local address")
    } else if a == 100 && (64..=127).contains(&b) {
        Some("a shared (cgnat) address")
    } else if (224..=239).contains(&a) {
        Some("a multicast address")
    } else if a >= 240 || (a == 192 && b == 0 && c == 0) || (a == 198 && (18..=19).contains(&b)) {
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
    // Forms that embed an IPv4 address: mapped (::ffff:a.b.c.d), compatible (::a.b.c.d), NAT64
    // (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::). They reach the IPv4 address, so they are
    // judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refused_v4(v4);
    }
    let tail = Ipv4Addr::from(((u32::from(segments[6])) << 16) | u32::from(segments[7]));
    if segments[..6] == [0, 0, 0, 0, 0, 0] || segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return refused_v4(tail);
    }
    if segments[0] == 0x2002 {
        let embedded = Ipv4Addr::from((u32::from(segments[1]) << 16) | u32::from(segments[2]));
        return refused_v4(embedded);
    }
    if segments[0] & 0xfe00 == 0xfc00 {
        return Some("a unique-local (private) address");
    }
    if segments[0] & 0xffc0 == 0xfe80 || segments[0] & 0xffc0 == 0xfec0 {
        return Some("a link-local address");
    }
    if segments[0] & 0xff00 == 0xff00 {
        return Some("a multicast address");
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

/// A DNS resolver that refuses names resolving to non-public addresses, unless allowed.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub(crate) allow: Arc<AllowList>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = Arc::clone(&self.allow);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow.allows_host(&host) {
                for addr in &addrs {
                    let ip = addr.ip();
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
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}
