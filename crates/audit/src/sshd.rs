//! Where sshd listens, from its configuration text: what the SSH checks
//! hold the ruleset to once `iptables-save` has dropped the comment that
//! said which rule is for SSH.
//!
//! Only what decides the listening ports is read: `Port` lines (any
//! number; 22 when there is none), a port in `ListenAddress host:port`
//! (which wins over `Port` for that address), and `Include` patterns,
//! which the caller resolves (this crate does no I/O). Keywords are
//! case-insensitive and may be followed by `=`, as sshd takes them.

/// What one sshd configuration file says about ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshdFile {
    /// `Port` values, in order.
    pub ports: Vec<u16>,
    /// Ports given in `ListenAddress`.
    pub listen_ports: Vec<u16>,
    /// `Include` patterns, as written (relative ones are relative to /etc/ssh).
    pub includes: Vec<String>,
}

/// The ports sshd listens on, and where that was learnt (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshPorts {
    /// The ports, sorted, without duplicates.
    pub ports: Vec<u16>,
    /// `sshd_config` path or `the listening sshd`.
    pub source: String,
}

/// Reads one file's lines; a value that is not a port is skipped, as
/// sshd would refuse to start on it and no port can be learnt from it.
pub fn parse(text: &str) -> SshdFile {
    let mut out = SshdFile::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let split = line
            .find(|c: char| c.is_whitespace() || c == '=')
            .unwrap_or(line.len());
        let (keyword, rest) = line.split_at(split);
        let value = rest
            .trim_start_matches(|c: char| c.is_whitespace() || c == '=')
            .trim();
        // `Match` blocks cannot set Port or ListenAddress; sshd stops
        // reading them for the global listeners there.
        match keyword.to_ascii_lowercase().as_str() {
            "match" => break,
            "port" => out
                .ports
                .extend(value.parse::<u16>().ok().filter(|p| *p > 0)),
            "listenaddress" => {
                let addr = value.split_whitespace().next().unwrap_or_default();
                let port = match addr.rsplit_once("]:") {
                    Some((_, p)) => Some(p),
                    None if addr.matches(':').count() == 1 => addr.rsplit_once(':').map(|(_, p)| p),
                    None => None,
                };
                out.listen_ports
                    .extend(port.and_then(|p| p.parse::<u16>().ok()).filter(|p| *p > 0));
            }
            "include" => out
                .includes
                .extend(value.split_whitespace().map(str::to_owned)),
            _ => {}
        }
    }
    out
}

/// The ports of a configuration made of `files` (the main one first,
/// then what it includes): `Port` lines, or 22, plus `ListenAddress` ports.
pub fn ports(files: &[SshdFile]) -> Vec<u16> {
    let mut ports: Vec<u16> = files.iter().flat_map(|f| f.ports.iter().copied()).collect();
    if ports.is_empty() {
        ports.push(22);
    }
    ports.extend(files.iter().flat_map(|f| f.listen_ports.iter().copied()));
    ports.sort_unstable();
    ports.dedup();
    ports
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_listen_addresses_and_includes() {
        let f = parse(
            "# Port 1\nport 6245\nPort=2222\nPort abc\nListenAddress [2001:db8::1]:2200\n\
             ListenAddress 192.0.2.1:2201\nListenAddress 2001:db8::2\nInclude /etc/ssh/sshd_config.d/*.conf\n\
             Match User x\nPort 9\n",
        );
        assert_eq!(f.ports, vec![6245, 2222]);
        assert_eq!(f.listen_ports, vec![2200, 2201]);
        assert_eq!(f.includes, vec!["/etc/ssh/sshd_config.d/*.conf"]);
        assert_eq!(ports(&[f]), vec![2200, 2201, 2222, 6245]);
    }

    #[test]
    fn no_port_line_means_22() {
        assert_eq!(ports(&[parse("PermitRootLogin no\n")]), vec![22]);
    }
}
