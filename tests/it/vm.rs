//! The boot agent in real boots: a Debian 12 VM (scripts/vm/image.sh: the VM OS pinned by
//! scripts/deps/vm.lock, root on xfs or ext4, lava-rc installed with rc.d/install.sh) booted with
//! qemu (KVM where /dev/kvm is usable, TCG otherwise). The guest reaches the fake IMDSv2 at
//! 169.254.169.254:80 through qemu's user network (a guestfwd to the test's server) and the AWS
//! emulator's S3 at the user network's host address. What happened is read from outside: the serial
//! console (a file) and the 9p share /lab, where the guest's report unit `lab-report` (after the
//! agent) copies the swaps, fstab, region file, crontabs, rsyslog's records and the units' times.
//!
//! The boots (`vm::boot_*`) take minutes (about 5 on 2 cores under TCG), so `make test` leaves them
//! to `make test-vm` (`cargo test --test it vm::boot_` under scripts/test-services.sh), which CI
//! runs after it; a plain `cargo test` runs them too.
use crate::common::{moto, moto_sdk, path_str, root};
use crate::imds::FakeImds;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The agent's `--deadline` in the lab's drop-in (scripts/vm/image.sh).
const DEADLINE: Duration = Duration::from_secs(30);
/// One boot, up to the report unit (TCG is several times slower than KVM).
const BOOT_TIMEOUT: Duration = Duration::from_secs(600);
const SWAP_FILE: &str = "/swap_till_you_drop";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Agent {
    /// rc.d/install.sh: the systemd unit.
    Unit,
    /// rc.d/install.sh, then the unit disabled and /etc/rc.local the shim (rc-local.service).
    RcLocal,
    /// Not installed (the check that the assertions can fail).
    None,
}

/// qemu, the kernel and the initrd, or a panic naming what is missing.
struct Machine {
    qemu: PathBuf,
    kernel: PathBuf,
    initrd: PathBuf,
    kvm: bool,
}

fn machine() -> Machine {
    let qemu = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("qemu-system-x86_64"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("qemu-system-x86_64 is not installed (Debian package qemu-system-x86, pinned in scripts/deps/apt.lock; scripts/test-services.sh install installs it)")
        });
    let out = Command::new(root().join("scripts/vm/image.sh"))
        .arg("paths")
        .output()
        .expect("scripts/vm/image.sh paths");
    assert!(
        out.status.success(),
        "scripts/vm/image.sh paths: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paths: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(PathBuf::from)
        .collect();
    for p in &paths {
        assert!(
            p.is_file(),
            "the VM OS is not made: no {} (scripts/test-services.sh install makes it: scripts/vm/image.sh rootfs)",
            p.display()
        );
    }
    let kvm = *KVM.get_or_init(|| kvm_boots(&qemu, &paths[1]));
    eprintln!(
        "vm: {}",
        if kvm {
            "KVM (/dev/kvm is usable: a kernel started under it)"
        } else {
            "TCG emulation (no /dev/kvm, or a kernel did not start under it within 15 s): slower"
        }
    );
    Machine {
        qemu,
        kernel: paths[1].clone(),
        initrd: paths[2].clone(),
        kvm,
    }
}

