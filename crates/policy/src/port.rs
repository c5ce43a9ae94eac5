//! Transport protocols and port ranges.

use std::fmt;
use std::str::FromStr;

/// A transport protocol a service listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// UDP.
    Udp,
    /// TCP (TLS and WebSockets run over it).
    Tcp,
}

impl Protocol {
    /// The protocol's name as nft and iptables spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Udp => "udp",
            Protocol::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inclusive range of ports; a single port is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// A range from `first` to `last` inclusive; `None` if reversed or if it contains port 0.
    pub fn new(first: u16, last: u16) -> Option<Self> {
        (first != 0 && first <= last).then_some(PortRange { first, last })
    }

    /// A single port (0 is not a port a service can listen on).
    pub fn single(port: u16) -> Option<Self> {
        Self::new(port, port)
    }

    /// The first port.
    pub fn first(self) -> u16 {
        self.first
    }

    /// The last port (inclusive).
    pub fn last(self) -> u16 {
        self.last
    }

    /// Whether `port` lies in the range.
    pub fn contains(self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }

    /// Whether the two ranges share at least one port.
    pub fn overlaps(self, other: PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

impl fmt::Display for PortRange {
    /// `5060` or `16384-32769`, the form nft and the policy file use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Why a port or range could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid port or range {0:?}: expected a port 1-65535 or \"first-last\" with first <= last"
)]
pub struct BadPortRange(pub String);

impl FromStr for PortRange {
    type Err = BadPortRange;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadPortRange(s.to_owned());
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (s.trim(), s.trim()),
        };
        let first = a.parse::<u16>().map_err(|_| bad())?;
        let last = b.parse::<u16>().map_err(|_| bad())?;
        PortRange::new(first, last).ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_ports_and_ranges() {
        assert_eq!("5060".parse::<PortRange>().unwrap().to_string(), "5060");
        let r: PortRange = "16384-32769".parse().unwrap();
        assert_eq!((r.first(), r.last()), (16384, 32769));
        assert!(r.contains(32769) && !r.contains(32770));
    }

    #[test]
    fn rejects_reversed_zero_and_garbage() {
        for bad in ["0", "10-5", "70000", "a-b", "", "5060-"] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn overlap_is_symmetric_and_inclusive() {
        let a: PortRange = "5060-5080".parse().unwrap();
        let b: PortRange = "5080".parse().unwrap();
        let c: PortRange = "5081-6000".parse().unwrap();
        assert!(a.overlaps(b) && b.overlaps(a));
        assert!(!a.overlaps(c) && !c.overlaps(a));
    }
}
