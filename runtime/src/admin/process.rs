//! The process's own figures, read from `/proc` (Linux; elsewhere they are left out).

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux
/// architecture the engine runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// What `/proc` tells about this process.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct ProcessStats {
    /// Resident memory, bytes.
    pub(crate) resident_bytes: Option<u64>,
    /// Open file descriptors.
    pub(crate) open_fds: Option<u64>,
    /// User plus system CPU time, seconds.
    pub(crate) cpu_seconds: Option<f64>,
    /// When the process started, Unix seconds.
    pub(crate) start_time_seconds: Option<f64>,
}

impl ProcessStats {
    /// Reads them now; what cannot be read is `None`.
    pub(crate) fn read() -> ProcessStats {
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        let fields = stat.as_deref().and_then(stat_fields);
        let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("btime "))
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        ProcessStats {
            resident_bytes: std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| vm_rss(&s)),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|d| d.count() as u64),
            cpu_seconds: fields.map(|f| (f.utime + f.stime) as f64 / TICKS_PER_SECOND),
            start_time_seconds: fields
                .zip(boot_time)
                .map(|(f, boot)| boot + f.start_ticks as f64 / TICKS_PER_SECOND),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct StatFields {
    utime: u64,
    stime: u64,
    start_ticks: u64,
}

/// Fields 14, 15 and 22 of `/proc/self/stat`, counted after the command name (which may hold
/// spaces and parentheses: it ends at the last `)`).
fn stat_fields(stat: &str) -> Option<StatFields> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (state).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(StatFields {
        utime: field(14)?,
        stime: field(15)?,
        start_ticks: field(22)?,
    })
}

/// `VmRSS:   12345 kB` of `/proc/self/status`, in bytes.
fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kb: u64 = line.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_status_are_parsed() {
        let stat = "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 \
                    4 0 98765 1000000 500 18446744073709551615";
        let f = stat_fields(stat).unwrap();
        assert_eq!((f.utime, f.stime, f.start_ticks), (250, 50, 98765));
        assert_eq!(vm_rss("Name:\tx\nVmRSS:\t   2048 kB\n"), Some(2048 * 1024));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_is_read() {
        let s = ProcessStats::read();
        assert!(s.resident_bytes.unwrap() > 0);
        assert!(s.open_fds.unwrap() > 0);
        assert!(s.cpu_seconds.is_some());
        assert!(s.start_time_seconds.unwrap() > 1.0e9);
    }
}
