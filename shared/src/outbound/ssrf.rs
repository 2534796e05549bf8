//! The SSRF guard: which addresses an outbound delivery may connect to. Loopback, private, link-local, CGNAT,
//! multicast, unspecified, documentation, benchmarking, reserved and cloud-metadata ranges are refused (IPv4,
//! IPv6, and IPv4 embedded in IPv6) unless a webhook's allow-list names them; the resolver hands the HTTP client
//! only addresses that passed, at every attempt, so a name that changes its answer (DNS rebinding) gains nothing.

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Why an address is not a public destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blocked {
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    SharedAddressSpace,
    Multicast,
    Documentation,
    Benchmarking,
    Reserved,
    Broadcast,
}

impl Blocked {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local (cloud metadata lives here)",
            Self::SharedAddressSpace => "carrier-grade NAT",
            Self::Multicast => "multicast",
            Self::Documentation => "documentation",
            Self::Benchmarking => "benchmarking",
            Self::Reserved => "reserved",
            Self::Broadcast => "broadcast",
        }
    }
}

/// The class of a non-public address, `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<Blocked> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Blocked> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => Blocked::Broadcast,
        (0, ..) => Blocked::Unspecified,
        (127, ..) => Blocked::Loopback,
        (10, ..) | (192, 168, _) => Blocked::Private,
        (172, b, _) if (16..32).contains(&b) => Blocked::Private,
        (169, 254, _) => Blocked::LinkLocal,
        (100, b, _) if (64..128).contains(&b) => Blocked::SharedAddressSpace,
        (192, 0, 0) => Blocked::Reserved,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Blocked::Documentation,
        (198, 18 | 19, _) => Blocked::Benchmarking,
        (224..=239, ..) => Blocked::Multicast,
        (240..=255, ..) => Blocked::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Blocked> {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    Some(match segments {
        _ if ip.is_unspecified() => Blocked::Unspecified,
        _ if ip.is_loopback() => Blocked::Loopback,
        [s, ..] if s & 0xfe00 == 0xfc00 => Blocked::Private,
        [s, ..] if s & 0xffc0 == 0xfe80 => Blocked::LinkLocal,
        [s, ..] if s & 0xffc0 == 0xfec0 => Blocked::Reserved,
        [s, ..] if s & 0xff00 == 0xff00 => Blocked::Multicast,
        [0x2001, 0x0db8, ..] | [0x3fff, 0x0..=0x0fff, ..] => Blocked::Documentation,
        [0x2001, 0x0002, 0, ..] => Blocked::Benchmarking,
        [0x0100, 0, 0, 0, ..] => Blocked::Reserved,
        _ => return None,
    })
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`) or NAT64
/// (`64:ff9b::a.b.c.d`) IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => Some(tail()),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(tail()),
        [0, 0, 0, 0, 0, 0, hi, _] if hi != 0 => Some(tail()),
        _ => None,
    }
}

/// A webhook's exceptions to the guard: CIDRs an operator chose to reach (an internal receiver, a test server).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowList(Vec<IpNet>);

impl AllowList {
    pub fn parse<'a>(cidrs: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        cidrs
            .into_iter()
            .map(|c| {
                c.trim()
                    .parse::<IpNet>()
                    .or_else(|_| c.trim().parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{c:?} is not a CIDR such as 10.1.0.0/16 or fd00::/8"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let mapped = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        self.0
            .iter()
            .any(|net| net.contains(&ip) || mapped.is_some_and(|m| net.contains(&m)))
    }

    /// `Ok` when a delivery may connect to `ip`; otherwise the reason, for the delivery log.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        match classify(ip) {
            Some(class) if !self.contains(ip) => Err(format!(
                "{ip} is a {} address; allow it explicitly to deliver there",
                class.as_str()
            )),
            _ => Ok(()),
        }
    }
}

/// A resolver for the delivery client: resolves with `inner`, keeps only addresses the allow-list passes, and
/// fails the connection (before any packet is sent) when none is left.
#[derive(Clone)]
pub struct GuardedResolver {
    allow: AllowList,
    inner: Arc<dyn reqwest::dns::Resolve>,
}

impl GuardedResolver {
    pub fn new(allow: AllowList, inner: Arc<dyn reqwest::dns::Resolve>) -> Self {
        Self { allow, inner }
    }

    /// The system resolver (tokio's `lookup_host`), guarded.
    pub fn system(allow: AllowList) -> Self {
        Self::new(allow, Arc::new(SystemResolver))
    }
}

/// How a refusal's message starts, wherever it surfaces.
pub const REFUSED_PREFIX: &str = "refused by the SSRF guard";

/// Refused destination, reported through reqwest's connect error.
#[derive(Debug, thiserror::Error)]
#[error("refused by the SSRF guard: {0}")]
pub struct Refused(pub String);

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (allow, inner) = (self.allow.clone(), self.inner.clone());
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = inner.resolve(name).await?.collect();
            let mut reasons = Vec::new();
            let passed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match allow.check(a.ip()) {
                    Ok(()) => true,
                    Err(reason) => {
                        reasons.push(reason);
                        false
                    }
                })
                .collect();
            if passed.is_empty() {
                let why = reasons
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("{host} has no address"));
                return Err(
                    Box::new(Refused(format!("{host}: {why}"))) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(passed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

struct SystemResolver;

impl reqwest::dns::Resolve for SystemResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((name.as_str(), 0)).await?;
            Ok(Box::new(addrs.collect::<Vec<_>>().into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An address literal in a URL never goes through the resolver, so deliveries check it here.
pub fn check_literal_host(host: &str, allow: &AllowList) -> Result<(), String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => allow.check(ip),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked(ip: &str) -> Option<Blocked> {
        classify(ip.parse().unwrap())
    }

    #[test]
    fn non_public_ranges_are_refused() {
        for (ip, class) in [
            ("0.0.0.0", Blocked::Unspecified),
            ("127.0.0.1", Blocked::Loopback),
            ("10.1.2.3", Blocked::Private),
            ("172.31.255.255", Blocked::Private),
            ("192.168.0.1", Blocked::Private),
            ("169.254.169.254", Blocked::LinkLocal),
            ("100.64.0.1", Blocked::SharedAddressSpace),
            ("224.0.0.1", Blocked::Multicast),
            ("192.0.2.1", Blocked::Documentation),
            ("198.18.0.1", Blocked::Benchmarking),
            ("255.255.255.255", Blocked::Broadcast),
            ("::", Blocked::Unspecified),
            ("::1", Blocked::Loopback),
            ("fd00:ec2::254", Blocked::Private),
            ("fe80::1", Blocked::LinkLocal),
            ("ff02::1", Blocked::Multicast),
            ("2001:db8::1", Blocked::Documentation),
            ("::ffff:127.0.0.1", Blocked::Loopback),
            ("::ffff:169.254.169.254", Blocked::LinkLocal),
            ("64:ff9b::10.0.0.1", Blocked::Private),
            ("::127.0.0.1", Blocked::Loopback),
        ] {
            assert_eq!(blocked(ip), Some(class), "{ip}");
        }
        for public in [
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(blocked(public), None, "{public}");
        }
    }

    #[test]
    fn the_allow_list_opens_only_what_it_names() {
        let allow = AllowList::parse(["127.0.0.0/8", "fd12::/16", "10.0.0.7"]).unwrap();
        assert!(allow.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(allow.check("::ffff:127.0.0.1".parse().unwrap()).is_ok());
        assert!(allow.check("10.0.0.7".parse().unwrap()).is_ok());
        assert!(allow.check("10.0.0.8".parse().unwrap()).is_err());
        assert!(
            allow
                .check("169.254.169.254".parse().unwrap())
                .unwrap_err()
                .contains("link-local")
        );
        assert!(AllowList::parse(["not a cidr"]).is_err());
        assert!(check_literal_host("[::1]", &AllowList::default()).is_err());
        assert!(check_literal_host("hooks.example.com", &AllowList::default()).is_ok());
    }

    /// Answers from a list, one per call: a name that is public when checked and private when used.
    struct Rebinding(std::sync::Mutex<Vec<IpAddr>>);

    impl reqwest::dns::Resolve for Rebinding {
        fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
            let ip = self.0.lock().unwrap().remove(0);
            Box::pin(
                async move { Ok(Box::new(std::iter::once(SocketAddr::new(ip, 0))) as reqwest::dns::Addrs) },
            )
        }
    }

    #[tokio::test]
    async fn every_resolution_is_checked_so_rebinding_is_refused() {
        let answers = vec!["93.184.216.34".parse().unwrap(), "127.0.0.1".parse().unwrap()];
        let guard = GuardedResolver::new(AllowList::default(), Arc::new(Rebinding(answers.into())));
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        use reqwest::dns::Resolve as _;
        let first: Vec<SocketAddr> = guard.resolve(name("rebind.test")).await.unwrap().collect();
        assert_eq!(first[0].ip().to_string(), "93.184.216.34");
        let second = guard
            .resolve(name("rebind.test"))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(second.contains("loopback"), "{second}");
    }
}
