//! Which upstream addresses the proxy may dial: IP-range classification and `allow_private` CIDRs.
//! An IPv6 address that carries an IPv4 address (mapped, compatible, translated, NAT64, 6to4,
//! Teredo, ISATAP) is judged by every IPv4 address it may lead to as well, so `::ffff:127.0.0.1`
//! is loopback like `127.0.0.1`.

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
    /// Reserved, documentation, benchmarking and protocol-assignment blocks, and IPv6 space
    /// outside global unicast: never a real upstream.
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

/// Why an address is refused: its range, and the embedded IPv4 address that put it there when
/// the IPv6 address itself would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub range: Range,
    pub via: Option<Ipv4Addr>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.via {
            Some(v4) => write!(f, "{} address {v4}", self.range),
            None => write!(f, "{} address", self.range),
        }
    }
}

/// Classifies one address; `None` means publicly routable.
pub fn classify(ip: IpAddr) -> Option<Range> {
    judge(ip).map(|r| r.range)
}

/// Like [`classify`], naming the embedded IPv4 address behind a refusal.
pub fn judge(ip: IpAddr) -> Option<Refusal> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4).map(|range| Refusal { range, via: None }),
        IpAddr::V6(v6) => judge_v6(v6),
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

fn judge_v6(ip: Ipv6Addr) -> Option<Refusal> {
    if ip.is_unspecified() {
        return Some(Refusal {
            range: Range::Unspecified,
            via: None,
        });
    }
    if ip.is_loopback() {
        return Some(Refusal {
            range: Range::Loopback,
            via: None,
        });
    }
    if let Some(range) = own_range_v6(ip.segments()) {
        return Some(Refusal { range, via: None });
    }
    // An address that embeds IPv4 is as dangerous as any IPv4 address it may reach.
    embedded_v4(ip).find_map(|v4| {
        classify_v4(v4).map(|range| Refusal {
            range,
            via: Some(v4),
        })
    })
}

/// The range of an IPv6 address by its own prefix, before any IPv4 address it carries.
fn own_range_v6(seg: [u16; 8]) -> Option<Range> {
    Some(match seg[0] {
        0xff00..=0xffff => Range::Multicast,
        0xfe80..=0xfebf => Range::LinkLocal,
        // fec0::/10 site-local is deprecated but still means "this site".
        0xfec0..=0xfeff => Range::Private,
        0xfc00..=0xfdff => Range::UniqueLocal,
        // The translation prefixes lie outside global unicast; what they carry decides.
        _ if is_translation_prefix(seg) => return None,
        // Only 2000::/3 is global unicast; the rest (100::/64 discard, 5f00::/16 SRv6, the
        // unassigned blocks) is no upstream.
        0x0000..=0x1fff | 0x4000..=0xfbff => Range::Reserved,
        // 2001:db8::/32 and 3fff::/20 documentation, 2001:2::/48 benchmarking, 2001:10::/28 and
        // 2001:20::/28 ORCHID (never routed).
        0x2001 if seg[1] == 0x0db8 => Range::Reserved,
        0x2001 if seg[1] == 2 && seg[2] == 0 => Range::Reserved,
        0x2001 if matches!(seg[1] & 0xfff0, 0x10 | 0x20) => Range::Reserved,
        0x3fff if seg[1] < 0x1000 => Range::Reserved,
        _ => return None,
    })
}

/// `::/96` (compatible), `::ffff:0:0/96` (mapped), `::ffff:0:0:0/96` (translated, RFC 2765),
/// `64:ff9b::/96` (NAT64 well-known) and `64:ff9b:1::/48` (NAT64 local use, RFC 8215).
fn is_translation_prefix(seg: [u16; 8]) -> bool {
    matches!(
        seg,
        [0, 0, 0, 0, 0, 0 | 0xffff, _, _]
            | [0, 0, 0, 0, 0xffff, 0, _, _]
            | [0x64, 0xff9b, 0, 0, 0, 0, _, _]
            | [0x64, 0xff9b, 1, ..]
    )
}

