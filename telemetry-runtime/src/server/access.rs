//! Who may connect: the source networks of `allow_sources`, as CIDR
//! blocks for IPv4 and IPv6, checked against the peer address of each
//! request before anything else runs (authentication included).
//!
//! A refused source gets `403 Forbidden` and is counted
//! (`telemetry_server_refused_total{reason="source"}` in `/metrics`).
//!
//! ```
//! use telemetry_runtime::server::access::SourceNetwork;
//! let lan: SourceNetwork = "10.0.0.0/8".parse()?;
//! assert!(lan.contains("10.1.2.3".parse()?));
//! assert!(!lan.contains("192.168.0.1".parse()?));
//! // An IPv4 client of a dual-stack socket shows as an IPv4-mapped IPv6
//! // address; it is matched as the IPv4 address it is.
//! assert!(lan.contains("::ffff:10.1.2.3".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// A block of source addresses: an IPv4 or IPv6 address and a prefix
/// length, written `10.0.0.0/8` or `fd00::/8`. A bare address is a single
/// host (`/32` or `/128`).
///
/// Matching treats an IPv4-mapped IPv6 address (`::ffff:10.1.2.3`, how a
/// dual-stack socket reports IPv4 clients) as the IPv4 address it carries,
/// so an IPv4 block matches it; an IPv6 block matches an IPv4 address
/// through its mapped form (`::/0` and `::ffff:0:0/96` match every IPv4
/// address).
///
/// ```
/// use telemetry_runtime::server::access::SourceNetwork;
/// let loopback: SourceNetwork = "::1/128".parse()?;
/// assert!(loopback.contains("::1".parse()?));
/// assert_eq!("127.0.0.1".parse::<SourceNetwork>()?.to_string(), "127.0.0.1/32");
/// assert_eq!(
///     "10.0.0.1/8".parse::<SourceNetwork>().unwrap_err().to_string(),
///     "\"10.0.0.1/8\" has bits set after the prefix, did you mean \"10.0.0.0/8\"?"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceNetwork {
    addr: IpAddr,
    prefix: u8,
}

/// Why a text is not a [`SourceNetwork`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceNetworkError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    Address(String),
    /// The prefix length is not a number in range for the address family.
    Prefix {
        /// The whole input.
        input: String,
        /// The largest prefix of the family: 32 or 128.
        max: u8,
    },
    /// Bits are set after the prefix (`10.0.0.1/8`): most likely a typo.
    HostBits {
        /// The whole input.
        input: String,
        /// The network with those bits cleared.
        network: SourceNetwork,
    },
}

impl fmt::Display for SourceNetworkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceNetworkError::Address(input) => write!(
                f,
                "{input:?} is not an IPv4 or IPv6 network, expected one such as \"10.0.0.0/8\", \"fd00::/8\" or \"127.0.0.1\""
            ),
            SourceNetworkError::Prefix { input, max } => write!(
                f,
                "the prefix length in {input:?} must be a number from 0 to {max}"
            ),
            SourceNetworkError::HostBits { input, network } => write!(
                f,
                "{input:?} has bits set after the prefix, did you mean \"{network}\"?"
            ),
        }
    }
}

impl std::error::Error for SourceNetworkError {}

fn mask_v4(prefix: u8) -> u32 {
    // A shift by the full width overflows; /0 masks nothing.
    u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0)
}

