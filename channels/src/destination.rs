//! Where webhooks may be delivered: never to this machine, its LAN or any
//! other address that is not the public internet, unless a supervisor has
//! allow-listed the host (`webhook_allow_hosts` in `channels.json`).
//!
//! A webhook URL is a request the node makes on an API client's behalf; left
//! unchecked, any API token could make the node POST to its own loopback
//! services, the LAN's printers and routers, or a cloud metadata endpoint
//! (server-side request forgery). Two checks:
//!
//! - when a webhook is set, an IP-literal host (and `localhost`) is refused
//!   at once, with a 400 naming the allow-list;
//! - at delivery, names are resolved by [`GuardedResolver`], which refuses a
//!   name that resolves to any such address. The connection goes to the
//!   addresses it checked, so a name that changes its answer between the
//!   two checks (DNS rebinding) gains nothing. Such a refusal is permanent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::settings::{Settings, SettingsCache};

/// A webhook destination refused because of the address it names or resolves to.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
#[error(
    "the webhook host `{host}` is {addr}, a {reason} address; webhooks go only to public \
     addresses unless a supervisor adds the host to `webhook_allow_hosts` in channels.json"
)]
pub struct ForbiddenDestination {
    pub host: String,
    pub addr: IpAddr,
    pub reason: &'static str,
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() || a == 0 {
        "unspecified"
    } else if ip.is_private() {
        "private"
    } else if ip.is_link_local() {
        "link-local"
    } else if a == 100 && (64..128).contains(&b) {
        "shared (carrier-grade NAT)"
    } else if ip.is_broadcast() || ip.is_multicast() {
        "broadcast or multicast"
    } else if a >= 240 || (a == 198 && (b == 18 || b == 19)) || (a == 192 && b == 0) {
        "reserved"
    } else {
        return None;
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_reason(v4);
    }
    let first = ip.segments()[0];
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if first & 0xfe00 == 0xfc00 {
        "unique-local (private)"
    } else if first & 0xffc0 == 0xfe80 {
        "link-local"
    } else if ip.is_multicast() {
        "multicast"
    } else if let Some(v4) = ip.to_ipv4() {
        // The deprecated IPv4-compatible form `::a.b.c.d`.
        return v4_reason(v4);
    } else {
        return None;
    })
}

/// Why `ip` may not receive webhooks, if it may not: loopback, private
/// (RFC 1918, fc00::/7), link-local, carrier-grade NAT (100.64.0.0/10),
/// unspecified, multicast, broadcast or reserved.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn check_ip(host: &str, addr: IpAddr) -> Result<(), ForbiddenDestination> {
    match forbidden_reason(addr) {
        Some(reason) => Err(ForbiddenDestination {
            host: host.to_string(),
            addr,
            reason,
        }),
        None => Ok(()),
    }
}

/// The IP address a URL's host spells, if it is an IP literal (the URL
/// parser has normalised odd forms: `2130706433` is `127.0.0.1`).
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Checks a URL's host before any lookup, when a webhook is set: an IP
/// literal must be public and `localhost` (RFC 6761: always loopback) is
/// refused, unless allow-listed. Other names are checked when they are
/// resolved, at delivery.
pub fn check_url_host(url: &Url, settings: &Settings) -> Result<(), ForbiddenDestination> {
    let Some(host) = url.host_str() else {
        return Ok(());
    };
    if settings.webhook_host_allowed(host) {
        return Ok(());
    }
    if let Some(ip) = literal_ip(host) {
        return check_ip(host, ip);
    }
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return check_ip(host, IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    Ok(())
}

/// Checks a URL's host at delivery: IP literals here, since they never
/// reach the resolver; names are left to [`GuardedResolver`].
pub(crate) fn check_literal_host(
    url: &Url,
    settings: &Settings,
) -> Result<(), ForbiddenDestination> {
    match url.host_str() {
        Some(host) if !settings.webhook_host_allowed(host) => match literal_ip(host) {
            Some(ip) => check_ip(host, ip),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

/// The resolver webhook deliveries use: the system's, then every address
/// checked; a name that resolves to any forbidden address is refused whole.
pub(crate) struct GuardedResolver {
    pub settings: Arc<SettingsCache>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let allowed = self.settings.get().webhook_host_allowed(&host);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allowed {
                for addr in &addrs {
                    check_ip(&host, addr.ip())?;
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The refusal somewhere in an error's chain of causes, if it is one.
pub(crate) fn refusal_in(
    error: &(dyn std::error::Error + 'static),
) -> Option<ForbiddenDestination> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(f) = e.downcast_ref::<ForbiddenDestination>() {
            return Some(f.clone());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<&'static str> {
        forbidden_reason(s.parse().expect("ip"))
    }

    #[test]
    fn local_and_private_ranges_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "127.9.9.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "255.255.255.255",
            "224.0.0.251",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "ff02::fb",
        ] {
            assert!(reason(ip).is_some(), "{ip} must be forbidden");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(reason(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn literal_hosts_are_checked_and_the_allow_list_wins() {
        let url = |s: &str| Url::parse(s).expect("url");
        let mut settings = Settings::default();
        assert!(check_url_host(&url("http://127.0.0.1:9/h"), &settings).is_err());
        assert!(check_url_host(&url("http://[::1]/h"), &settings).is_err());
        assert!(check_url_host(&url("http://2130706433/h"), &settings).is_err());
        assert!(check_url_host(&url("http://LocalHost./h"), &settings).is_err());
        assert!(check_url_host(&url("http://api.localhost/h"), &settings).is_err());
        assert!(check_url_host(&url("https://hooks.example.com/h"), &settings).is_ok());
        assert!(check_url_host(&url("https://93.184.215.14/h"), &settings).is_ok());
        settings.webhook_allow_hosts = vec!["127.0.0.1".into(), "[::1]".into()];
        assert!(check_url_host(&url("http://127.0.0.1:9/h"), &settings).is_ok());
        assert!(check_url_host(&url("http://[::1]/h"), &settings).is_ok());
        assert!(check_url_host(&url("http://10.0.0.1/h"), &settings).is_err());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_of_local_addresses_unless_allow_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = crate::settings::SettingsFile::in_dir(dir.path());
        let resolver = GuardedResolver {
            settings: Arc::new(SettingsCache::new(file.clone())),
        };
        let name = |s: &str| s.parse::<Name>().expect("name");
        let error = match resolver.resolve(name("localhost")).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let refused = refusal_in(error.as_ref()).expect("a refusal");
        assert_eq!(refused.reason, "loopback");
        file.allow_webhook_host("localhost").expect("allow");
        let addrs: Vec<SocketAddr> = resolver
            .resolve(name("localhost"))
            .await
            .expect("allow-listed")
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