/// Every IPv4 address an IPv6 address may lead to, one per IPv4-carrying form it has (an
/// address can have several: a 6to4 prefix with an ISATAP interface id, say).
pub fn embedded_v4(ip: Ipv6Addr) -> impl Iterator<Item = Ipv4Addr> {
    let seg = ip.segments();
    let o = ip.octets();
    let at = |i: usize| Ipv4Addr::new(o[i], o[i + 1], o[i + 2], o[i + 3]);
    let tail = at(12);
    let translated = match seg {
        [0x64, 0xff9b, 1, ..] => None,
        _ if is_translation_prefix(seg) => Some(tail),
        _ => None,
    };
    let local_nat64 = match seg {
        [0x64, 0xff9b, 1, ..] => nat64_readings(o),
        _ => [None; 4],
    };
    // 2002:AABB:CCDD::/48 is 6to4 to AA.BB.CC.DD.
    let six_to_four = (seg[0] == 0x2002).then(|| at(2));
    // Teredo 2001:0::/32: the server's address, then the client's, stored inverted.
    let teredo = match seg {
        [0x2001, 0, ..] => [Some(at(4)), Some(Ipv4Addr::from(!u32::from(tail)))],
        _ => [None; 2],
    };
    // ISATAP under any prefix: interface id 0000:5efe, with the u and g bits either way.
    let isatap = (seg[4] & 0xfcff == 0 && seg[5] == 0x5efe).then_some(tail);
    [translated]
        .into_iter()
        .chain(local_nat64)
        .chain([six_to_four])
        .chain(teredo)
        .chain([isatap])
        .flatten()
}

