//! Many counters, one province (RULE 1 and RULE 10): four stations, each a real `station serve
//! --config` on its own simulated counter, all at once against one `station provincial serve`
//! on a private PostgreSQL, over mutual TLS with one certificate per station. pcscd's socket
//! path is fixed, so each counter (`station sim counter`) runs in a private mount namespace
//! made by `scripts/private-pcscd`, and its daemon joins that namespace (`nsenter`).
//!
//! 200 applicants; 50 of them are sent to two stations at the same moment. Every station
//! numbers its jobs from 1, so the province must keep each station's requests apart.
//! Afterwards every person holds exactly one card, live, made by exactly one station (the
//! other station refused them cleanly); every card number is in exactly one station's archive
//! and once at the province; each station's ledger = its archive = the province's records for
//! it (`station reconcile`) and its ledger chain is intact; no pcscd is left behind.
//!
//! Root only (mount namespaces; PostgreSQL runs as `postgres`). Its own pcscds and PostgreSQL:
//! nextest group `postgres`, not `pcsc-stack`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Barrier};
use std::time::{Duration, Instant};

use common::counter::{applicant, free_port, repo, station_toml, Proc, STATION};

const STATIONS: [&str; 4] = ["st-1", "st-2", "st-3", "st-4"];
const PEOPLE: usize = 200;
/// The last `TWICE` people are sent to two stations at once.
const TWICE: usize = 50;
const PASSWORD: &str = "test-password-1";
/// The provincial card-making centre: it makes cards and delivers them to stations.
const CENTRE: &str = "centre";
/// Cards the centre makes and delivers, alternately to the first two stations.
const DELIVERED: usize = 6;
/// How long all jobs of all stations may take (~85 s seen on 2 cores).
const JOBS_DEADLINE: Duration = Duration::from_secs(420);
/// Card statuses that count as a live card.
const LIVE: [&str; 3] = ["made", "issued", "active"];

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The last lines of a log file.
fn tail(path: &Path) -> String {
    let log = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// The lines a child writes to `out`, copied to `log` by a thread and handed over as they
/// come; the channel closes when the child closes its end.
fn lines(out: impl Read + Send + 'static, log: &Path) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let mut file = std::fs::File::create(log).expect("log file");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits for the child's first line containing `marker`; a child that ends first, or none in a
/// minute, fails the test with `log`.
fn wait_for(rx: &mpsc::Receiver<String>, marker: &str, log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains(marker) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {marker:?} ({e}); {}:\n{}", log.display(), tail(log)),
        }
    }
}

/// The mount namespace of a process.
fn mount_ns(pid: u32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap_or_else(|e| panic!("namespace of {pid}: {e}"))
}

/// Whether `pid` is a pcscd that has not ended (a zombie has).
fn pcscd_alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.contains("(pcscd)") && !stat.contains(") Z ")
}

/// Base ports for `n` counters' vpcd (each uses base .. base + 3: contact, SAM, contactless),
/// free on all interfaces (vpcd listens there), below the ephemeral range that the other
/// servers' port-0 binds draw from, and apart from the one-pcscd tests' default 35963.
fn vpcd_ports(n: usize) -> Vec<u16> {
    let free = |p: u16| std::net::TcpListener::bind(("0.0.0.0", p)).is_ok();
    (0u16..400).map(|k| 29_000 + 8 * k).filter(|base| (*base..*base + 4).all(free)).take(n).collect()
}

/// The provincial archive: a private PostgreSQL cluster and `station provincial serve` on it.
struct Province {
    _service: Proc,
    cluster: provincial::cluster::Cluster,
    pki: provincial::pki::PkiPaths,
    url: String,
    dir: tempfile::TempDir,
    _pg: tempfile::TempDir,
}

/// What the stations' runs leave in PostgreSQL's log (see `Cluster::log_lines_naming_persons`)
/// and in the service's own names nobody (RULE 9); checked as the province stops, unless the
/// test failed.
impl Drop for Province {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let named = self.cluster.log_lines_naming_persons();
            assert!(named.is_empty(), "ID numbers in PostgreSQL's log:\n{}", named.join("\n"));
            assert_names_nobody(&self.dir.path().join("province.log"));
        }
    }
}

/// The lines of the log at `path` that hold an ID number, masked, fail the test.
fn assert_names_nobody(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let named: Vec<String> = text.lines().filter_map(::applicant::mask_ids_in).collect();
    assert!(named.is_empty(), "ID numbers in {}:\n{}", path.display(), named.join("\n"));
}