static KVM: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Whether KVM works here: /dev/kvm opens and the kernel prints its first line under it within
/// 15 s (in some sandboxes /dev/kvm opens but a guest never runs).
fn kvm_boots(qemu: &Path, kernel: &Path) -> bool {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        return false;
    }
    let dir = tempfile::tempdir().unwrap();
    let serial = dir.path().join("probe.log");
    let Ok(mut child) = Command::new(qemu)
        .args(["-enable-kvm", "-m", "256", "-display", "none", "-no-reboot"])
        .args([
            "-monitor",
            "none",
            "-serial",
            &format!("file:{}", path_str(&serial)),
        ])
        .args([
            "-kernel",
            &path_str(kernel),
            "-append",
            "console=ttyS0 panic=-1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let start = Instant::now();
    let mut started = false;
    while start.elapsed() < Duration::from_secs(15) {
        let text = std::fs::read(&serial).unwrap_or_default();
        if String::from_utf8_lossy(&text).contains("Linux version") {
            started = true;
            break;
        }
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    started
}

/// A disk image and the 9p share of one VM.
struct Disk {
    _dir: tempfile::TempDir,
    image: PathBuf,
    share: PathBuf,
    consoles: PathBuf,
}

fn disk(fs: &str, agent: Agent) -> Disk {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join(format!("root-{fs}.raw"));
    let share = dir.path().join("share");
    std::fs::create_dir(&share).unwrap();
    // The guest's users (cron runs as ec2-user) write here through 9p.
    std::fs::set_permissions(&share, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    // The crontabs' lines append here, as root and as ec2-user (9p shows the host's owner and mode).
    let cron_log = share.join("cron.log");
    std::fs::write(&cron_log, "").unwrap();
    std::fs::set_permissions(
        &cron_log,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let moto_port = moto().rsplit(':').next().unwrap().to_string();
    let mut c = Command::new(root().join("scripts/vm/image.sh"));
    c.args(["disk", fs, &path_str(&image)])
        .args(["--moto", &format!("http://169.254.0.2:{moto_port}")]);
    if agent != Agent::None {
        c.args(["--agent", &agent_binary()]);
    }
    if agent == Agent::RcLocal {
        c.arg("--rc-local");
    }
    let out = c.output().expect("scripts/vm/image.sh disk");
    assert!(
        out.status.success(),
        "scripts/vm/image.sh disk {fs}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let consoles = dir.path().to_path_buf();
    Disk {
        _dir: dir,
        image,
        share,
        consoles,
    }
}

/// A running VM: qemu with the monitor on its stdin and the serial console in a file.
struct Vm {
    child: Child,
    console: PathBuf,
}

fn boot(m: &Machine, d: &Disk, n: usize, imds: Option<&FakeImds>) -> Vm {
    let console = d.consoles.join(format!("console-{n}.log"));
    let mut net =
        "user,id=n0,net=169.254.0.0/16,host=169.254.0.2,dhcpstart=169.254.0.15".to_string();
    if let Some(imds) = imds {
        let port = imds.url.rsplit(':').next().unwrap();
        net.push_str(&format!(
            ",guestfwd=tcp:169.254.169.254:80-cmd:{} 127.0.0.1 {port}",
            path_str(&root().join("scripts/vm/fwd.sh"))
        ));
    }
    let mut c = Command::new(&m.qemu);
    if m.kvm {
        c.arg("-enable-kvm");
    }
    c.args(["-m", "1024", "-smp", "1", "-display", "none", "-no-reboot"])
        .args(["-monitor", "stdio"])
        .args(["-serial", &format!("file:{}", path_str(&console))])
        .args([
            "-kernel",
            &path_str(&m.kernel),
            "-initrd",
            &path_str(&m.initrd),
        ])
        // No login on the console: a getty there would end systemd's status lines (the test
        // waits for "Reached target multi-user.target").
        .args([
            "-append",
            "root=/dev/vda console=ttyS0 panic=-1 systemd.mask=serial-getty@ttyS0.service",
        ])
        .args([
            "-drive",
            &format!("file={},format=raw,if=virtio", path_str(&d.image)),
        ])
        .args(["-netdev", &net, "-device", "virtio-net-pci,netdev=n0"])
        .args([
            "-virtfs",
            &format!(
                "local,path={},mount_tag=lab,security_model=none,id=lab",
                path_str(&d.share)
            ),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("qemu-system-x86_64");
    Vm { child, console }
}

impl Vm {
    /// The console so far, without systemd's colour sequences (ESC [ … m).
    fn console_text(&self) -> String {
        let raw =
            String::from_utf8_lossy(&std::fs::read(&self.console).unwrap_or_default()).into_owned();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    fn tail(&self) -> String {
        let text = self.console_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits for a line on the serial console; fails naming it (and showing the console's end).
    async fn await_console(&mut self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        loop {
            if self.console_text().contains(needle) {
                return;
            }
            if let Some(st) = self.child.try_wait().unwrap() {
                panic!(
                    "awaited '{needle}' on the serial console: qemu ended ({st}) first; console:\n{}",
                    self.tail()
                );
            }
            assert!(
                start.elapsed() < timeout,
                "awaited '{needle}' on the serial console for {}s; console's end:\n{}",
                timeout.as_secs(),
                self.tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Ctrl-Alt-Del (systemd reboots cleanly); with -no-reboot qemu then ends.
    async fn reboot(&mut self) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(b"sendkey ctrl-alt-delete\n").unwrap();
        stdin.flush().unwrap();
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "awaited the guest's reboot (qemu's end) for 300s after ctrl-alt-delete; console's end:\n{}",
                self.tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until a file of the share holds every needle; fails naming them.
async fn await_file(path: &Path, needles: &[&str], timeout: Duration) -> String {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if needles.iter().all(|n| text.contains(n)) {
            return text;
        }
        assert!(
            start.elapsed() < timeout,
            "awaited {needles:?} in {} for {}s; it holds: {text:?}",
            path.display(),
            timeout.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One boot's report (scripts/vm/guest/lab-report): file name → text.
struct Report {
    files: HashMap<String, String>,
    /// `systemctl show` of each unit: unit → property → value.
    units: HashMap<String, HashMap<String, String>>,
}

fn report(d: &Disk, n: usize) -> Report {
    let dir = d.share.join(format!("boot-{n}"));
    let mut files = HashMap::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let e = e.unwrap();
        files.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read_to_string(e.path()).unwrap_or_default(),
        );
    }
    let mut units = HashMap::new();
    for block in files
        .get("units")
        .map(String::as_str)
        .unwrap_or("")
        .split("\n\n")
    {
        let props: HashMap<String, String> = block
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(id) = props.get("Id") {
            units.insert(id.clone(), props);
        }
    }
    Report { files, units }
}

impl Report {
    fn file(&self, name: &str) -> &str {
        self.files.get(name).map(String::as_str).unwrap_or("")
    }

    fn prop(&self, unit: &str, p: &str) -> &str {
        self.units
            .get(unit)
            .and_then(|u| u.get(p))
            .map(String::as_str)
            .unwrap_or("")
    }

    /// A monotonic timestamp in microseconds (0 when the unit never got there).
    fn usec(&self, unit: &str, p: &str) -> u64 {
        self.prop(unit, p).parse().unwrap_or(0)
    }

    /// Syslog lines (rsyslog's /var/log/syslog) of this boot's records with this identifier.
    fn syslog_lines(&self, ident: &str) -> Vec<&str> {
        // `ident[pid]:`, or `ident:` from logger (the rc.local shim's lines).
        let (tag, bare) = (format!(" {ident}["), format!(" {ident}: "));
        self.file("syslog")
            .lines()
            .filter(|l| l.contains(&tag) || l.contains(&bare))
            .collect()
    }
}

fn user_data(bucket: &str) -> Vec<u8> {
    // The seed's example user data (shared/seeds), in a bucket of the emulator.
    serde_json::json!({
        "swap": {"size": 2, "file": SWAP_FILE},
        "crontab": {
            "ec2-user": format!("s3://{bucket}/ec2config/latest/ec2-user.cron"),
            "root": format!("s3://{bucket}/ec2config/latest/root.cron"),
        },
        "shell": ["echo Hello world", "echo Resistance is futile > /tmp/borg"],
    })
    .to_string()
    .into_bytes()
}

/// The bucket of the example's crontabs: each user's cron line writes its name to the share.
async fn crontab_bucket() -> String {
    let s3 = aws_sdk_s3::Client::new(&moto_sdk("ap-southeast-2").await);
    let bucket = format!("vm-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::ApSoutheast2)
                .build(),
        )
        .send()
        .await
        .unwrap();
    for user in ["ec2-user", "root"] {
        s3.put_object()
            .bucket(&bucket)
            .key(format!("ec2config/latest/{user}.cron"))
            .body(
                format!("* * * * * id -un >> /lab/cron.log # vm test {user}\n")
                    .into_bytes()
                    .into(),
            )
            .send()
            .await
            .unwrap();
    }
    bucket
}

/// What a first boot with the example user data must show; the failures, one a line.
fn first_boot_failures(r: &Report, fs: &str, agent: Agent) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            bad.push(what);
        }
    };
    check(
        r.file("errors").is_empty(),
        format!("the report is complete: {:?}", r.file("errors")),
    );
    check(
        r.file("rootfs").trim() == fs,
        format!("root on {fs}: {:?}", r.file("rootfs")),
    );
    check(
        r.file("swaps").contains(SWAP_FILE),
        format!("swap active: /proc/swaps is {:?}", r.file("swaps")),
    );
    let fstab_lines = r
        .file("fstab")
        .lines()
        .filter(|l| *l == format!("{SWAP_FILE} swap swap defaults 0 0"))
        .count();
    check(
        fstab_lines == 1,
        format!("one swap line in fstab: {:?}", r.file("fstab")),
    );
    check(
        r.file("aws-config")
            .starts_with("[default]\nregion = ap-southeast-2\n"),
        format!("region file: {:?}", r.file("aws-config")),
    );
    for user in ["ec2-user", "root"] {
        let tab = r.file(&format!("crontab.{user}"));
        check(
            tab.contains(&format!("# vm test {user}")),
            format!("crontab of {user} installed: {tab:?}"),
        );
    }
    // rsyslog's records, in step order: region, swap, crontab, shell (FACTS §4).
    let first = |ident: &str| {
        r.file("syslog")
            .lines()
            .position(|l| l.contains(&format!(" {ident}[")))
    };
    let order: Vec<Option<usize>> = [
        "rclocal.region",
        "rclocal.swap",
        "rclocal.crontab",
        "rclocal.shell",
    ]
    .iter()
    .map(|i| first(i))
    .collect();
    check(
        order.iter().all(Option::is_some) && order.windows(2).all(|w| w[0] < w[1]),
        format!(
            "rclocal.region, .swap, .crontab, .shell records in rsyslog's file, in that order: {order:?} in {:?}",
            r.file("syslog")
        ),
    );
    check(
        r.syslog_lines("rclocal.shell")
            .iter()
            .any(|l| l.contains("Hello world")),
        "the shell step's output as rclocal.shell".into(),
    );
    let summaries = r
        .syslog_lines("lava-rc")
        .iter()
        .filter(|l| l.contains("lava-rc boot done"))
        .count();
    check(
        summaries == 1,
        format!(
            "the agent ran once and every step was ok: {summaries} summaries \"lava-rc boot done\""
        ),
    );
    let unit = if agent == Agent::RcLocal {
        "rc-local.service"
    } else {
        "lava-rc.service"
    };
    check(
        r.prop(unit, "Result") == "success" && r.prop(unit, "NRestarts") == "0",
        format!(
            "{unit} succeeded: {:?}",
            r.units.get(unit).cloned().unwrap_or_default()
        ),
    );
    // From leaving "inactive" to "active" (done): the same for the oneshot unit and Debian's
    // forking rc-local.service.
    let (start, end) = (
        r.usec(unit, "InactiveExitTimestampMonotonic"),
        r.usec(unit, "ActiveEnterTimestampMonotonic"),
    );
    check(
        start > 0 && end >= start && end - start < DEADLINE.as_micros() as u64,
        format!("{unit} ran within the deadline: {start}..{end} µs"),
    );
    if agent != Agent::RcLocal {
        let online = r.usec("network-online.target", "ActiveEnterTimestampMonotonic");
        check(
            online > 0 && online <= start,
            format!("{unit} started after network-online.target ({online} µs, {start} µs)"),
        );
    }
    let report_start = r.usec("lab-report.service", "ExecMainStartTimestampMonotonic");
    check(
        end > 0 && end <= report_start,
        format!("{unit} ended before the unit after it started ({end} µs, {report_start} µs)"),
    );
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boot_xfs_then_reboot_then_a_boot_without_imds() {
    let m = machine();
    let imds = FakeImds::start().await;
    imds.set_user_data(&user_data(&crontab_bucket().await));
    let d = disk("xfs", Agent::Unit);

    let mut vm = boot(&m, &d, 1, Some(&imds));
    vm.await_console("LAB-REPORT boot-1 done", BOOT_TIMEOUT)
        .await;
    vm.await_console("Reached target multi-user.target", BOOT_TIMEOUT)
        .await;
    let r1 = report(&d, 1);
    let bad = first_boot_failures(&r1, "xfs", Agent::Unit);
    assert!(bad.is_empty(), "first boot on xfs:\n{}", bad.join("\n"));
    // The crontabs run: cron writes each user's name (cron starts jobs on the minute).
    await_file(
        &d.share.join("cron.log"),
        &["ec2-user\n", "root\n"],
        Duration::from_secs(150),
    )
    .await;

    // Reboot on the same disk: the agent runs again; nothing is done twice, swap comes from fstab.
    vm.reboot().await;
    let mut vm = boot(&m, &d, 2, Some(&imds));
    vm.await_console("LAB-REPORT boot-2 done", BOOT_TIMEOUT)
        .await;
    let r2 = report(&d, 2);
    assert!(
        r2.file("swaps").contains(SWAP_FILE),
        "swap back after the reboot: {:?}",
        r2.file("swaps")
    );
    assert_eq!(
        r2.file("fstab").matches(SWAP_FILE).count(),
        1,
        "still one fstab line: {:?}",
        r2.file("fstab")
    );
    assert_eq!(
        r2.file("swapfile"),
        r1.file("swapfile"),
        "the same swap file (inode, birth time): not made again"
    );
    let swap2: Vec<&str> = r2.syslog_lines("rclocal.swap");
    assert!(
        swap2.last().is_some_and(|l| l.contains("already in use")),
        "the second boot found the swap on from fstab: {swap2:?}"
    );
    let summaries = r2
        .syslog_lines("lava-rc")
        .iter()
        .filter(|l| l.contains("lava-rc boot done"))
        .count();
    assert_eq!(summaries, 2, "one agent run a boot, two boots");
    assert_eq!(r2.prop("lava-rc.service", "Result"), "success");

    // No IMDS at all (no guestfwd): the agent gives up within its deadline and boot goes on.
    vm.reboot().await;
    let mut vm = boot(&m, &d, 3, None);
    vm.await_console("LAB-REPORT boot-3 done", BOOT_TIMEOUT)
        .await;
    vm.await_console("Reached target multi-user.target", BOOT_TIMEOUT)
        .await;
    let r3 = report(&d, 3);
    let (start, end) = (
        r3.usec("lava-rc.service", "ExecMainStartTimestampMonotonic"),
        r3.usec("lava-rc.service", "ExecMainExitTimestampMonotonic"),
    );
    let took = Duration::from_micros(end.saturating_sub(start));
    assert!(
        start > 0 && end > start && took <= DEADLINE + Duration::from_secs(5),
        "without IMDS lava-rc ended within --deadline {}s: took {took:?}; {:?}",
        DEADLINE.as_secs(),
        r3.units.get("lava-rc.service")
    );
    assert_eq!(
        r3.prop("lava-rc.service", "Result"),
        "exit-code",
        "without IMDS the agent fails (exit 1)"
    );
    assert!(
        r3.file("swaps").contains(SWAP_FILE),
        "swap from fstab without IMDS too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boot_ext4() {
    let m = machine();
    let imds = FakeImds::start().await;
    imds.set_user_data(&user_data(&crontab_bucket().await));
    let d = disk("ext4", Agent::Unit);
    let mut vm = boot(&m, &d, 1, Some(&imds));
    vm.await_console("LAB-REPORT boot-1 done", BOOT_TIMEOUT)
        .await;
    let bad = first_boot_failures(&report(&d, 1), "ext4", Agent::Unit);
    assert!(bad.is_empty(), "first boot on ext4:\n{}", bad.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boot_rc_local_shim_through_rc_local_service() {
    let m = machine();
    let imds = FakeImds::start().await;
    imds.set_user_data(&user_data(&crontab_bucket().await));
    let d = disk("ext4", Agent::RcLocal);
    let mut vm = boot(&m, &d, 1, Some(&imds));
    vm.await_console("LAB-REPORT boot-1 done", BOOT_TIMEOUT)
        .await;
    let r = report(&d, 1);
    let bad = first_boot_failures(&r, "ext4", Agent::RcLocal);
    assert!(bad.is_empty(), "boot through rc.local:\n{}", bad.join("\n"));
    assert_eq!(
        r.prop("lava-rc.service", "ActiveState"),
        "inactive",
        "the unit is disabled: the shim ran the agent"
    );
}

/// The boot assertions fail on the same VM without the agent: swap, region, crontabs and
/// records are the agent's doing, not the image's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boot_without_the_agent_fails_the_boot_assertions() {
    let m = machine();
    let imds = FakeImds::start().await;
    imds.set_user_data(&user_data(&crontab_bucket().await));
    let d = disk("ext4", Agent::None);
    let mut vm = boot(&m, &d, 1, Some(&imds));
    vm.await_console("LAB-REPORT boot-1 done", BOOT_TIMEOUT)
        .await;
    let bad = first_boot_failures(&report(&d, 1), "ext4", Agent::None).join("\n");
    for what in [
        "swap active",
        "one swap line in fstab",
        "region file",
        "crontab of root",
        "rsyslog's file",
        "ran once",
    ] {
        assert!(
            bad.contains(what),
            "without the agent '{what}' fails: {bad}"
        );
    }
}

/// scripts/vm/image.sh refuses a file system it cannot make root on, naming it (exit 2).
#[test]
fn a_disk_of_another_file_system_is_refused_naming_it() {
    let out = Command::new(root().join("scripts/vm/image.sh"))
        .args(["disk", "btrfs", "/nonexistent/root.raw"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("file system 'btrfs': expected xfs or ext4"),
        "{err}"
    );
}

/// The lava-rc the VMs boot: `LAVA_TEST_AGENT` (`make test-vm` sets it to the agent as it ships,
/// built without the build feature), else this test build's.
fn agent_binary() -> String {
    match std::env::var("LAVA_TEST_AGENT") {
        Ok(p) if !p.is_empty() => {
            assert!(
                std::path::Path::new(&p).is_file(),
                "LAVA_TEST_AGENT={p}: no such file (make test-vm builds it)"
            );
            p
        }
        _ => env!("CARGO_BIN_EXE_lava-rc").to_string(),
    }
}
