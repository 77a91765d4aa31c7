//! The private PostgreSQL cluster used when `DATABASE_URL` is unset: created with the
//! system's `initdb`, run by the system's `postgres`, reachable only through a Unix
//! socket inside the data folder (no TCP).
//!
//! Layout under the data folder: `pg/` (the cluster), `run/` (the socket, mode 0700),
//! `postgres.log`. When we run as root the cluster runs as the `postgres` user (or
//! `nobody`), because `initdb` and `postgres` refuse to run as root.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use nix::sys::signal::{kill, Signal};
use nix::unistd::{Gid, Pid, Uid, User};

/// Port number used only to name the socket file (`.s.PGSQL.5432`); no TCP is opened.
pub const SOCKET_PORT: u16 = 5432;
pub const SUPERUSER: &str = "postgres";

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Trade durability for speed (fsync off): for throwaway test clusters only.
    pub ephemeral: bool,
    /// Kill the cluster when the thread that started it exits (test harness).
    pub die_with_parent: bool,
    pub max_connections: Option<u32>,
}

/// A running cluster: one this process runs (it started it, or adopted it from a
/// leadline that died: either way it restarts it if it dies, and stops it), or one a
/// live leadline runs from the same folder (left alone).
///
/// `leadline.owner` in the data folder holds the pid of the leadline that runs it.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    pub root: PathBuf,
    pub pgdata: PathBuf,
    pub socket_dir: PathBuf,
    pub bin_dir: PathBuf,
    opts: Options,
    child: Option<Child>,
    /// The postmaster of an adopted cluster (not our child).
    adopted: Option<Pid>,
    /// This process runs the cluster, even while a restart has not succeeded yet.
    runs: bool,
}