impl Province {
    fn start() -> Province {
        let dir = tempfile::tempdir().expect("tmp");
        // Its own directory: the cluster chowns it to `postgres`, who must reach it.
        let pg = tempfile::tempdir().expect("tmp");
        let cluster = provincial::cluster::Cluster::start(
            pg.path(),
            free_port(),
            provincial::cluster::Durability::TestsOnly,
        )
        .expect("PostgreSQL starts (scripts/install-deps)");
        let pki = dir.path().join("pki");
        let out = Command::new(STATION)
            .args(["provincial", "certs", "--out"])
            .arg(&pki)
            .args(STATIONS.iter().chain(&[CENTRE]).flat_map(|s| ["--station", s]))
            .output()
            .expect("station provincial certs");
        assert!(out.status.success(), "{}", text(&out));
        let port = free_port();
        let mut child = Command::new(STATION)
            .args(["provincial", "serve", "--pki"])
            .arg(&pki)
            .arg("--database")
            .arg(cluster.url())
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("station provincial serve");
        let log = dir.path().join("province.log");
        let output = lines(child.stderr.take().expect("stderr"), &log);
        let service = Proc(child);
        wait_for(&output, "provincial archive on https://", &log);
        let pki = provincial::pki::PkiPaths { dir: pki };
        Province { _service: service, cluster, pki, url: format!("https://127.0.0.1:{port}"), dir, _pg: pg }
    }

    /// Rows of a query, straight from PostgreSQL.
    fn query(&self, sql: &str) -> Vec<Vec<String>> {
        let psql = provincial::cluster::bin_dir().expect("PostgreSQL").join("psql");
        let out = Command::new(psql)
            .args(["-X", "-q", "-tA", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.cluster.url())
            .args(["-c", sql])
            .output()
            .expect("psql");
        assert!(out.status.success(), "psql {sql}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.split('\t').map(String::from).collect())
            .collect()
    }

    /// Every card at the province.
    fn cards(&self) -> Vec<Card> {
        self.query("SELECT card_number, ssn, status, station FROM cards ORDER BY card_number")
            .into_iter()
            .map(|r| Card {
                number: r[0].clone(),
                ssn: r[1].clone(),
                status: r[2].clone(),
                station: r[3].clone(),
            })
            .collect()
    }
}

/// A card as an archive holds it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Card {
    number: String,
    ssn: String,
    status: String,
    station: String,
}

impl Card {
    fn live(&self) -> bool {
        LIVE.contains(&self.status.as_str())
    }