impl SourceNetwork {
    /// The block of `prefix` leading bits of `addr`. Refuses a prefix longer
    /// than the family's width and an address with bits set after the
    /// prefix.
    ///
    /// ```
    /// use telemetry_runtime::server::access::SourceNetwork;
    /// use std::net::Ipv4Addr;
    /// let n = SourceNetwork::new(Ipv4Addr::new(192, 168, 0, 0).into(), 16)?;
    /// assert_eq!(n.to_string(), "192.168.0.0/16");
    /// # Ok::<(), telemetry_runtime::server::access::SourceNetworkError>(())
    /// ```
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, SourceNetworkError> {
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let input = || format!("{addr}/{prefix}");
        if prefix > max {
            return Err(SourceNetworkError::Prefix {
                input: input(),
                max,
            });
        }
        let network = SourceNetwork {
            addr: match addr {
                IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask_v4(prefix))),
                IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask_v6(prefix))),
            },
            prefix,
        };
        if network.addr != addr {
            return Err(SourceNetworkError::HostBits {
                input: input(),
                network,
            });
        }
        Ok(network)
    }

    /// The first address of the block.
    ///
    /// ```
    /// # use telemetry_runtime::server::access::SourceNetwork;
    /// let n: SourceNetwork = "10.0.0.0/8".parse()?;
    /// assert_eq!(n.addr().to_string(), "10.0.0.0");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    ///
    /// ```
    /// # use telemetry_runtime::server::access::SourceNetwork;
    /// assert_eq!("10.0.0.0/8".parse::<SourceNetwork>()?.prefix_len(), 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` is in the block (IPv4-mapped IPv6 addresses as their
    /// IPv4 address, see the type's documentation).
    ///
    /// ```
    /// # use telemetry_runtime::server::access::SourceNetwork;
    /// let any_v4: SourceNetwork = "0.0.0.0/0".parse()?;
    /// assert!(any_v4.contains("203.0.113.9".parse()?));
    /// assert!(!any_v4.contains("2001:db8::1".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                u32::from(a) & mask_v4(self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                u128::from(a) & mask_v6(self.prefix) == u128::from(net)
            }
            (IpAddr::V6(net), IpAddr::V4(a)) => {
                u128::from(a.to_ipv6_mapped()) & mask_v6(self.prefix) == u128::from(net)
            }
            (IpAddr::V4(_), IpAddr::V6(_)) => false,
        }
    }
}

impl FromStr for SourceNetwork {
    type Err = SourceNetworkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| SourceNetworkError::Address(s.to_owned()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // Digits only: `u8::from_str` would take "+8".
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                    SourceNetworkError::Prefix {
                        input: s.to_owned(),
                        max,
                    }
                })?
            }
            Some(_) => {
                return Err(SourceNetworkError::Prefix {
                    input: s.to_owned(),
                    max,
                })
            }
        };
        SourceNetwork::new(addr, prefix).map_err(|e| match e {
            SourceNetworkError::HostBits { network, .. } => SourceNetworkError::HostBits {
                input: s.to_owned(),
                network,
            },
            other => other,
        })
    }
}

impl fmt::Display for SourceNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The check in front of every route: the allowed networks and how many
/// requests were refused.
#[derive(Debug, Default)]
pub(crate) struct SourceGuard {
    allowed: Vec<SourceNetwork>,
    refused: AtomicU64,
}

impl SourceGuard {
    /// Empty `allowed`: every source may connect.
    pub(crate) fn new(allowed: Vec<SourceNetwork>) -> Self {
        SourceGuard {
            allowed,
            refused: AtomicU64::new(0),
        }
    }

    /// Whether a peer at `peer` may connect; `None` is a peer whose address
    /// the server was not told (a router embedded without connect info).
    fn allows(&self, peer: Option<IpAddr>) -> bool {
        if self.allowed.is_empty() {
            return true;
        }
        // Fail closed: with a list configured, an unknown peer is refused.
        peer.is_some_and(|ip| self.allowed.iter().any(|n| n.contains(ip)))
    }

