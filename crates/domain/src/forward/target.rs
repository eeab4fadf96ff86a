//! Which URLs an endpoint may point at.
//!
//! Checked when an endpoint is created or changed and again when a delivery
//! is sent (DNS may answer differently by then: rebinding), so that the
//! forwarder cannot be turned against the internal network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// What the configuration allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Accept `http` as well as `https`.
    pub allow_http: bool,
    /// Accept hosts on loopback, private, link-local and metadata addresses.
    pub allow_private: bool,
}

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an absolute URL with a host.
    #[error("url is not a valid absolute URL with a host")]
    Invalid,
    /// The scheme is not `https` (or `http` where allowed).
    #[error("url must use https")]
    Scheme,
    /// User name or password in the URL (they would leak into logs).
    #[error("url must not carry credentials")]
    Credentials,
    /// The host is, or resolves to, an internal address.
    #[error("url resolves to a private, loopback or link-local address")]
    Private,
    /// The host name does not resolve.
    #[error("url host does not resolve")]
    Unresolvable,
}

/// Checks the URL's form (scheme, host, no credentials) without resolving it.
pub fn parse(url: &str, policy: TargetPolicy) -> Result<Url, TargetError> {
    let parsed = Url::parse(url.trim()).map_err(|_| TargetError::Invalid)?;
    match parsed.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        _ => return Err(TargetError::Scheme),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError::Credentials);
    }
    match parsed.host() {
        None => Err(TargetError::Invalid),
        Some(Host::Ipv4(ip)) if !policy.allow_private && is_forbidden(IpAddr::V4(ip)) => {
            Err(TargetError::Private)
        }
        Some(Host::Ipv6(ip)) if !policy.allow_private && is_forbidden(IpAddr::V6(ip)) => {
            Err(TargetError::Private)
        }
        Some(_) => Ok(parsed),
    }
}

/// Checks the URL's form and resolves its host: refused if any address it
/// resolves to is internal (an attacker controls which one a client picks).
pub async fn check(url: &str, policy: TargetPolicy) -> Result<Url, TargetError> {
    let parsed = parse(url, policy)?;
    if policy.allow_private {
        return Ok(parsed);
    }
    if let Some(Host::Domain(domain)) = parsed.host() {
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addrs = tokio::net::lookup_host((domain, port))
            .await
            .map_err(|_| TargetError::Unresolvable)?;
        let mut any = false;
        for addr in addrs {
            any = true;
            if is_forbidden(addr.ip()) {
                return Err(TargetError::Private);
            }
        }
        if !any {
            return Err(TargetError::Unresolvable);
        }
    }
    Ok(parsed)
}

/// Whether an address is internal: loopback, private, shared (CGNAT),
/// link-local (which holds the cloud metadata service, 169.254.169.254),
/// unique-local (`fc00::/7`, including `fd00::/8`), multicast, unspecified or
/// reserved. IPv4 embedded in IPv6 (mapped, NAT64, 6to4) is judged as IPv4;
/// local-use NAT64 and Teredo, whose IPv4 cannot be read back reliably, are
/// refused whole.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_forbidden_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_forbidden_v4(embedded_v4(s[6], s[7]));
    }
    // 6to4 (2002::/16) carries the relay's IPv4 address in its next 32 bits;
    // a 6to4 router on the inside would deliver to that address.
    if s[0] == 0x2002 {
        return is_forbidden_v4(embedded_v4(s[1], s[2]));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7 (fd00::/8 included)
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // deprecated site-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64, 64:ff9b:1::/48
        || (s[0] == 0x2001 && s[1] == 0) // Teredo, 2001::/32: tunnels to an obfuscated IPv4
        || s[..4] == [0x100, 0, 0, 0] // discard-only, 100::/64
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: TargetPolicy = TargetPolicy {
        allow_http: false,
        allow_private: false,
    };

    #[test]
    fn internal_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2002:c0a8:101:1::5",
            "64:ff9b:1::a00:1",
            "64:ff9b:1:abcd::7f00:1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "100::1",
        ] {
            assert!(is_forbidden(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "2002:5db8:d822::1", // 6to4 of 93.184.216.34
            "64:ff9b::808:808",  // NAT64 of 8.8.8.8
        ] {
            assert!(!is_forbidden(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn http_is_refused_unless_allowed() {
        assert_eq!(
            parse("http://example.com/hook", STRICT),
            Err(TargetError::Scheme)
        );
        let lax = TargetPolicy {
            allow_http: true,
            ..STRICT
        };
        assert!(parse("http://example.com/hook", lax).is_ok());
    }

    #[test]
    fn literal_internal_hosts_and_credentials_are_refused() {
        assert_eq!(
            parse("https://169.254.169.254/latest", STRICT),
            Err(TargetError::Private)
        );
        assert_eq!(
            parse("https://[fd00::1]/x", STRICT),
            Err(TargetError::Private)
        );
        assert_eq!(
            parse("https://user:pw@example.com/", STRICT),
            Err(TargetError::Credentials)
        );
        assert_eq!(parse("not a url", STRICT), Err(TargetError::Invalid));
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        assert_eq!(
            check("https://localhost:8443/hook", STRICT).await,
            Err(TargetError::Private)
        );
    }
}