impl EmbeddedPostgres {
    /// Starts the cluster in `root` (creating it on first use), or attaches to the one
    /// already running there. Blocking: call from `spawn_blocking` in async code.
    pub fn start(root: &Path, opts: &Options) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        fs::create_dir_all(root)
            .with_context(|| format!("cannot create data folder {}", root.display()))?;
        let root = root.canonicalize()?;
        let pgdata = root.join("pg");
        let socket_dir = root.join("run");
        let socket = socket_dir.join(format!(".s.PGSQL.{SOCKET_PORT}"));
        if socket.as_os_str().len() > 100 {
            bail!("the data folder path {} is too long for a Unix socket; choose a shorter LEADLINE_DATA_DIR", root.display());
        }
        let mut pg = Self {
            root: root.clone(),
            pgdata,
            socket_dir,
            bin_dir,
            opts: opts.clone(),
            child: None,
            adopted: None,
            runs: false,
        };
        if pg.is_ready() {
            match pg.runner() {
                Some(pid) if pid != std::process::id() as i32 && alive(Pid::from_raw(pid)) => {
                    tracing::info!(data = %root.display(), runner = pid, "using the PostgreSQL cluster another leadline runs in the data folder");
                }
                _ => {
                    // Its leadline died (killed, crashed): this one takes it over.
                    pg.adopted = pg.postmaster_pid();
                    pg.runs = true;
                    pg.claim_runner()?;
                    tracing::info!(data = %root.display(), "took over the PostgreSQL cluster left running in the data folder");
                }
            }
            return Ok(pg);
        }
        let owner = cluster_owner()?;
        pg.prepare_dirs(owner.as_ref())?;
        if let Some(u) = &owner {
            if let Some((dir, mode)) = closed_ancestor(&pg.pgdata, u) {
                bail!(
                    "the PostgreSQL cluster runs as user `{}` (Leadline runs as root), which cannot enter {} (mode {mode:o}): \
                     allow it with `chmod o+x {}`, or choose a LEADLINE_DATA_DIR outside that folder",
                    u.name,
                    dir.display(),
                    dir.display()
                );
            }
        }
        if !pg.pgdata.join("PG_VERSION").exists() {
            pg.initdb(owner.as_ref(), opts)?;
        }
        pg.spawn(owner.as_ref(), opts)?;
        pg.runs = true;
        pg.claim_runner()?;
        Ok(pg)
    }

    /// Whether this process runs the cluster (and so restarts and stops it).
    pub fn owned(&self) -> bool {
        self.runs
    }

    fn runner_file(&self) -> PathBuf {
        self.root.join("leadline.owner")
    }

    /// The pid of the leadline that runs the cluster, as it recorded it.
    fn runner(&self) -> Option<i32> {
        fs::read_to_string(self.runner_file())
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    fn claim_runner(&self) -> anyhow::Result<()> {
        fs::write(self.runner_file(), std::process::id().to_string())
            .with_context(|| format!("cannot write {}", self.runner_file().display()))
    }

    fn postmaster_pid(&self) -> Option<Pid> {
        fs::read_to_string(self.pgdata.join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
            .map(Pid::from_raw)
    }

    /// Restarts the cluster if this process runs it and its postmaster has died (killed,
    /// out of memory): every request would fail until then. `Ok(true)` when restarted.
    pub fn revive(&mut self) -> anyhow::Result<bool> {
        if !self.runs {
            return Ok(false);
        }
        let dead = match (&mut self.child, self.adopted) {
            (Some(child), _) => child.try_wait()?.is_some(),
            (None, Some(pid)) => !alive(pid),
            // An earlier restart failed.
            (None, None) => true,
        };
        if !dead {
            return Ok(false);
        }
        tracing::warn!(data = %self.root.display(), "PostgreSQL stopped unexpectedly; restarting it: {}", self.log_tail());
        self.child = None;
        self.adopted = None;
        let owner = cluster_owner()?;
        let opts = self.opts.clone();
        // On failure (its old backends may linger a moment) the next call tries again.
        self.spawn(owner.as_ref(), &opts)?;
        Ok(true)
    }

    fn prepare_dirs(&self, owner: Option<&User>) -> anyhow::Result<()> {
        for dir in [&self.pgdata, &self.socket_dir] {
            fs::create_dir_all(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
            if let Some(u) = owner {
                chown_tree(dir, u.uid, u.gid)?;
            }
        }
        let log = self.log_path();
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        if let Some(u) = owner {
            nix::unistd::chown(&log, Some(u.uid), Some(u.gid))?;
        }
        Ok(())
    }

    fn command(&self, program: &str, owner: Option<&User>) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        // The cluster user may not be able to read our working directory.
        cmd.current_dir(&self.pgdata);
        cmd.env_remove("PGDATA").env("LC_ALL", "C");
        if let Some(u) = owner {
            cmd.uid(u.uid.as_raw()).gid(u.gid.as_raw());
        }
        cmd
    }

    fn initdb(&self, owner: Option<&User>, opts: &Options) -> anyhow::Result<()> {
        tracing::info!(data = %self.pgdata.display(), "creating a new PostgreSQL cluster");
        let mut cmd = self.command("initdb", owner);
        cmd.arg("-D").arg(&self.pgdata).args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
        ]);
        if opts.ephemeral {
            cmd.arg("--no-sync");
        }
        let out = cmd.output().context("could not run initdb")?;
        if !out.status.success() {
            bail!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stderr).trim(),
                owner_hint(owner, &self.root)
            );
        }
        Ok(())
    }

    fn spawn(&mut self, owner: Option<&User>, opts: &Options) -> anyhow::Result<()> {
        let log = fs::OpenOptions::new().append(true).open(self.log_path())?;
        let mut cmd = self.command("postgres", owner);
        cmd.arg("-D")
            .arg(&self.pgdata)
            .arg("-c")
            .arg("listen_addresses=")
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.socket_dir.display()
            ))
            .arg("-c")
            .arg("unix_socket_permissions=0700")
            .arg("-c")
            .arg(format!("port={SOCKET_PORT}"))
            .arg("-c")
            .arg(format!(
                "max_connections={}",
                opts.max_connections.unwrap_or(100)
            ));
        if opts.ephemeral {
            for setting in [
                "fsync=off",
                "synchronous_commit=off",
                "full_page_writes=off",
            ] {
                cmd.arg("-c").arg(setting);
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Own process group: a Ctrl-C in the terminal reaches us, and we stop the
        // cluster in order, instead of it dying under the server's feet.
        cmd.process_group(0);
        if opts.die_with_parent {
            // SAFETY: prctl is async-signal-safe; this runs in the child before exec.
            unsafe {
                cmd.pre_exec(|| {
                    nix::sys::prctl::set_pdeathsig(Signal::SIGINT).map_err(std::io::Error::from)
                });
            }
        }
        let mut child = cmd.spawn().context("could not start postgres")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.is_ready() {
                tracing::info!(data = %self.root.display(), pid = child.id(), "PostgreSQL is ready");
                self.child = Some(child);
                return Ok(());
            }
            if let Some(status) = child.try_wait()? {
                // Another leadline may have started the cluster at the same moment.
                if self.wait_ready(Duration::from_secs(10)) {
                    if self.runs {
                        // Restarting ours: whoever won, this process still runs it.
                        self.adopted = self.postmaster_pid();
                    }
                    return Ok(());
                }
                bail!(
                    "postgres exited ({status}) while starting: {}{}",
                    self.log_tail(),
                    owner_hint(owner, &self.root)
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!(
                    "postgres did not become ready within 60 s: {}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.is_ready() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// A live postmaster owns the folder, says it is ready, and accepts on the socket.
    fn is_ready(&self) -> bool {
        let Ok(pidfile) = fs::read_to_string(self.pgdata.join("postmaster.pid")) else {
            return false;
        };
        let mut lines = pidfile.lines();
        let Some(pid) = lines.next().and_then(|l| l.trim().parse::<i32>().ok()) else {
            return false;
        };
        let alive = alive(Pid::from_raw(pid));
        // Line 8 of postmaster.pid is the postmaster's status ("ready" once it accepts).
        let ready = pidfile
            .lines()
            .nth(7)
            .map(|s| s.trim() == "ready")
            .unwrap_or(false);
        alive
            && ready
            && std::os::unix::net::UnixStream::connect(
                self.socket_dir.join(format!(".s.PGSQL.{SOCKET_PORT}")),
            )
            .is_ok()
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join("postgres.log")
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    /// Stops the cluster if this process runs it (fast shutdown: clients are
    /// disconnected, the cluster is consistent on disk).
    pub fn stop(&mut self) {
        self.runs = false;
        let (pid, mut child) = match (self.child.take(), self.adopted.take()) {
            (Some(c), _) => (Pid::from_raw(c.id() as i32), Some(c)),
            (None, Some(pid)) => (pid, None),
            (None, None) => return,
        };
        if self.runner() == Some(std::process::id() as i32) {
            let _ = fs::remove_file(self.runner_file());
        }
        let exited = |child: &mut Option<Child>| match child {
            Some(c) => matches!(c.try_wait(), Ok(Some(_))),
            None => !alive(pid),
        };
        let _ = kill(pid, Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if exited(&mut child) {
                tracing::info!("PostgreSQL stopped");
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = kill(pid, Signal::SIGQUIT);
        if let Some(c) = &mut child {
            let _ = c.wait();
        }
    }
}

/// Whether a process with this pid exists (EPERM: it does, as another user).
fn alive(pid: Pid) -> bool {
    matches!(kill(pid, None), Ok(()) | Err(nix::errno::Errno::EPERM))
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `initdb` on PATH, else the newest `/usr/lib/postgresql/*/bin`.
pub fn find_bin_dir() -> anyhow::Result<PathBuf> {
    let has_all = |d: &Path| ["initdb", "postgres"].iter().all(|p| d.join(p).is_file());
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_all(&dir) {
                // Follow symlinks (Debian links /usr/bin tools to a wrapper) to the real bin dir.
                let real = dir
                    .join("initdb")
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf));
                return Ok(real.filter(|d| has_all(d)).unwrap_or(dir));
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_all(&bin).then_some((v, bin))
        })
        .collect();
    versions.sort();
    match versions.pop() {
        Some((_, bin)) => Ok(bin),
        None => bail!(
            "PostgreSQL's server binaries (initdb, postgres) were not found on PATH or under /usr/lib/postgresql. \
             Install them (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`), \
             or set DATABASE_URL to use an existing server."
        ),
    }
}

/// The user the cluster runs as: ourselves, or an unprivileged user when we are root.
fn cluster_owner() -> anyhow::Result<Option<User>> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if let Some(u) = User::from_name(name)? {
            return Ok(Some(u));
        }
    }
    bail!("running as root, but neither a `postgres` nor a `nobody` user exists to own the cluster; create one or set DATABASE_URL")
}

/// The first folder above `path` that `user` may not enter, with its mode.
fn closed_ancestor(path: &Path, user: &User) -> Option<(PathBuf, u32)> {
    use std::os::unix::fs::MetadataExt;
    path.ancestors().skip(1).find_map(|dir| {
        let m = fs::metadata(dir).ok()?;
        let mode = m.mode() & 0o7777;
        let enters = if m.uid() == user.uid.as_raw() {
            mode & 0o100 != 0
        } else if m.gid() == user.gid.as_raw() {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        (!enters).then(|| (dir.to_path_buf(), mode))
    })
}

fn owner_hint(owner: Option<&User>, root: &Path) -> String {
    match owner {
        Some(u) => format!(
            " (running as root, the cluster runs as user `{}`, which must be able to reach {}; choose a LEADLINE_DATA_DIR outside private folders such as /root)",
            u.name,
            root.display()
        ),
        None => String::new(),
    }
}

fn chown_tree(path: &Path, uid: Uid, gid: Gid) -> anyhow::Result<()> {
    nix::unistd::chown(path, Some(uid), Some(gid))?;
    if path.is_dir() {
        for entry in fs::read_dir(path)? {
            let p = entry?.path();
            if !p.is_symlink() {
                chown_tree(&p, uid, gid)?;
            }
        }
    }
    Ok(())
}
