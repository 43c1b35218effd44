//! Local host facts: hostname and the IP address a role advertises.

use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

/// The machine's hostname (as `hostname` prints it).
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    if rc != 0 {
        return "localhost".to_string();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Resolves a host name to its first IPv4 address.
pub fn resolve_ipv4(host: &str) -> Option<Ipv4Addr> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Some(ip);
    }
    (host, 0).to_socket_addrs().ok()?.find_map(|a| match a.ip() {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(_) => None,
    })
}

/// The address to advertise when none is configured: the hostname's address (Docker maps a container's
/// hostname to its own IP), or loopback.
pub fn default_advertise_ip() -> Ipv4Addr {
    resolve_ipv4(&hostname()).filter(|ip| !ip.is_unspecified()).unwrap_or(Ipv4Addr::LOCALHOST)
}