    /// What a station's archive and the province agree on: the card, its holder, its station,
    /// and whether it is live (an instant card handed over at the counter is `issued` in the
    /// station's archive and still `made` at the province).
    fn agreed(&self) -> (&str, &str, &str, bool) {
        (&self.number, &self.ssn, &self.station, self.live())
    }
}

/// One counter: `station sim counter` in a private mount namespace, and `station serve
/// --config` in the same namespace. Dropping it stops the daemon, then the devices (which stop
/// their pcscd), then kills a pcscd still there by PID.
struct Station {
    id: &'static str,
    api: String,
    serve: Option<Proc>,
    devices: Option<Proc>,
    pcscd: u32,
    dir: tempfile::TempDir,
}

impl Drop for Station {
    fn drop(&mut self) {
        self.stop();
        if !std::thread::panicking() {
            assert_names_nobody(&self.path("serve.log"));
        }
        if pcscd_alive(self.pcscd) {
            let _ = Command::new("kill").args(["-KILL", &self.pcscd.to_string()]).status();
        }
    }
}

impl Station {
    /// A counter on vpcd ports `vpcd_port` .. + 3 whose police register knows `people` (indexes
    /// into `everyone`, whose photos are in `photos`).
    fn start(
        id: &'static str,
        vpcd_port: u16,
        everyone: &[serde_json::Value],
        people: &[usize],
        photos: &Path,
        province: &Province,
    ) -> Station {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(dir.path().join("photos")).expect("photos");
        let mut roster = Vec::new();
        for &p in people {
            let photo = everyone[p]["photo"].as_str().expect("photo");
            std::fs::copy(photos.join(photo), dir.path().join(photo)).expect("photo copy");
            let holder = &everyone[p]["holder"];
            roster.push(serde_json::json!({"id_number": holder["id_number"], "name": holder["name"]}));
        }
        std::fs::write(dir.path().join("roster.json"), serde_json::to_string(&roster).expect("json"))
            .expect("roster");
        let profile = repo("firmware-profiles/ssc-3g-sim.toml");
        let mut child = Command::new(repo("scripts/private-pcscd"))
            .arg(STATION)
            .args(["sim", "counter", "--vpcd-port", &vpcd_port.to_string(), "--timing-scale", "0"])
            .arg("--printed")
            .arg(dir.path().join("printed"))
            .arg("--roster")
            .arg(dir.path().join("roster.json"))
            .arg("--profile")
            .arg(&profile)
            .arg("--psam-profile")
            .arg(repo("firmware-profiles/psam-sim.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("devices.log")).expect("log"))
            .spawn()
            .expect("scripts/private-pcscd station sim counter");
        let devices_out = dir.path().join("devices.out");
        let output = lines(child.stdout.take().expect("stdout"), &devices_out);
        let devices = Proc(child);
        let line = wait_for(&output, "card_reader", &dir.path().join("devices.log"));
        let info: serde_json::Value = serde_json::from_str(&line).expect("device JSON");
        let pcscd = u32::try_from(info["pcscd_pid"].as_u64().expect("pcscd pid")).expect("pid");
        let mut station = Station { id, api: String::new(), serve: None, devices: Some(devices), pcscd, dir };
        let api_port = free_port();
        let dir = station.dir.path();
        let provincial = format!(
            r#"{{ kind = "service", url = "{}", ca = "{}", identity = "{}" }}"#,
            province.url,
            province.pki.ca().display(),
            province.pki.station(id).display()
        );
        let config = station_toml(id, api_port, dir, PASSWORD, &info, &profile, &provincial, "");
        std::fs::write(dir.join("station.toml"), config).expect("config");
        let devices_pid = station.devices.as_ref().expect("devices").0.id();
        let mut child = Command::new("nsenter")
            .args(["--target", &devices_pid.to_string(), "--mount", "--"])
            .arg(STATION)
            .args(["serve", "--config"])
            .arg(dir.join("station.toml"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("serve.log")).expect("log"))
            .spawn()
            .expect("nsenter station serve");
        let output = lines(child.stdout.take().expect("stdout"), &dir.join("serve.out"));
        station.serve = Some(Proc(child));
        wait_for(&output, "serving on http://", &dir.join("serve.log"));
        station.api = format!("http://127.0.0.1:{api_port}");
        station
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Stops the daemon, then the devices (their pcscd with them).
    fn stop(&mut self) {
        drop(self.serve.take());
        drop(self.devices.take());
    }

    /// Runs a `station` command against this station as `who`.
    fn command(&self, who: &str, args: &[&str]) -> std::process::Output {
        Command::new(STATION)
            .args(args)
            .env("STATION_API", &self.api)
            .env("STATION_OPERATOR", who)
            .env("STATION_PASSWORD", PASSWORD)
            .env("STATION_CONFIG", self.path("station.toml"))
            .current_dir(self.dir.path())
            .output()
            .expect("station")
    }

    /// The cards of the station's own archive.
    fn local_cards(&self) -> Vec<Card> {
        let local = common::station_db::open(self.dir.path(), "reader");
        let mut cards: Vec<Card> = local
            .cards(None)
            .expect("cards")
            .into_iter()
            .map(|c| Card {
                number: c.card_number,
                ssn: c.ssn,
                status: c.status.as_str().to_string(),
                station: self.id.to_string(),
            })
            .collect();
        cards.sort();
        cards
    }

    fn logs(&self) -> String {
        format!("{} serve.log:\n{}", self.id, tail(&self.path("serve.log")))
    }
}

fn login(api: &str) -> (reqwest::blocking::Client, String) {
    let http = reqwest::blocking::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
    let r: serde_json::Value = http
        .post(format!("{api}/api/session"))
        .json(&serde_json::json!({"operator": "op", "password": PASSWORD, "bearer": true}))
        .send()
        .expect("login")
        .json()
        .expect("json");
    (http, r["token"].as_str().expect("token").to_string())
}

/// A job's end, from a station's event stream.
#[derive(Debug, Clone)]
struct End {
    station: usize,
    request: u64,
    job: Option<i64>,
    status: String,
    detail: String,
}

/// Follows station `k`'s event stream (subscribed when this returns) and sends each job's end.
fn follow(k: usize, api: &str, token: &str, ends: mpsc::Sender<End>) {
    let http = reqwest::blocking::Client::builder().timeout(None).build().expect("client");
    let stream = http.get(format!("{api}/api/events")).bearer_auth(token).send().expect("event stream");
    assert!(stream.status().is_success(), "event stream: {}", stream.status());
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            let Some(data) = line.strip_prefix("data:") else { continue };
            let Ok(event) = serde_json::from_str::<serde_json::Value>(data.trim()) else { continue };
            if event["event"] != "finished" {
                continue;
            }
            let Some(request) = event["request_id"].as_u64() else { continue };
            let end = End {
                station: k,
                request,
                job: event["job"].as_i64(),
                status: event["status"].as_str().unwrap_or_default().to_string(),
                detail: event["detail"].as_str().unwrap_or_default().to_string(),
            };
            if ends.send(end).is_err() {
                break;
            }
        }
    });
}

/// Posts one job; the station's request number.
fn post(
    http: &reqwest::blocking::Client,
    api: &str,
    token: &str,
    applicant: &serde_json::Value,
) -> Result<u64, String> {
    let r = http
        .post(format!("{api}/api/jobs"))
        .bearer_auth(token)
        // The people are not at these counters: each card goes to its station's stock.
        .json(&serde_json::json!({"applicant": applicant, "collection": "later"}))
        .send()
        .map_err(|e| e.to_string())?;
    if r.status() != 202 {
        return Err(format!("{}: {}", r.status(), r.text().unwrap_or_default()));
    }
    r.json::<serde_json::Value>().map_err(|e| e.to_string())?["request_id"]
        .as_u64()
        .ok_or_else(|| "no request id".to_string())
}

/// What each station is sent, slot by slot: in one slot every station gets its job at the same
/// moment. The first `PEOPLE - TWICE` people go to one station each; the others, two per slot,
/// to two stations each (the slot pairs all four: 1+2 and 3+4, 1+3 and 2+4, 1+4 and 2+3, in
/// turn), every other slot from the first.
fn plan() -> Vec<[Option<usize>; 4]> {
    const PAIRINGS: [[(usize, usize); 2]; 3] = [[(0, 1), (2, 3)], [(0, 2), (1, 3)], [(0, 3), (1, 2)]];
    let once = PEOPLE - TWICE;
    let (mut single, mut double) = (0, 0);
    let mut slots = Vec::new();
    while single < once || double < TWICE / 2 {
        let mut slot = [None; 4];
        if double < TWICE / 2 && (slots.len() % 2 == 0 || single >= once) {
            for (pair, &(a, b)) in PAIRINGS[double % 3].iter().enumerate() {
                let person = once + 2 * double + pair;
                slot[a] = Some(person);
                slot[b] = Some(person);
            }
            double += 1;
        } else {
            for s in slot.iter_mut().take(once - single) {
                *s = Some(single);
                single += 1;
            }
        }
        slots.push(slot);
    }
    slots
}

/// What can break when stations share a province, the most telling first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Broken {
    OthersAnswer,
    UnknownCard,
    NotOneIssued,
    BadEnd,
    NotOneAtProvince,
    ForNobody,
    LocalNotAtProvince,
    ProvinceNotLocal,
    IssuedNotLocal,
    NumberTwice,
    Reconcile,
    Ledger,
    JobNumbers,
}

