//! Resident memory of a process and its direct children, read from
//! `/proc` (Linux): shared by the bench's footprint rows and the desktop
//! end-to-end test's report.

/// Resident memory in MB of `pid` and its direct children (nginx's
/// workers, WebKit's processes).
pub(crate) fn resident_mb(pid: u32) -> f64 {
    let children: u64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&child| parent_of(child) == Some(pid))
        .filter_map(rss_kib)
        .sum();
    (rss_kib(pid).unwrap_or(0) + children) as f64 / 1024.0
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name in parentheses: the state, then the parent.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
