//! Real mail servers on loopback for the email tests, started once per test binary and
//! stopped with it (parent-death signal from a keeper thread): Dovecot (IMAP, a
//! passwd-file userdb in a temp folder, one user per test) and aiosmtpd (SMTP with AUTH,
//! writing every accepted message to a folder). Also a TCP proxy that cuts the
//! connection after a number of bytes, and helpers to append messages over IMAP.
#![allow(dead_code)]

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use leadline::channels::email::imap::{self, ImapSettings};
use leadline::channels::email::Security;

/// The password of every test mailbox; the SMTP server accepts it for any user name.
pub const PASSWORD: &str = "s3cret-pass";

pub struct MailServers {
    pub root: PathBuf,
    pub imap_port: u16,
    /// Implicit TLS (certificate from `ca_file`'s CA for IP 127.0.0.1).
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub smtps_port: u16,
    /// The test CA (PEM) that signed the servers' certificate.
    pub ca_file: PathBuf,
    pub smtp_dir: PathBuf,
    passwd: PathBuf,
    uid: u32,
    gid: u32,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe; this runs in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)
        });
    }
}

fn openssl(root: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(root)
        .args(args)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for IP 127.0.0.1 signed by it.
fn make_certificates(root: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "3",
        "-subj",
        "/CN=Leadline Test CA",
    ]);
    openssl(root, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(root, &csr);
    std::fs::write(
        root.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        root,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "3",
            "-extfile",
            "server.ext",
        ],
    );
}

/// Server folders of earlier test runs whose process is gone.
fn remove_stale_roots() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(pid) = name
            .strip_prefix("leadline-mail-")
            .and_then(|p| p.parse::<i32>().ok())
        {
            if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

fn find_dovecot() -> PathBuf {
    for p in ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    PathBuf::from("dovecot")
}

/// The servers of this test binary.
// The children live as long as the test process (parent-death signal); nothing waits.
#[allow(clippy::zombie_processes)]
pub fn servers() -> &'static MailServers {
    static SERVERS: OnceLock<MailServers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            remove_stale_roots();
            let root = std::env::temp_dir().join(format!("leadline-mail-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(root.join("mail")).unwrap();
            std::fs::create_dir_all(root.join("run")).unwrap();
            std::fs::create_dir_all(root.join("state")).unwrap();
            std::fs::create_dir_all(root.join("smtp")).unwrap();
            let root_is = nix::unistd::geteuid().is_root();
            // As root, Dovecot drops to unprivileged users: mail belongs to `nobody`.
            let (uid, gid, internal, login) = if root_is {
                (65534, 65534, "dovecot".to_string(), "dovenull".to_string())
            } else {
                let me = nix::unistd::User::from_uid(nix::unistd::geteuid())
                    .unwrap()
                    .unwrap();
                (me.uid.as_raw(), me.gid.as_raw(), me.name.clone(), me.name)
            };
            std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            let mail = root.join("mail");
            if root_is {
                nix::unistd::chown(&mail, Some(uid.into()), Some(gid.into())).unwrap();
            }
            let passwd = root.join("passwd");
            // Users are written before Dovecot starts: it may not notice a passwd-file
            // changed twice within one second.
            let users: String = (0..USER_POOL)
                .map(|n| {
                    format!(
                        "{name}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{home}\n",
                        name = user_name(n),
                        home = root.join("mail").join(user_name(n)).display()
                    )
                })
                .collect();
            std::fs::write(&passwd, users).unwrap();
            make_certificates(&root);
            let imap_port = free_port();
            let imaps_port = free_port();
            let conf = format!(
                "protocols = imap\n\
                 listen = 127.0.0.1\n\
                 base_dir = {root}/run\n\
                 state_dir = {root}/state\n\
                 instance_name = leadline-test-{pid}\n\
                 ssl = yes\n\
                 ssl_cert = <{root}/server.pem\n\
                 ssl_key = <{root}/server.key\n\
                 disable_plaintext_auth = no\n\
                 auth_mechanisms = plain login\n\
                 default_internal_user = {internal}\n\
                 default_login_user = {login}\n\
                 mail_location = maildir:{root}/mail/%u\n\
                 first_valid_uid = 1\n\
                 log_path = {root}/dovecot.log\n\
                 passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {passwd}\n}}\n\
                 userdb {{\n  driver = passwd-file\n  args = {passwd}\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {imaps_port}\n  }}\n}}\n\
                 service anvil {{\n  chroot =\n}}\n\
                 service stats {{\n  chroot =\n}}\n",
                root = root.display(),
                pid = std::process::id(),
                passwd = passwd.display(),
            );
            std::fs::write(root.join("dovecot.conf"), conf).unwrap();
            let mut dovecot = Command::new(find_dovecot());
            dovecot
                .arg("-F")
                .arg("-c")
                .arg(root.join("dovecot.conf"))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            die_with_parent(&mut dovecot);
            let _dovecot = dovecot.spawn().expect("start dovecot (apt-get install dovecot-imapd)");
            let smtp_port = free_port();
            let smtps_port = free_port();
            let smtp_dir = root.join("smtp");
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mail_support/smtpd.py");
            // The Debian package installs aiosmtpd for the system interpreter.
            let python = if Path::new("/usr/bin/python3").exists() {
                "/usr/bin/python3"
            } else {
                "python3"
            };
            let mut smtpd = Command::new(python);
            smtpd
                .arg("-W")
                .arg("ignore")
                .arg(script)
                .arg(smtp_port.to_string())
                .arg(smtps_port.to_string())
                .arg(&smtp_dir)
                .arg(PASSWORD)
                .arg(root.join("server.pem"))
                .arg(root.join("server.key"))
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(root.join("smtpd.log")).unwrap());
            die_with_parent(&mut smtpd);
            let _smtpd = smtpd.spawn().expect("start aiosmtpd (apt-get install python3-aiosmtpd)");
            wait_for_port(imap_port, "dovecot");
            wait_for_port(smtp_port, "aiosmtpd");
            wait_for_port(imaps_port, "dovecot (imaps)");
            wait_for_port(smtps_port, "aiosmtpd (smtps)");
            tx.send(MailServers {
                ca_file: root.join("ca.pem"),
                root,
                imap_port,
                imaps_port,
                smtp_port,
                smtps_port,
                smtp_dir,
                passwd,
                uid,
                gid,
            })
            .unwrap();
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("mail servers failed to start")
    })
}

