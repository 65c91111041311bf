//! The server process's CPU time, memory and storage writes, read from `/proc` (Linux
//! only).
//!
//! The server is found by `--server-pid` or by the port it listens on: the listening
//! socket's inode from `/proc/net/tcp{,6}` is matched against the `socket:[inode]` links
//! under `/proc/*/fd`. That only works for a process of the same user on the same host
//! (or root): behind a Docker port mapping the listener is `docker-proxy`, which is why
//! the report names the process it measured. When nothing is found the figures are null.

use std::path::Path;

/// CPU time of a process (all its threads), in clock ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuTicks {
    pub user: u64,
    pub system: u64,
}

impl CpuTicks {
    pub fn total(self) -> u64 {
        self.user + self.system
    }
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the peak resident size since the process started.
    pub hwm_kib: u64,
}

/// Storage writes of a process (all its threads, live and exited), in bytes, from
/// `/proc/PID/io`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Io {
    /// `write_bytes`: bytes the process caused to be sent to the storage layer. Counted
    /// when a page-cache page is dirtied (by `write` or through a shared mapping), or
    /// when a direct write is issued, not when the page reaches the disk.
    pub write_bytes: u64,
    /// `cancelled_write_bytes`: dirty page-cache bytes that never reached the disk
    /// because the process truncated or deleted their file first (whoever dirtied them).
    pub cancelled_write_bytes: u64,
}

/// `write_bytes` and `cancelled_write_bytes` of a `/proc/PID/io` file.
pub fn parse_io(text: &str) -> Option<Io> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|rest| rest.trim().parse::<u64>().ok())
    };
    Some(Io {
        write_bytes: field("write_bytes")?,
        cancelled_write_bytes: field("cancelled_write_bytes")?,
    })
}

/// `utime` and `stime` (fields 14 and 15) of a `/proc/PID/stat` line. The command name
/// (field 2) is in parentheses and may itself hold spaces and parentheses, so fields
/// are counted from the *last* `)`.
pub fn parse_stat(line: &str) -> Option<CpuTicks> {
    let after = &line[line.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    // `after` starts at field 3 (state); utime is field 14.
    let user = fields.nth(11)?.parse().ok()?;
    let system = fields.next()?.parse().ok()?;
    Some(CpuTicks { user, system })
}

/// `VmRSS` and `VmHWM` of a `/proc/PID/status` file.
pub fn parse_status(text: &str) -> Option<Memory> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

pub fn cpu(pid: u32) -> Option<CpuTicks> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

pub fn memory(pid: u32) -> Option<Memory> {
    parse_status(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

/// The process's storage writes, or why they cannot be read. `/proc/PID/io` needs the
/// right to ptrace the process: another user's process gives permission denied unless
/// the bench runs as root.
pub fn io(pid: u32) -> Result<Io, String> {
    let path = format!("/proc/{pid}/io");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_io(&text).ok_or_else(|| format!("{path}: unexpected format")),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(format!(
            "{path}: permission denied, the server runs as another user: run the bench \
             as that user or as root"
        )),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

/// The process's command name (`/proc/PID/comm`).
pub fn name(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// Our own CPU time, to show what the load generator itself costs.
pub fn own_cpu() -> Option<CpuTicks> {
    parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// Clock ticks per second (`getconf CLK_TCK`), 100 if it cannot be asked: that is the
/// value on every mainstream Linux architecture, and asking `getconf` spares a libc
/// dependency for one `sysconf` call.
pub fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Inodes of the sockets listening on `port` in a `/proc/net/tcp` or `tcp6` table.
pub fn parse_listening_inodes(table: &str, port: u16) -> Vec<u64> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            let local_port = u16::from_str_radix(local_port, 16).ok()?;
            (local_port == port && *f.get(3)? == LISTEN)
                .then(|| f.get(9)?.parse().ok())
                .flatten()
        })
        .filter(|&inode| inode != 0)
        .collect()
}

/// The process listening on `port`, if it can be seen.
pub fn find_listener(port: u16) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(table) {
            inodes.extend(parse_listening_inodes(&text, port));
        }
    }
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if owns_socket(&entry.path().join("fd"), &wanted) {
            return Some(pid);
        }
    }
    None
}

fn owns_socket(fd_dir: &Path, wanted: &[String]) -> bool {
    let Ok(fds) = std::fs::read_dir(fd_dir) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .map(|target| wanted.iter().any(|w| target.as_os_str() == w.as_str()))
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        let line = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 9603 0 0 0 \
                    1234 567 0 0 20 0 9 0 12345 456789 1234 18446744073709551615";
        assert_eq!(
            parse_stat(line),
            Some(CpuTicks {
                user: 1234,
                system: 567
            })
        );
        assert_eq!(parse_stat("12 (x) S 1 2"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_stat_is_readable() {
        if cfg!(target_os = "linux") {
            assert!(own_cpu().is_some());
            assert!(memory(std::process::id()).unwrap().rss_kib > 0);
        }
    }

    #[test]
    fn status_memory_lines() {
        let text = "Name:\tosprey\nVmPeak:\t 999 kB\nVmHWM:\t  773120 kB\nVmRSS:\t  333824 kB\n";
        assert_eq!(
            parse_status(text),
            Some(Memory {
                rss_kib: 333824,
                hwm_kib: 773120
            })
        );
        assert_eq!(parse_status("Name:\tkthreadd\n"), None);
    }

    #[test]
    fn io_write_bytes() {
        let text = "rchar: 1686083\nwchar: 10002239\nsyscr: 916\nsyscw: 35\n\
                    read_bytes: 143360\nwrite_bytes: 123456789012\n\
                    cancelled_write_bytes: 10002432\n";
        assert_eq!(
            parse_io(text),
            Some(Io {
                write_bytes: 123_456_789_012,
                cancelled_write_bytes: 10_002_432
            })
        );
        // `cancelled_write_bytes` must not be taken for `write_bytes`, whatever the order.
        let reordered = "cancelled_write_bytes: 7\nwrite_bytes: 9\n";
        assert_eq!(
            parse_io(reordered),
            Some(Io {
                write_bytes: 9,
                cancelled_write_bytes: 7
            })
        );
        assert_eq!(parse_io("rchar: 1\nwchar: 2\n"), None);
        assert_eq!(parse_io("write_bytes: x\ncancelled_write_bytes: 0\n"), None);
    }

    #[test]
    fn own_io_is_readable_and_a_missing_process_says_why() {
        if !cfg!(target_os = "linux") {
            return;
        }
        io(std::process::id()).unwrap();
        let err = io(u32::MAX).unwrap_err();
        assert!(
            err.starts_with(&format!("/proc/{}/io: ", u32::MAX)),
            "{err}"
        );
    }

    #[test]
    fn listening_sockets_by_port() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:18BD 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 51234 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:18BD 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 51299 1 0000000000000000 20 4 30 10 -1\n\
   2: 00000000:18BE 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 51235 1 0000000000000000 100 0 0 10 0\n";
        assert_eq!(parse_listening_inodes(table, 6333), vec![51234]);
        assert_eq!(parse_listening_inodes(table, 6334), vec![51235]);
        assert!(parse_listening_inodes(table, 80).is_empty());
    }

    #[test]
    fn finds_our_own_listener() {
        if !cfg!(target_os = "linux") {
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(find_listener(port), Some(std::process::id()));
    }
}
