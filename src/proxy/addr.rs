//! Which upstream addresses the proxy may dial: IP-range classification and `allow_private` CIDRs.
//! IPv6 addresses that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are judged
//! by the IPv4 address they lead to as well, so `::ffff:127.0.0.1` is loopback like `127.0.0.1`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why an address is not on the public internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Unspecified,
    Loopback,
    Private,
    LinkLocal,
    SharedCgnat,
    Multicast,
    Broadcast,
    /// Reserved, documentation, benchmarking and protocol-assignment blocks: never a real upstream.
    Reserved,
    UniqueLocal,
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Range::Unspecified => "unspecified",
            Range::Loopback => "loopback",
            Range::Private => "private",
            Range::LinkLocal => "link-local",
            Range::SharedCgnat => "shared (CGNAT)",
            Range::Multicast => "multicast",
            Range::Broadcast => "broadcast",
            Range::Reserved => "reserved",
            Range::UniqueLocal => "unique-local",
        })
    }
}

/// Classifies one address; `None` means publicly routable.
pub fn classify(ip: IpAddr) -> Option<Range> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Range> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_broadcast() => Range::Broadcast,
        (0, _, _) if ip.is_unspecified() => Range::Unspecified,
        // 0.0.0.0/8 is "this network": Linux routes 0.x.y.z to the local host.
        (0, _, _) => Range::Unspecified,
        (127, _, _) => Range::Loopback,
        (10, _, _) | (192, 168, _) => Range::Private,
        (172, 16..=31, _) => Range::Private,
        (169, 254, _) => Range::LinkLocal,
        (100, 64..=127, _) => Range::SharedCgnat,
        (224..=239, _, _) => Range::Multicast,
        (240..=255, _, _) => Range::Reserved,
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Range::Reserved,
        (198, 18..=19, _) => Range::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<Range> {
    if ip.is_unspecified() {
        return Some(Range::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Range::Loopback);
    }
    let seg = ip.segments();
    let own = match seg[0] {
        0xff00..=0xffff => Some(Range::Multicast),
        0xfe80..=0xfebf => Some(Range::LinkLocal),
        // fec0::/10 site-local is deprecated but still means "this site".
        0xfec0..=0xfeff => Some(Range::Private),
        0xfc00..=0xfdff => Some(Range::UniqueLocal),
        // 100::/64 discard-only and 2001:db8::/32 documentation.
        0x0100 if seg[1..4] == [0, 0, 0] => Some(Range::Reserved),
        0x2001 if seg[1] == 0x0db8 => Some(Range::Reserved),
        _ => None,
    };
    // An address that embeds IPv4 is as dangerous as the IPv4 address it reaches.
    own.or_else(|| embedded_v4(ip).and_then(classify_v4))
}

/// The IPv4 address an IPv6 address leads to, if it is one of the IPv4-carrying forms.
pub fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let seg = ip.segments();
    let o = ip.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match seg {
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated).
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(tail),
        // 64:ff9b::/96 (NAT64 well-known prefix) and 64:ff9b:1::/48 (local-use NAT64).
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 1, ..] => Some(tail),
        // 2002:AABB:CCDD::/48 is 6to4 to AA.BB.CC.DD.
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        // Teredo 2001:0::/32: the client address is the last 32 bits, inverted.
        [0x2001, 0, ..] => Some(Ipv4Addr::from(!u32::from(tail))),
        _ => None,
    }
}

/// An address block from `allow_private`, e.g. `10.0.0.0/8` or `fd00::/8` (a bare address is /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad CIDR {0:?}: expected an address block such as \"10.0.0.0/8\" or \"fd00::/8\"")]
pub struct BadCidr(pub String);

impl FromStr for Cidr {
    type Err = BadCidr;

    fn from_str(s: &str) -> Result<Self, BadCidr> {
        let bad = || BadCidr(s.to_string());
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            // Only plain decimal digits: `u8::from_str` would also take "+8".
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad())?
            }
            Some(_) => return Err(bad()),
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { net, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => same_prefix(n.to_bits(), a.to_bits(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => same_prefix(n.to_bits(), a.to_bits(), self.prefix),
            _ => false,
        }
    }
}

fn same_prefix<T>(net: T, addr: T, prefix: u8) -> bool
where
    T: Copy + std::ops::BitXor<Output = T> + std::ops::Shr<u32, Output = T> + PartialEq + Default,
{
    let bits = (std::mem::size_of::<T>() * 8) as u32;
    let prefix = u32::from(prefix);
    // A shift by the full width overflows, so /0 is handled on its own.
    prefix == 0 || (net ^ addr) >> (bits - prefix) == T::default()
}