/// The IPv4 address in a `64:ff9b:1::/48` address under each RFC 6052 prefix length that fits
/// inside it (/48, /56, /64, /96). The operator's choice cannot be seen from here, so each
/// well-formed reading counts: bits 64-71 and the suffix after the IPv4 address are zero in
/// every reading but /96.
fn nat64_readings(o: [u8; 16]) -> [Option<Ipv4Addr>; 4] {
    let zero = |range: std::ops::Range<usize>| o[range].iter().all(|&b| b == 0);
    let reading = |bytes: [u8; 4], suffix: std::ops::Range<usize>| {
        (o[8] == 0 && zero(suffix)).then(|| Ipv4Addr::from(bytes))
    };
    [
        reading([o[6], o[7], o[9], o[10]], 11..16),
        reading([o[7], o[9], o[10], o[11]], 12..16),
        reading([o[9], o[10], o[11], o[12]], 13..16),
        Some(Ipv4Addr::new(o[12], o[13], o[14], o[15])),
    ]
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

/// Checks an address the proxy is about to dial; `Err` says which range refused it.
///
/// An address passes if it is public (and so is every IPv4 address it embeds), if it falls in
/// one of the `allow` blocks, or if it is refused only for what it embeds and every non-public
/// IPv4 address it embeds falls in one of them.
pub fn check(ip: IpAddr, allow: &[Cidr]) -> Result<(), Refusal> {
    let Some(refusal) = judge(ip) else {
        return Ok(());
    };
    let allowed = |a: IpAddr| allow.iter().any(|c| c.contains(a));
    if allowed(ip) {
        return Ok(());
    }
    let via_allowed = match (ip, refusal.via) {
        (IpAddr::V6(v6), Some(_)) => embedded_v4(v6)
            .filter(|v4| classify_v4(*v4).is_some())
            .all(|v4| allowed(IpAddr::V4(v4))),
        _ => false,
    };
    if via_allowed {
        Ok(())
    } else {
        Err(refusal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn refused(ip: IpAddr, allow: &[Cidr]) -> Result<(), Range> {
        check(ip, allow).map_err(|r| r.range)
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

    /// Every IPv6 form that carries an IPv4 address is judged by that address: the metadata
    /// address 169.254.169.254 (a9fe:a9fe) and loopback in each of them, a public address
    /// (8.8.8.8, 0808:0808) in each for contrast.
    #[test]
    fn ipv4_embedding_forms_are_judged_by_their_ipv4() {
        use Range::{LinkLocal, Loopback, Private};
        let cases: &[(&str, Option<Range>)] = &[
            // IPv4-mapped ::ffff:0:0/96 and IPv4-compatible ::/96 (deprecated).
            ("::ffff:a9fe:a9fe", Some(LinkLocal)),
            ("::a9fe:a9fe", Some(LinkLocal)),
            ("::0.0.0.2", Some(Range::Unspecified)),
            // IPv4-translated ::ffff:0:0:0/96 (RFC 2765 SIIT).
            ("::ffff:0:a9fe:a9fe", Some(LinkLocal)),
            ("::ffff:0:169.254.169.254", Some(LinkLocal)),
            ("::ffff:0:7f00:1", Some(Loopback)),
            ("::ffff:0:0a00:1", Some(Private)),
            ("::ffff:0:808:808", None),
            // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052).
            ("64:ff9b::a9fe:a9fe", Some(LinkLocal)),
            ("64:ff9b::808:808", None),
            // NAT64 local-use 64:ff9b:1::/48 (RFC 8215), with the IPv4 address where each
            // RFC 6052 prefix length inside it puts it (/48, /56, /64, /96; bits 64-71 are 0).
            ("64:ff9b:1:a9fe:a9:fe00::", Some(LinkLocal)),
            ("64:ff9b:1:a9:fe:a9fe::", Some(LinkLocal)),
            ("64:ff9b:1::a9:fea9:fe00:0", Some(LinkLocal)),
            ("64:ff9b:1::a9fe:a9fe", Some(LinkLocal)),
            ("64:ff9b:1:7f00:0:100::", Some(Loopback)),
            // A /48 reading of 8.8.8.8 is also a /96 reading of 0.0.0.0: refused.
            ("64:ff9b:1:808:8:800::", Some(Range::Unspecified)),
            ("64:ff9b:1::808:808", None),
            // The rest of 64:ff9b::/32 carries nothing we know how to read: not an upstream.
            ("64:ff9b:2::808:808", Some(Range::Reserved)),
            // 6to4 2002::/16: the IPv4 address is bits 16-47.
            ("2002:a9fe:a9fe::1", Some(LinkLocal)),
            ("2002:7f00:1::1", Some(Loopback)),
            ("2002:808:808::1", None),
            // Teredo 2001::/32: the server is bits 32-63, the client bits 96-127 inverted.
            ("2001:0:4136:e378:8000:63bf:5601:5601", Some(LinkLocal)),
            ("2001:0:a9fe:a9fe:8000:63bf:f7f7:f7f7", Some(LinkLocal)),
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", Some(Loopback)),
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", None),
            // ISATAP, any prefix: interface id 0000:5efe or 0200:5efe (u/g bits), then IPv4.
            ("2001:4860::5efe:a9fe:a9fe", Some(LinkLocal)),
            ("2001:4860::200:5efe:a9fe:a9fe", Some(LinkLocal)),
            ("2001:4860::300:5efe:10.1.2.3", Some(Private)),
            ("2001:4860::5efe:7f00:1", Some(Loopback)),
            ("2001:4860::200:5efe:808:808", None),
            ("fe80::5efe:808:808", Some(LinkLocal)),
            // Outside 2000::/3 nothing is routable unicast today, unless it embeds IPv4.
            ("4000::1", Some(Range::Reserved)),
            ("5f00::1", Some(Range::Reserved)),
            ("::2:0:0:1", Some(Range::Reserved)),
            ("3fff::1", Some(Range::Reserved)),
            ("2001:2::1", Some(Range::Reserved)),
            ("2001:20::1", Some(Range::Reserved)),
            ("2606:4700::1111", None),
        ];
        for (addr, want) in cases {
            assert_eq!(classify(ip(addr)), *want, "{addr}");
            // The policy refuses exactly the addresses that are not public.
            assert_eq!(refused(ip(addr), &[]), want.map_or(Ok(()), Err), "{addr}");
        }
    }

    #[test]
    fn allow_private_must_cover_every_embedded_ipv4() {
        let allow: Vec<Cidr> = vec!["169.254.0.0/16".parse().unwrap()];
        assert_eq!(refused(ip("::ffff:0:a9fe:a9fe"), &allow), Ok(()));
        assert_eq!(refused(ip("64:ff9b:1::a9fe:a9fe"), &allow), Ok(()));
        // A Teredo address with a link-local server and a loopback client: both must be allowed.
        let both = ip("2001:0:a9fe:a9fe:8000:63bf:80ff:fffe");
        assert_eq!(refused(both, &allow), Err(Range::LinkLocal));
        let allow = [allow[0], "127.0.0.0/8".parse().unwrap()];
        assert_eq!(refused(both, &allow), Ok(()));
        // An address refused for its own range is not let through by what it embeds.
        assert_eq!(
            refused(ip("fe80::5efe:a9fe:a9fe"), &allow),
            Err(Range::LinkLocal)
        );
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
        assert_eq!(refused(ip("127.0.0.1"), &allow), Ok(()));
        assert_eq!(refused(ip("::ffff:127.0.0.1"), &allow), Ok(()));
        assert_eq!(refused(ip("::1"), &allow), Err(Range::Loopback));
        assert_eq!(refused(ip("10.0.0.1"), &allow), Err(Range::Private));
        assert_eq!(refused(ip("169.254.169.254"), &[]), Err(Range::LinkLocal));
        assert_eq!(refused(ip("93.184.216.34"), &[]), Ok(()));
    }
}