impl Broken {
    fn what(self) -> &'static str {
        match self {
            Broken::OthersAnswer => {
                "cards a station issued that the province records for another person or station (the \
                 station was given the stored answer of another station's request: the province must \
                 keep each station's request ids apart, RULE 10)"
            }
            Broken::UnknownCard => "cards a station issued that the province does not know",
            Broken::NotOneIssued => "people not issued exactly one card by the stations they were sent to",
            Broken::BadEnd => {
                "jobs that ended otherwise than issued, or refused (a person sent twice) as claimed by \
                 the station that made the card or as holding that card"
            }
            Broken::NotOneAtProvince => "people without exactly one card, live, at the province (RULE 1)",
            Broken::ForNobody => "cards at the province for nobody sent",
            Broken::LocalNotAtProvince => {
                "cards of a station's archive the province does not record so for it"
            }
            Broken::ProvinceNotLocal => "cards the province records for a station that its archive lacks",
            Broken::IssuedNotLocal => "issued cards missing from their station's archive",
            Broken::NumberTwice => "card numbers in more than one station's archive",
            Broken::Reconcile => "stations whose reconciliation (ledger = local = province) fails",
            Broken::Ledger => "stations whose ledger does not verify",
            Broken::JobNumbers => {
                "stations whose jobs are not numbered 1..n (the test needs them to coincide)"
            }
        }
    }
}