static USERS: AtomicUsize = AtomicUsize::new(0);
/// Mailboxes available to one test binary.
const USER_POOL: usize = 64;

fn user_name(n: usize) -> String {
    format!("roofer{n}")
}

impl MailServers {
    /// A mailbox of its own for the calling test (password `PASSWORD`).
    pub fn new_user(&self) -> String {
        let n = USERS.fetch_add(1, Ordering::SeqCst);
        assert!(
            n < USER_POOL,
            "more than {USER_POOL} mailboxes in one test binary"
        );
        user_name(n)
    }

    pub fn imap(&self, user: &str, password: &str) -> ImapSettings {
        ImapSettings {
            host: "127.0.0.1".into(),
            port: self.imap_port,
            security: Security::None,
            username: user.into(),
            password: password.into(),
            extra_roots_pem: None,
            allow_private: true,
        }
    }

    /// Messages the SMTP server accepted, oldest first.
    pub fn received(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<_> = std::fs::read_dir(&self.smtp_dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect()
    }

    /// Accepted messages that contain `needle`.
    pub fn received_containing(&self, needle: &str) -> Vec<String> {
        self.received()
            .into_iter()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .filter(|m| m.contains(needle))
            .collect()
    }
}

/// Appends raw messages to a folder (created when missing).
pub async fn append(settings: &ImapSettings, folder: &str, messages: &[Vec<u8>]) {
    append_dated(settings, folder, messages, None).await
}

/// Appends with an IMAP internal date such as `"01-Jan-2026 10:00:00 +0000"`.
pub async fn append_dated(
    settings: &ImapSettings,
    folder: &str,
    messages: &[Vec<u8>],
    date: Option<&str>,
) {
    let mut s = imap::connect(settings).await.expect("imap login");
    if folder != "INBOX" {
        let _ = s.create(folder).await;
    }
    let quoted = date.map(|d| format!("\"{d}\""));
    for m in messages {
        s.append(folder, None, quoted.as_deref(), m)
            .await
            .expect("append");
    }
    s.logout().await.ok();
}

/// A proxy to `target` that forwards both ways and closes the connection once `cut_after`
/// bytes came back from the server.
pub async fn cutting_proxy(target: u16, cut_after: usize) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                });
                let mut sent = 0usize;
                let mut buf = vec![0u8; 4096];
                loop {
                    let n = match sr.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let n = n.min(cut_after.saturating_sub(sent));
                    if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    sent += n;
                }
                up.abort();
                let _ = cw.shutdown().await;
            });
        }
    });
    port
}

/// A small multipart/form-data body builder.
pub struct Multipart {
    pub boundary: String,
    body: Vec<u8>,
}

impl Default for Multipart {
    fn default() -> Self {
        Self::new()
    }
}

impl Multipart {
    pub fn new() -> Self {
        Self {
            boundary: format!("b{}", uuid::Uuid::new_v4().simple()),
            body: vec![],
        }
    }

    pub fn text(mut self, name: &str, value: &[u8]) -> Self {
        write!(
            self.body,
            "--{}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n",
            self.boundary
        )
        .unwrap();
        self.body.extend_from_slice(value);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn file(mut self, name: &str, filename: &str, content_type: &str, value: &[u8]) -> Self {
        write!(
            self.body,
            "--{}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n",
            self.boundary
        )
        .unwrap();
        self.body.extend_from_slice(value);
        self.body.extend_from_slice(b"\r\n");
        self
    }

    pub fn finish(mut self) -> (String, Vec<u8>) {
        write!(self.body, "--{}--\r\n", self.boundary).unwrap();
        (
            format!("multipart/form-data; boundary={}", self.boundary),
            self.body,
        )
    }
}

impl MailServers {
    /// Writes messages straight into a user's INBOX maildir (much faster than APPEND, for
    /// the benchmark); Dovecot indexes them on the next access.
    pub fn fill_inbox(&self, user: &str, messages: impl Iterator<Item = Vec<u8>>) -> usize {
        let home = self.root.join("mail").join(user);
        let mut n = 0;
        for sub in ["", "cur", "new", "tmp"] {
            let d = home.join(sub);
            std::fs::create_dir_all(&d).unwrap();
            if nix::unistd::geteuid().is_root() {
                nix::unistd::chown(&d, Some(self.uid.into()), Some(self.gid.into())).unwrap();
            }
        }
        for (i, m) in messages.enumerate() {
            let path = home
                .join("new")
                .join(format!("{}.M{i}P1.bench", 1_700_000_000 + i));
            std::fs::write(&path, m).unwrap();
            if nix::unistd::geteuid().is_root() {
                nix::unistd::chown(&path, Some(self.uid.into()), Some(self.gid.into())).unwrap();
            }
            n += 1;
        }
        n
    }
}
