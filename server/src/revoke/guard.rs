//! Where a secret may be sent: public addresses only, unless the configuration allows
//! internal ones for that provider (self-hosted instances, tests). The address is resolved
//! once, checked, and pinned in the HTTP client, so that a second DNS answer cannot point the
//! request elsewhere (DNS rebinding); redirects are not followed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (RFC 6052): 64:ff9b::/96 carries an IPv4 address in its last 32 bits,
            // reached through the translator; 64:ff9b:1::/48 is for local networks.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [.., hi, lo] = segments;
                return is_public_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
            }
            if segments[..3] == [0x64, 0xff9b, 1] {
                return false;
            }
            let first = segments[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254, cloud metadata)
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first == 0x2001 && segments[1] == 0x0db8)) // documentation
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16: cloud metadata endpoints
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

/// An HTTP client for `url` whose destination was checked: https (plain http only with
/// `allow_http`), to a public address unless `allow_internal`. The two are separate: a
/// self-hosted instance on an internal network still speaks https.
///
/// # Errors
///
/// The URL does not parse, the host does not resolve, or it resolves to a non-public address
/// that is not allowed (the message names host and address, never the secret).
pub async fn client_for(
    url: &str,
    allow_internal: bool,
    allow_http: bool,
    timeout: Duration,
) -> Result<reqwest::Client, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("bad provider URL: {e}"))?;
    if parsed.scheme() != "https" && !(parsed.scheme() == "http" && allow_http) {
        return Err(format!(
            "refusing to send a secret over {}:// (https only; allow_http permits http)",
            parsed.scheme()
        ));
    }
    let host = parsed.host_str().ok_or("provider URL without a host")?.to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::time::timeout(timeout, tokio::net::lookup_host((bare, port)))
            .await
            .map_err(|_| format!("resolving {host} timed out"))?
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect(),
    };
    let Some(first) = addrs.first().copied() else {
        return Err(format!("{host} has no address"));
    };
    if !allow_internal {
        if let Some(internal) = addrs.iter().find(|a| !is_public(a.ip())) {
            return Err(format!(
                "refusing to send a secret to {host} ({}): not a public address; set allow_internal for this provider to permit it",
                internal.ip()
            ));
        }
    }
    // reqwest is built without a default TLS provider: ring, installed once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .resolve(bare, first)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("leakgate/", env!("CARGO_PKG_VERSION"), " (credential revocation)"))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "224.0.0.1",
            // NAT64 of internal IPv4 addresses: the whole prefix, not one address.
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::7f00:1",
            "64:ff9b::a00:1",
            "64:ff9b::",
            "64:ff9b:1::8c52:7003",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["140.82.112.3", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::8c52:7003"] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn loopback_and_metadata_are_refused_unless_allowed() {
        let t = Duration::from_secs(1);
        let e = client_for("https://127.0.0.1/x", false, false, t).await.expect_err("refused");
        assert!(e.contains("not a public address"), "{e}");
        let e = client_for("https://169.254.169.254/latest/meta-data", false, false, t)
            .await
            .expect_err("refused");
        assert!(e.contains("169.254.169.254"), "{e}");
        assert!(client_for("http://example.com/x", false, false, t)
            .await
            .expect_err("http refused")
            .contains("https only"));
        let e = client_for("http://127.0.0.1:9/x", true, false, t).await.expect_err("http");
        assert!(e.contains("https only"), "allow_internal alone does not permit http: {e}");
        assert!(
            client_for("http://127.0.0.1:9/x", true, true, t).await.is_ok(),
            "allowed when configured"
        );
    }
}