/// Violations found, by kind, for one message that says what went wrong where.
#[derive(Default)]
struct Findings(BTreeMap<Broken, Vec<String>>);

impl Findings {
    fn add(&mut self, kind: Broken, what: String) {
        self.0.entry(kind).or_default().push(what);
    }

    fn report(&self) -> String {
        let mut out = String::new();
        for (kind, items) in &self.0 {
            out += &format!("\n- {}: {} case(s), e.g.\n", kind.what(), items.len());
            for item in items.iter().take(6) {
                out += &format!("    {item}\n");
            }
        }
        out
    }
}

#[test]
fn four_stations_share_one_province_and_each_person_gets_one_card() {
    let started = Instant::now();
    let province = Province::start();
    let people_dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(people_dir.path().join("photos")).expect("photos");
    let everyone: Vec<serde_json::Value> = (0..PEOPLE).map(|i| applicant(people_dir.path(), i)).collect();
    let ssn = |p: usize| everyone[p]["holder"]["id_number"].as_str().expect("ssn").to_string();
    let slots = plan();
    let sent_to = |k: usize| -> Vec<usize> { slots.iter().filter_map(|s| s[k]).collect() };

    let ports = vpcd_ports(STATIONS.len());
    assert_eq!(ports.len(), STATIONS.len(), "free vpcd ports");
    let stations: Vec<Station> = STATIONS
        .iter()
        .enumerate()
        .map(|(k, id)| Station::start(id, ports[k], &everyone, &sent_to(k), people_dir.path(), &province))
        .collect();
    eprintln!("province and {} stations up after {:.1} s", stations.len(), started.elapsed().as_secs_f64());

    // Each counter has its own pcscd in its own mount namespace, shared by its daemon only.
    let own = mount_ns(std::process::id());
    let mut namespaces = BTreeSet::new();
    for s in &stations {
        let devices = mount_ns(s.devices.as_ref().expect("devices").0.id());
        let serve = mount_ns(s.serve.as_ref().expect("serve").0.id());
        let pcscd = mount_ns(s.pcscd);
        assert!(
            devices != own && serve == devices && pcscd == devices,
            "{}: mount namespaces of the devices {devices:?}, the daemon {serve:?}, pcscd {pcscd:?}, this test {own:?}",
            s.id
        );
        namespaces.insert(devices);
    }
    assert_eq!(namespaces.len(), STATIONS.len(), "one mount namespace per counter");

    // All stations at once; each slot's jobs are posted at the same moment, so a person sent to
    // two stations reaches both together.
    let (ends_tx, ends_rx) = mpsc::channel();
    let sessions: Vec<(reqwest::blocking::Client, String)> = stations.iter().map(|s| login(&s.api)).collect();
    for (k, s) in stations.iter().enumerate() {
        follow(k, &s.api, &sessions[k].1, ends_tx.clone());
    }
    let barrier = Arc::new(Barrier::new(STATIONS.len()));
    let posters: Vec<_> = stations
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let jobs: Vec<Option<(usize, serde_json::Value)>> =
                slots.iter().map(|slot| slot[k].map(|p| (p, everyone[p].clone()))).collect();
            let (api, (http, token), barrier) = (s.api.clone(), sessions[k].clone(), barrier.clone());
            std::thread::spawn(move || {
                // Every thread passes every barrier, whatever its posts answer.
                let mut posted = Vec::new();
                for job in jobs {
                    barrier.wait();
                    if let Some((p, applicant)) = job {
                        posted.push((p, post(&http, &api, &token, &applicant)));
                    }
                }
                posted
            })
        })
        .collect();
    let mut requests: BTreeMap<(usize, u64), usize> = BTreeMap::new();
    for (k, poster) in posters.into_iter().enumerate() {
        for (p, request) in poster.join().expect("poster") {
            let request =
                request.unwrap_or_else(|e| panic!("{} refused the job of person {p}: {e}", STATIONS[k]));
            requests.insert((k, request), p);
        }
    }
    assert_eq!(requests.len(), PEOPLE + TWICE, "jobs posted");

    // Until every job has ended.
    let deadline = Instant::now() + JOBS_DEADLINE;
    let mut ends: BTreeMap<(usize, u64), End> = BTreeMap::new();
    while ends.len() < requests.len() {
        match ends_rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(end) if requests.contains_key(&(end.station, end.request)) => {
                ends.insert((end.station, end.request), end);
            }
            Ok(_) => {}
            Err(e) => {
                let open: Vec<String> = requests
                    .iter()
                    .filter(|(key, _)| !ends.contains_key(key))
                    .map(|((k, r), p)| format!("{} request {r} (person {p})", STATIONS[*k]))
                    .collect();
                let mut logs: Vec<String> = stations.iter().map(Station::logs).collect();
                logs.push(format!("province.log:\n{}", tail(&province.dir.path().join("province.log"))));
                panic!(
                    "{} of {} jobs did not end within {JOBS_DEADLINE:?} ({e}): {:?}\n{}",
                    open.len(),
                    requests.len(),
                    &open[..open.len().min(10)],
                    logs.join("\n")
                );
            }
        }
    }
    let count = |status: &str, word: &str| {
        ends.values().filter(|e| e.status == status && e.detail.contains(word)).count()
    };
    eprintln!(
        "{} jobs ended after {:.1} s: {} issued, {} refused as claimed at another station, {} as holding a live card",
        ends.len(),
        started.elapsed().as_secs_f64(),
        count("stocked", ""),
        count("refused", "claimed by station"),
        count("refused", "live card"),
    );

    let mut findings = Findings::default();
    // Job numbers coincide: every station numbers its jobs 1, 2, 3, ... (what makes this a
    // test of the province keeping stations' requests apart).
    for (k, id) in STATIONS.iter().enumerate() {
        let jobs: BTreeSet<i64> = ends.values().filter(|e| e.station == k).filter_map(|e| e.job).collect();
        let expected: BTreeSet<i64> = (1..=sent_to(k).len() as i64).collect();
        if jobs != expected {
            findings.add(Broken::JobNumbers, format!("{id}: {jobs:?}"));
        }
    }

    // Each person: exactly one station issued a card; a second station refused them cleanly.
    let province_cards = province.cards();
    let at_province: BTreeMap<&str, &Card> = province_cards.iter().map(|c| (c.number.as_str(), c)).collect();
    let mut issuer: BTreeMap<usize, (usize, String)> = BTreeMap::new();
    for p in 0..PEOPLE {
        let outcomes: Vec<&End> =
            requests.iter().filter(|(_, person)| **person == p).map(|(key, _)| &ends[key]).collect();
        let issued: Vec<&&End> = outcomes.iter().filter(|e| e.status == "stocked").collect();
        match issued.as_slice() {
            [one] => {
                issuer.insert(p, (one.station, one.detail.clone()));
            }
            _ => findings.add(
                Broken::NotOneIssued,
                format!(
                    "person {p} sent to {:?}: issued by {:?}",
                    outcomes.iter().map(|e| STATIONS[e.station]).collect::<Vec<_>>(),
                    issued.iter().map(|e| (STATIONS[e.station], e.detail.as_str())).collect::<Vec<_>>()
                ),
            ),
        }
        for e in &outcomes {
            let at = format!("{} job {} (person {p})", STATIONS[e.station], e.job.unwrap_or_default());
            // The other station, for a person sent twice: the one that made the card.
            let made_elsewhere = issuer.get(&p).filter(|(k, _)| *k != e.station);
            match e.status.as_str() {
                "stocked" => match at_province.get(e.detail.as_str()) {
                    // The card the station made is this person's at the province, and its own.
                    Some(c) if c.ssn == ssn(p) && c.station == STATIONS[e.station] => {}
                    Some(c) => findings.add(
                        Broken::OthersAnswer,
                        format!(
                            "{at} issued {}; the province holds it for {} at {}",
                            e.detail,
                            if c.ssn == ssn(p) { "this person" } else { "another person" },
                            c.station
                        ),
                    ),
                    None => findings.add(Broken::UnknownCard, format!("{at} issued {:?}", e.detail)),
                },
                "refused"
                    if made_elsewhere.is_some_and(|(k, card)| {
                        e.detail.contains(&format!("claimed by station {} ", STATIONS[*k]))
                            || e.detail.contains(&format!("live card {card}"))
                    }) => {}
                _ => findings.add(Broken::BadEnd, format!("{at}: {} {}", e.status, e.detail)),
            }
        }
    }

    // The province: each of the 200 people holds exactly one card, live; no other cards.
    let people: BTreeMap<String, usize> = (0..PEOPLE).map(|p| (ssn(p), p)).collect();
    let mut cards_of: BTreeMap<usize, Vec<&Card>> = BTreeMap::new();
    for c in &province_cards {
        match people.get(&c.ssn) {
            Some(p) => cards_of.entry(*p).or_default().push(c),
            None => findings.add(Broken::ForNobody, format!("{c:?}")),
        }
    }
    for p in 0..PEOPLE {
        let cards = cards_of.get(&p).map(Vec::as_slice).unwrap_or_default();
        let live = cards.iter().filter(|c| c.live()).count();
        if cards.len() != 1 || live != 1 {
            findings.add(Broken::NotOneAtProvince, format!("person {p}: {cards:?}"));
        }
    }

    // Every card number is in exactly one station's archive, and that station's archive =
    // the province's records for it.
    let mut holders: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for s in &stations {
        let local = s.local_cards();
        for c in &local {
            holders.entry(c.number.clone()).or_default().push(s.id);
        }
        let theirs: Vec<&Card> = province_cards.iter().filter(|c| c.station == s.id).collect();
        for c in local.iter().filter(|c| !theirs.iter().any(|t| t.agreed() == c.agreed())) {
            findings.add(
                Broken::LocalNotAtProvince,
                format!("{c:?}; at the province: {:?}", at_province.get(c.number.as_str())),
            );
        }
        for c in theirs.iter().filter(|c| !local.iter().any(|l| l.agreed() == c.agreed())) {
            findings.add(Broken::ProvinceNotLocal, format!("{c:?}"));
        }
        for (p, (k, card)) in &issuer {
            if STATIONS[*k] == s.id && !local.iter().any(|c| &c.number == card && c.ssn == ssn(*p)) {
                findings.add(Broken::IssuedNotLocal, format!("{} card {card} (person {p})", s.id));
            }
        }
    }
    for (number, at) in holders.iter().filter(|(_, at)| at.len() > 1) {
        findings.add(Broken::NumberTwice, format!("{number}: {at:?}"));
    }

    // Each station: ledger = local archive = province (reconcile), and the ledger chain holds.
    for s in &stations {
        let out = s.command("aud", &["reconcile", "--config", &s.path("station.toml").display().to_string()]);
        if !out.status.success() {
            let mismatches: Vec<&str> = std::str::from_utf8(&out.stdout)
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.is_empty())
                .take(4)
                .collect();
            findings.add(
                Broken::Reconcile,
                format!("{}: {mismatches:?} {}", s.id, String::from_utf8_lossy(&out.stderr).trim()),
            );
        }
        let out = s.command("aud", &["ledger", "--verify"]);
        if !(out.status.success() && text(&out).contains("intact")) {
            findings.add(Broken::Ledger, format!("{}: {}", s.id, text(&out)));
        }
    }
    assert!(
        findings.0.is_empty(),
        "{} stations sharing one province broke its rules ({} jobs, {} people, {} sent twice):{}",
        STATIONS.len(),
        requests.len(),
        PEOPLE,
        TWICE,
        findings.report()
    );

    cards_made_elsewhere_go_each_to_the_station_they_were_delivered_to(&province, &stations[..2]);

    // No pcscd outlives its counter.
    let mut stations = stations;
    let pcscds: Vec<u32> = stations.iter().map(|s| s.pcscd).collect();
    for s in &mut stations {
        s.stop();
    }
    let left: Vec<u32> = pcscds.into_iter().filter(|pid| pcscd_alive(*pid)).collect();
    assert!(left.is_empty(), "pcscd still running after its counter stopped: {left:?}");
    eprintln!("done after {:.1} s", started.elapsed().as_secs_f64());
}