/// Checks an address the proxy is about to dial; `Err` names the range that refused it.
///
/// An address passes if it is public (and so is any IPv4 address it embeds), or if it or its
/// embedded IPv4 address falls in one of the `allow` blocks.
pub fn check(ip: IpAddr, allow: &[Cidr]) -> Result<(), Range> {
    let range = match classify(ip) {
        None => return Ok(()),
        Some(range) => range,
    };
    let allowed = |a: IpAddr| allow.iter().any(|c| c.contains(a));
    let via_v4 = match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
        IpAddr::V4(_) => None,
    };
    if allowed(ip) || via_v4.is_some_and(allowed) {
        Ok(())
    } else {
        Err(range)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn classifies_ranges() {
        let cases: &[(&str, Option<Range>)] = &[
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("0.0.0.0", Some(Range::Unspecified)),
            ("0.1.2.3", Some(Range::Unspecified)),
            ("127.0.0.1", Some(Range::Loopback)),
            ("127.255.255.254", Some(Range::Loopback)),
            ("10.1.2.3", Some(Range::Private)),
            ("172.16.0.1", Some(Range::Private)),
            ("172.31.255.255", Some(Range::Private)),
            ("192.168.1.1", Some(Range::Private)),
            ("169.254.169.254", Some(Range::LinkLocal)),
            ("100.64.0.1", Some(Range::SharedCgnat)),
            ("100.127.255.255", Some(Range::SharedCgnat)),
            ("224.0.0.1", Some(Range::Multicast)),
            ("239.255.255.250", Some(Range::Multicast)),
            ("255.255.255.255", Some(Range::Broadcast)),
            ("240.0.0.1", Some(Range::Reserved)),
            ("192.0.2.1", Some(Range::Reserved)),
            ("198.18.0.1", Some(Range::Reserved)),
            ("2606:4700::1111", None),
            ("::", Some(Range::Unspecified)),
            ("::1", Some(Range::Loopback)),
            ("fe80::1", Some(Range::LinkLocal)),
            ("febf::1", Some(Range::LinkLocal)),
            ("fc00::1", Some(Range::UniqueLocal)),
            ("fd12:3456::1", Some(Range::UniqueLocal)),
            ("ff02::1", Some(Range::Multicast)),
            ("2001:db8::1", Some(Range::Reserved)),
            ("::ffff:127.0.0.1", Some(Range::Loopback)),
            ("::ffff:169.254.169.254", Some(Range::LinkLocal)),
            ("::ffff:8.8.8.8", None),
            ("::10.0.0.1", Some(Range::Private)),
            ("64:ff9b::10.0.0.1", Some(Range::Private)),
            ("64:ff9b::8.8.8.8", None),
            ("2002:7f00:1::", Some(Range::Loopback)),
            ("2002:a9fe:a9fe::1", Some(Range::LinkLocal)),
            ("2002:0808:0808::1", None),
            // Teredo client 127.0.0.1, inverted: 0x80fffffe.
            (
                "2001:0:4136:e378:8000:63bf:80ff:fffe",
                Some(Range::Loopback),
            ),
        ];
        for (addr, want) in cases {
            assert_eq!(classify(ip(addr)), *want, "{addr}");
        }
    }

    #[test]
    fn parses_cidrs() {
        let good = [
            "10.0.0.0/8",
            "127.0.0.1",
            "0.0.0.0/0",
            "::1",
            "fd00::/8",
            "::/0",
        ];
        for s in good {
            assert!(s.parse::<Cidr>().is_ok(), "{s}");
        }
        let bad = [
            "",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0/8",
            "::/129",
            "host/8",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
        ];
        for s in bad {
            assert_eq!(s.parse::<Cidr>(), Err(BadCidr(s.to_string())), "{s}");
        }
    }

    #[test]
    fn cidr_membership() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.255.0.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(
            !c.contains(ip("::ffff:10.0.0.1")),
            "families are compared as given"
        );
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("1.2.3.4")));
        let host: Cidr = "fd00::1".parse().unwrap();
        assert!(host.contains(ip("fd00::1")));
        assert!(!host.contains(ip("fd00::2")));
    }

    #[test]
    fn check_applies_allow_list_to_embedded_v4() {
        let allow = ["127.0.0.0/8".parse().unwrap()];
        assert_eq!(check(ip("127.0.0.1"), &allow), Ok(()));
        assert_eq!(check(ip("::ffff:127.0.0.1"), &allow), Ok(()));
        assert_eq!(check(ip("::1"), &allow), Err(Range::Loopback));
        assert_eq!(check(ip("10.0.0.1"), &allow), Err(Range::Private));
        assert_eq!(check(ip("169.254.169.254"), &[]), Err(Range::LinkLocal));
        assert_eq!(check(ip("93.184.216.34"), &[]), Ok(()));
    }
}
