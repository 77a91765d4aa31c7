//! Which hosts the server may connect to on a tenant's behalf (their mail servers): never
//! its own network — loopback, private, link-local (cloud metadata at 169.254.169.254),
//! carrier-grade NAT, unspecified or multicast addresses — unless
//! `LEADLINE_ALLOW_PRIVATE_HOSTS=true` (a self-hosted mail server on the same network,
//! the tests). Otherwise a connection test would tell anyone which internal ports are open.

use std::net::IpAddr;
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

/// Resolves `host` and refuses it when any of its addresses is internal. The error names
/// the host, the address and the setting that allows it.
pub async fn check_public(host: &str, port: u16, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<IpAddr> = match h.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => {
            match tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host((h, port)))
                .await
            {
                Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                Ok(Err(e)) => return Err(format!("{h} does not resolve: {e}")),
                Err(_) => return Err(format!("{h} did not resolve within 10 s")),
            }
        }
    };
    match addrs.into_iter().find(|ip| is_internal(*ip)) {
        Some(ip) => Err(format!(
            "{h} is an address of the server's own network ({ip}); mail servers must be public (or set LEADLINE_ALLOW_PRIVATE_HOSTS=true)"
        )),
        None => Ok(()),
    }
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