/// Every file under `dir`, at any depth (sockets and the like skipped).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let (path, kind) = (entry.path(), entry.file_type().expect("file type"));
        if kind.is_dir() {
            out.extend(files_under(&path));
        } else if kind.is_file() {
            out.push(path);
        }
    }
    out
}

/// The card-making centre makes cards and delivers them alternately to `two` stations; both
/// take in one list of all of them (`station stock receive`, through their daemons) at the same
/// moment. Each takes in exactly the cards delivered to it and refuses the others', naming the
/// station they are for (or that has them already); the province answers each card to its station, taken in once; each
/// station's ledger, archive and the province still agree (`station reconcile`).
fn cards_made_elsewhere_go_each_to_the_station_they_were_delivered_to(province: &Province, two: &[Station]) {
    let centre = provincial::Client::new(
        &province.url,
        &province.pki.ca(),
        &province.pki.station(CENTRE),
        Duration::from_secs(30),
    )
    .expect("the centre's client");
    let mut list = String::from("社会保障卡号,身份证号,姓名,卡识别码,批次号,箱号,位置\n");
    let mut delivered: BTreeMap<String, &str> = BTreeMap::new();
    let mut holders = Vec::new();
    for i in 0..DELIVERED {
        let holder = archive::conformance::fresh_ssn();
        holders.push(holder.clone());
        let claim = archive::ProvincialArchive::claim(
            &centre,
            &archive::ClaimRequest {
                request_id: format!("centre-claim-{i}"),
                ssn: holder.clone(),
                name: format!("中心{i}"),
                reissue_of: None,
                lease_seconds: 600,
            },
        )
        .expect("the centre claims");
        let card_id = format!("110100D1560000050{i}");
        archive::ProvincialArchive::commit(
            &centre,
            &archive::CommitRequest {
                request_id: format!("centre-commit-{i}"),
                claim_id: claim.claim_id,
                card_id: card_id.clone(),
                atr: "3B00".into(),
            },
        )
        .expect("the centre commits");
        let to = two[i % two.len()].id;
        archive::ProvincialArchive::deliver_card(
            &centre,
            &archive::DeliverRequest {
                request_id: format!("centre-deliver-{i}"),
                card_number: claim.card_number.clone(),
                to_station: to.into(),
            },
        )
        .expect("delivered");
        list.push_str(&format!("{},{holder},中心{i},{card_id},P2026-12,1,{}\n", claim.card_number, i + 1));
        delivered.insert(claim.card_number, to);
    }
    for s in two {
        std::fs::write(s.path("delivery.csv"), &list).expect("list");
    }
    let start = Barrier::new(two.len());
    let outs: Vec<std::process::Output> = std::thread::scope(|scope| {
        let running: Vec<_> = two
            .iter()
            .map(|s| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    s.command("sup", &["stock", "receive", "delivery.csv"])
                })
            })
            .collect();
        running.into_iter().map(|r| r.join().expect("stock receive")).collect()
    });
    let each = DELIVERED / two.len();
    for (s, out) in two.iter().zip(&outs) {
        let said = text(out);
        assert!(said.contains(&format!("{each} cards taken in, {each} rows refused")), "{}: {said}", s.id);
        // The other station's cards, as it is for them or, once it has them, as in its stock.
        for other in two.iter().filter(|o| o.id != s.id) {
            let refused = said
                .lines()
                .filter(|l| l.starts_with("REFUSED"))
                .filter(|l| {
                    l.contains(&format!("it is for station {}", other.id))
                        || l.contains(&format!("already taken in by station {}", other.id))
                })
                .count();
            assert_eq!(refused, each, "{}: {said}", s.id);
        }
        let local = s.local_cards();
        for (card, to) in &delivered {
            let here = local.iter().find(|c| &c.number == card);
            assert_eq!(here.is_some(), *to == s.id, "{}: card {card} delivered to {to}: {here:?}", s.id);
        }
        let out = s.command("aud", &["reconcile", "--config", &s.path("station.toml").display().to_string()]);
        assert!(out.status.success(), "{}: reconcile after taking in: {}", s.id, text(&out));
        // The upload is read in memory: no file the station wrote (database, evidence, logs)
        // holds a holder's ID number in the clear; only the operator's own list does.
        for file in files_under(&s.path("")) {
            if file.file_name().is_some_and(|n| n == "delivery.csv") {
                continue;
            }
            let bytes = std::fs::read(&file).unwrap_or_default();
            for holder in &holders {
                let found = bytes.windows(holder.len()).any(|w| w == holder.as_bytes());
                assert!(!found, "{}: {} holds a holder's ID number in the clear", s.id, file.display());
            }
        }
    }
    let rows = province.query(&format!(
        "SELECT card_number, station, received_at IS NOT NULL FROM cards WHERE made_by = '{CENTRE}'"
    ));
    assert_eq!(rows.len(), DELIVERED, "{rows:?}");
    for r in &rows {
        assert_eq!((r[1].as_str(), r[2].as_str()), (delivered[&r[0]], "t"), "card {} at the province", r[0]);
    }
}
