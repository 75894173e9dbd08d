//! Is a loopback connection from one of Kumo's own workloads? Cloud Run's `internal` ingress
//! means "from the project's network"; on one machine the equivalent is "from a process Kumo
//! started". Linux tells which process owns the client end of a TCP connection: the socket's
//! inode in /proc/net/tcp{,6}, and the process holding that inode among its open files. Any
//! doubt is "external" (fail closed: internal-only services then answer 404).

use std::collections::HashSet;
use std::net::SocketAddr;

/// Whether the client socket `peer` (connected to `local`) belongs to a process in one of the
/// process groups `groups`.
pub fn is_workload(peer: SocketAddr, local: SocketAddr, groups: &[u32]) -> bool {
    if groups.is_empty() || !peer.ip().is_loopback() {
        return false;
    }
    let Some(inode) = socket_inode(peer, local) else {
        return false;
    };
    let groups: HashSet<u32> = groups.iter().copied().collect();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(pgid) = process_group(pid) else {
            continue;
        };
        if !groups.contains(&pgid) {
            continue;
        }
        if holds_inode(pid, inode) {
            return true;
        }
    }
    false
}

fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp ...`; comm may contain spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(2)?.parse().ok()
}

fn holds_inode(pid: u32, inode: u64) -> bool {
    let target = format!("socket:[{inode}]");
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()))
}

/// The inode of the socket whose local end is `peer` and remote end is `local`.
fn socket_inode(peer: SocketAddr, local: SocketAddr) -> Option<u64> {
    let table = if peer.is_ipv4() {
        "/proc/net/tcp"
    } else {
        "/proc/net/tcp6"
    };
    let text = std::fs::read_to_string(table).ok()?;
    find_inode(&text, peer, local)
}

fn find_inode(table: &str, peer: SocketAddr, local: SocketAddr) -> Option<u64> {
    let want_local = encode(peer);
    let want_remote = encode(local);
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (l, r, inode) = (cols.get(1)?, cols.get(2)?, cols.get(9)?);
        (l.eq_ignore_ascii_case(&want_local) && r.eq_ignore_ascii_case(&want_remote))
            .then(|| inode.parse().ok())
            .flatten()
    })
}

/// /proc/net/tcp's `ADDR:PORT` form: the address as host-order words in hex.
fn encode(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(a.ip().octets()),
            a.port()
        ),
        SocketAddr::V6(a) => {
            let o = a.ip().octets();
            let words: String = o
                .chunks(4)
                .map(|c| format!("{:08X}", u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                .collect();
            format!("{words}:{:04X}", a.port())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_tcp_encoding() {
        let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(encode(a), "0100007F:1F90");
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:D431 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 424242 1 0000000000000000 20 4 30 10 -1\n";
        let peer: SocketAddr = "127.0.0.1:54321".parse().unwrap();
        assert_eq!(find_inode(table, peer, a), Some(424_242));
        assert_eq!(find_inode(table, a, peer), None);
    }

    #[test]
    fn this_process_owns_its_client_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(local).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let my_group = process_group(std::process::id()).unwrap();
        assert!(is_workload(peer, local, &[my_group]));
        assert!(!is_workload(peer, local, &[my_group + 1_000_000]));
        assert!(!is_workload(peer, local, &[]));
    }
}
