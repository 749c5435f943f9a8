//! The process metrics of `/metrics` (`process_*`, as Prometheus names them), read from
//! `/proc/self` at each scrape. Elsewhere than on Linux there are none.

use std::path::Path;

/// Clock ticks per second of `/proc` times: `USER_HZ`, 100 on every Linux ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// Records the process metrics now.
pub(crate) fn record() {
    let proc_dir = Path::new("/proc/self");
    let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else { return };
    // The fields after the command (which may hold spaces), from the state, field 3, onwards.
    let Some(fields) = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect::<Vec<_>>())
    else {
        return;
    };
    let field = |number: usize| fields.get(number - 3).and_then(|value| value.parse::<f64>().ok());
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        metrics::counter!("process_cpu_seconds_total").absolute(((user + system) / TICKS_PER_SECOND) as u64);
    }
    if let Some(threads) = field(20) {
        metrics::gauge!("process_threads").set(threads);
    }
    if let (Some(started), Some(boot)) = (field(22), boot_time()) {
        metrics::gauge!("process_start_time_seconds").set(boot + started / TICKS_PER_SECOND);
    }
    if let Some(resident) = resident_bytes(proc_dir) {
        metrics::gauge!("process_resident_memory_bytes").set(resident);
    }
    if let Ok(entries) = std::fs::read_dir(proc_dir.join("fd")) {
        metrics::gauge!("process_open_fds").set(entries.count() as f64);
    }
}

fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines().find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
}

fn resident_bytes(proc_dir: &Path) -> Option<f64> {
    let status = std::fs::read_to_string(proc_dir.join("status")).ok()?;
    let kilobytes: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:")?.trim().strip_suffix("kB")?.trim().parse().ok())?;
    Some(kilobytes * 1024.0)
}
