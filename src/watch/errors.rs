//! What to tell an operator when the kernel's watch limits are hit: errno
//! mapped to named, actionable messages. (Whether a job failure is retried
//! is decided by its [`crate::error::Kind`], never by text.)

fn read_sysctl(name: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/fs/inotify/{name}"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

fn nofile_limit() -> String {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_or_else(|_| "?".into(), |(soft, _)| soft.to_string())
}

/// Turn a watcher set-up error into a named, actionable start-up error.
pub fn watch_setup(inbox: &std::path::Path, e: &notify::Error) -> String {
    let at = inbox.display();
    let errno = match &e.kind {
        notify::ErrorKind::MaxFilesWatch => Some(libc::ENOSPC),
        notify::ErrorKind::Io(io) => io.raw_os_error(),
        _ => None,
    };
    match errno {
        Some(libc::ENOSPC) => format!(
            "watch limit reached: cannot watch {at}: the inotify watch limit \
             (fs.inotify.max_user_watches = {}) is used up by this user's processes. \
             Raise it (sysctl -w fs.inotify.max_user_watches=524288, and persist it in \
             /etc/sysctl.d/), or set `poll = true` in [watch]",
            read_sysctl("max_user_watches")
        ),
        Some(libc::EMFILE) | Some(libc::ENFILE) => format!(
            "too many open files: cannot start watching {at}: the open-file limit \
             (RLIMIT_NOFILE = {}) or the inotify instance limit \
             (fs.inotify.max_user_instances = {}) is reached. Raise LimitNOFILE= in the \
             unit (or ulimit -n), or sysctl -w fs.inotify.max_user_instances=1024, \
             or set `poll = true` in [watch]",
            nofile_limit(),
            read_sysctl("max_user_instances")
        ),
        _ => format!("cannot watch {at}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_limits_get_named_actionable_messages() {
        let p = std::path::Path::new("/srv/in");
        let e = notify::Error::new(notify::ErrorKind::MaxFilesWatch);
        let m = watch_setup(p, &e);
        assert!(
            m.starts_with("watch limit reached") && m.contains("max_user_watches"),
            "{m}"
        );
        let e = notify::Error::io(std::io::Error::from_raw_os_error(libc::EMFILE));
        let m = watch_setup(p, &e);
        assert!(
            m.starts_with("too many open files") && m.contains("LimitNOFILE"),
            "{m}"
        );
    }
}