    /// Requests refused so far.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// The middleware: passes requests from allowed sources on, answers `403`
/// otherwise. The peer address comes from axum's `ConnectInfo<SocketAddr>`
/// (what [`serve`](super::serve) installs); a router embedded without it
/// refuses every request once `allow_sources` is set.
pub(crate) async fn require_allowed_source(
    State(guard): State<Arc<SourceGuard>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if guard.allows(peer) {
        next.run(request).await
    } else {
        guard.refused.fetch_add(1, Ordering::Relaxed);
        (StatusCode::FORBIDDEN, "Forbidden\n").into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> SourceNetwork {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn ipv4_blocks() {
        let lan = net("10.0.0.0/8");
        assert!(lan.contains(ip("10.0.0.0")));
        assert!(lan.contains(ip("10.255.255.255")));
        assert!(!lan.contains(ip("11.0.0.0")));
        assert!(!lan.contains(ip("9.255.255.255")));
        let odd = net("192.168.4.0/22");
        assert!(odd.contains(ip("192.168.7.255")));
        assert!(!odd.contains(ip("192.168.8.0")));
        assert!(!odd.contains(ip("192.168.3.255")));
        let host = net("203.0.113.7/32");
        assert!(host.contains(ip("203.0.113.7")));
        assert!(!host.contains(ip("203.0.113.6")));
        assert!(!host.contains(ip("203.0.113.8")));
        let all = net("0.0.0.0/0");
        for a in ["0.0.0.0", "127.0.0.1", "255.255.255.255"] {
            assert!(all.contains(ip(a)), "{a}");
        }
        // An IPv4 block never matches a (non-mapped) IPv6 address.
        assert!(!all.contains(ip("::1")));
        assert!(!all.contains(ip("2001:db8::1")));
        // Nor the IPv4-compatible form, which is not a mapping.
        assert!(!all.contains(ip("::127.0.0.1")));
    }

    #[test]
    fn ipv6_blocks() {
        let ula = net("fd00::/8");
        assert!(ula.contains(ip("fd12:3456::1")));
        assert!(!ula.contains(ip("fe80::1")));
        let doc = net("2001:db8:1234::/48");
        assert!(doc.contains(ip("2001:db8:1234:ffff:ffff:ffff:ffff:ffff")));
        assert!(!doc.contains(ip("2001:db8:1235::")));
        let odd = net("2001:db8::/33");
        assert!(odd.contains(ip("2001:db8:7fff::1")));
        assert!(!odd.contains(ip("2001:db8:8000::")));
        let loopback = net("::1/128");
        assert!(loopback.contains(ip("::1")));
        assert!(!loopback.contains(ip("::2")));
        assert!(!loopback.contains(ip("::")));
        assert!(!loopback.contains(ip("127.0.0.1")));
        let all = net("::/0");
        for a in ["::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"] {
            assert!(all.contains(ip(a)), "{a}");
        }
        // ::/0 holds the IPv4-mapped block, hence every IPv4 address.
        assert!(all.contains(ip("127.0.0.1")));
    }

    #[test]
    fn ipv4_mapped_ipv6_addresses() {
        // A dual-stack socket reports an IPv4 client as ::ffff:a.b.c.d.
        let loopback = net("127.0.0.0/8");
        assert!(loopback.contains(ip("::ffff:127.0.0.1")));
        assert!(loopback.contains(ip("::ffff:7f00:1")));
        assert!(!loopback.contains(ip("::ffff:10.0.0.1")));
        assert!(net("10.1.2.3/32").contains(ip("::ffff:10.1.2.3")));
        assert!(net("0.0.0.0/0").contains(ip("::ffff:192.0.2.1")));
        // An IPv6 block written in mapped form matches both spellings.
        let mapped = net("::ffff:10.0.0.0/104");
        assert!(mapped.contains(ip("10.9.8.7")));
        assert!(mapped.contains(ip("::ffff:10.9.8.7")));
        assert!(!mapped.contains(ip("11.0.0.0")));
        let every_v4 = net("::ffff:0:0/96");
        assert!(every_v4.contains(ip("198.51.100.1")));
        assert!(!every_v4.contains(ip("::1")));
        // An IPv6 block outside the mapped range never matches IPv4.
        assert!(!net("::1/128").contains(ip("::ffff:127.0.0.1")));
        assert!(!net("fd00::/8").contains(ip("10.0.0.1")));
    }

    #[test]
    fn parsing_and_display() {
        assert_eq!(net("127.0.0.1").to_string(), "127.0.0.1/32");
        assert_eq!(net("::1").to_string(), "::1/128");
        assert_eq!(net("10.0.0.0/8").prefix_len(), 8);
        assert_eq!(net("0.0.0.0/0").prefix_len(), 0);
        assert_eq!(net("::/0").to_string(), "::/0");
        assert_eq!(net("2001:DB8::/32").to_string(), "2001:db8::/32");
        assert_eq!(net("10.0.0.0/008").prefix_len(), 8);
    }

    #[test]
    fn bad_networks_have_clear_errors() {
        for (input, expected) in [
            ("", "\"\" is not an IPv4 or IPv6 network, expected one such as \"10.0.0.0/8\", \"fd00::/8\" or \"127.0.0.1\""),
            ("localhost", "\"localhost\" is not an IPv4 or IPv6 network, expected one such as \"10.0.0.0/8\", \"fd00::/8\" or \"127.0.0.1\""),
            ("10.0.0/8", "\"10.0.0/8\" is not an IPv4 or IPv6 network, expected one such as \"10.0.0.0/8\", \"fd00::/8\" or \"127.0.0.1\""),
            ("256.0.0.0/8", "\"256.0.0.0/8\" is not an IPv4 or IPv6 network, expected one such as \"10.0.0.0/8\", \"fd00::/8\" or \"127.0.0.1\""),
            ("[::1]/128", "\"[::1]/128\" is not an IPv4 or IPv6 network, expected one such as \"10.0.0.0/8\", \"fd00::/8\" or \"127.0.0.1\""),
            ("fe80::1%eth0/64", "\"fe80::1%eth0/64\" is not an IPv4 or IPv6 network, expected one such as \"10.0.0.0/8\", \"fd00::/8\" or \"127.0.0.1\""),
            (" 10.0.0.0/8", "\" 10.0.0.0/8\" is not an IPv4 or IPv6 network, expected one such as \"10.0.0.0/8\", \"fd00::/8\" or \"127.0.0.1\""),
            ("10.0.0.0/33", "the prefix length in \"10.0.0.0/33\" must be a number from 0 to 32"),
            ("::/129", "the prefix length in \"::/129\" must be a number from 0 to 128"),
            ("10.0.0.0/", "the prefix length in \"10.0.0.0/\" must be a number from 0 to 32"),
            ("10.0.0.0/+8", "the prefix length in \"10.0.0.0/+8\" must be a number from 0 to 32"),
            ("10.0.0.0/-1", "the prefix length in \"10.0.0.0/-1\" must be a number from 0 to 32"),
            ("10.0.0.0/8/8", "the prefix length in \"10.0.0.0/8/8\" must be a number from 0 to 32"),
            ("10.0.0.0/1000", "the prefix length in \"10.0.0.0/1000\" must be a number from 0 to 32"),
            ("10.0.0.1/8", "\"10.0.0.1/8\" has bits set after the prefix, did you mean \"10.0.0.0/8\"?"),
            ("fd00::1/8", "\"fd00::1/8\" has bits set after the prefix, did you mean \"fd00::/8\"?"),
            ("1.2.3.4/0", "\"1.2.3.4/0\" has bits set after the prefix, did you mean \"0.0.0.0/0\"?"),
        ] {
            let err = input.parse::<SourceNetwork>().expect_err(input);
            assert_eq!(err.to_string(), expected, "{input:?}");
        }
        // Every suggested fix is itself accepted.
        for input in ["10.0.0.1/8", "fd00::1/8", "1.2.3.4/0", "192.168.7.9/22"] {
            let Err(SourceNetworkError::HostBits { network, .. }) = input.parse::<SourceNetwork>()
            else {
                panic!("{input}: expected a host-bits error");
            };
            assert_eq!(network.to_string().parse::<SourceNetwork>(), Ok(network));
        }
        assert!(matches!(
            SourceNetwork::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40),
            Err(SourceNetworkError::Prefix { max: 32, .. })
        ));
    }

    #[test]
    fn the_guard_fails_closed_without_a_peer_address() {
        let open = SourceGuard::new(Vec::new());
        assert!(open.allows(None));
        assert!(open.allows(Some(ip("192.0.2.1"))));
        let closed = SourceGuard::new(vec![net("127.0.0.0/8"), net("::1/128")]);
        assert!(closed.allows(Some(ip("127.0.0.1"))));
        assert!(closed.allows(Some(ip("::1"))));
        assert!(closed.allows(Some(ip("::ffff:127.0.0.1"))));
        assert!(!closed.allows(Some(ip("192.0.2.1"))));
        assert!(!closed.allows(None));
    }
}
