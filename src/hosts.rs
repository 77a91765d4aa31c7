//! Which hosts the server may connect to on a tenant's behalf (their mail servers, their
//! webhook receivers): never
//! its own network — loopback, private, link-local (cloud metadata at 169.254.169.254),
//! carrier-grade NAT, unspecified or multicast addresses — unless
//! `LEADLINE_ALLOW_PRIVATE_HOSTS=true` (a self-hosted mail server on the same network,
//! the tests). Otherwise a connection test would tell anyone which internal ports are open.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Whether an address is one of the server's own network's.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 0
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Why a host may not be connected to.
#[derive(Debug)]
pub enum Refused {
    /// It is (or resolves to) an address of the server's own network: permanent.
    Internal(String),
    /// It does not resolve (now): worth retrying.
    Unresolved(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Internal(m) | Self::Unresolved(m) => f.write_str(m),
        }
    }
}

/// Resolves `host` (bounded by 10 s) and refuses it when any of its addresses is internal.
/// Connections go to the addresses returned, so a name that resolves anew to an internal
/// address between this check and the connection (DNS rebinding) cannot slip through.
/// The error names the host, the address and the setting that allows it.
pub async fn resolve(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, Refused> {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match h.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            match tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host((h, port)))
                .await
            {
                Ok(Ok(found)) => found.collect(),
                Ok(Err(e)) => {
                    return Err(Refused::Unresolved(format!("{h} does not resolve: {e}")))
                }
                Err(_) => {
                    return Err(Refused::Unresolved(format!(
                        "{h} did not resolve within 10 s"
                    )))
                }
            }
        }
    };
    if addrs.is_empty() {
        return Err(Refused::Unresolved(format!("{h} has no address")));
    }
    if !allow_private {
        if let Some(a) = addrs.iter().find(|a| is_internal(a.ip())) {
            return Err(Refused::Internal(format!(
                "{h} is an address of the server's own network ({}); a tenant's servers must be public (or set LEADLINE_ALLOW_PRIVATE_HOSTS=true)",
                a.ip()
            )));
        }
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognized() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "142.250.0.1", "2001:4860:4860::8888"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }
}
