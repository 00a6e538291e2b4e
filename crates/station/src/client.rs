//! `station issue` and the other commands that talk to a running `station serve` over its API,
//! and the progress of the jobs they follow ([`Progress`]).

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// A logged-in client of the daemon.
pub struct ApiClient {
    http: reqwest::blocking::Client,
    base: String,
    token: String,
}

impl ApiClient {
    /// Logs in as `operator`.
    pub fn login(base: &str, operator: &str, password: &str) -> Result<ApiClient> {
        let http = reqwest::blocking::Client::builder().connect_timeout(Duration::from_secs(5)).build()?;
        let base = base.trim_end_matches('/').to_string();
        let r = http
            .post(format!("{base}/api/session"))
            .json(&serde_json::json!({"operator": operator, "password": password, "bearer": true}))
            .timeout(Duration::from_secs(30))
            .send()
            .with_context(|| format!("no station at {base}: start it with `station serve`"))?;
        if !r.status().is_success() {
            bail!("login refused: {}", r.text().unwrap_or_default());
        }
        let v: serde_json::Value = r.json()?;
        let token = v["token"].as_str().context("no token in the answer")?.to_string();
        Ok(ApiClient { http, base, token })
    }

    /// GET a JSON document; an error answer becomes the station's own words.
    pub fn get(&self, path: &str) -> Result<serde_json::Value> {
        answer(self.fetch(path)?)
    }

    /// GET a text document (an HTML page); an error answer becomes the station's own words.
    pub fn get_text(&self, path: &str) -> Result<String> {
        Ok(succeeded(self.fetch(path)?)?.text()?)
    }

    /// The answer to a GET of `path` in this session.
    fn fetch(&self, path: &str) -> Result<reqwest::blocking::Response> {
        Ok(self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(60))
            .send()?)
    }

    /// POST a JSON body.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> Result<serde_json::Value> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .timeout(Duration::from_secs(60))
            .send()?;
        answer(r)
    }

    /// Starts an issuance and follows it to its end, its steps shown on `progress`; returns
    /// the final event. `collection` is where the card goes ([`Collection::body`]).
    pub fn issue(
        &self,
        applicant: serde_json::Value,
        reissue_of: Option<&str>,
        collection: &Collection,
        progress: &mut Progress<'_>,
    ) -> Result<serde_json::Value> {
        let mut ends =
            self.issue_all(&[(applicant, reissue_of.map(str::to_string))], collection, true, progress)?;
        ends.pop().context("the station ended no job")
    }

    /// Issues each applicant (with the card it replaces, if any) and follows the jobs to their
    /// ends; returns their final events in the list's order. Two requests are in the station
    /// at a time: while one card is on the devices the next one's desk steps (archives, claim,
    /// identity check) run, and no more are queued than that, so a client that dies leaves
    /// at most two jobs behind (each journalled, resumed or rolled back by the station).
    /// Every job's steps and end are shown on `progress`; every card goes where `collection`
    /// says. At an identity mismatch a job waits for the operator's correction when
    /// `corrections` (it ends `correcting`, with the register's hints); otherwise (a batch,
    /// nobody at the counter to correct it) the application ends with them.
    pub fn issue_all(
        &self,
        jobs: &[(serde_json::Value, Option<String>)],
        collection: &Collection,
        corrections: bool,
        progress: &mut Progress<'_>,
    ) -> Result<Vec<serde_json::Value>> {
        const IN_FLIGHT: usize = 2;
        // Subscribe first so no step is missed.
        let stream = self
            .http
            .get(format!("{}/api/events", self.base))
            .bearer_auth(&self.token)
            .send()
            .context("opening the event stream")?;
        let mut lines = BufReader::new(stream).lines();
        // None: the station refused the form (422): that applicant's end is already known.
        let mut requests: Vec<Option<u64>> = Vec::with_capacity(jobs.len());
        let mut ends: Vec<Option<serde_json::Value>> = vec![None; jobs.len()];
        let mut ended = 0usize;
        progress.start(jobs.len())?;
        while ended < jobs.len() {
            while requests.len() < jobs.len() && requests.len() - ended < IN_FLIGHT {
                let (applicant, reissue_of) = &jobs[requests.len()];
                match self.post_job(applicant, reissue_of.as_deref(), collection, corrections)? {
                    Posted::Accepted(id) => requests.push(Some(id)),
                    Posted::Invalid(why) => {
                        let end = serde_json::json!({
                            "event": "finished", "request_id": null, "job": null,
                            "status": "refused", "detail": format!("the form: {why}"),
                        });
                        progress.finished(requests.len(), &end)?;
                        ends[requests.len()] = Some(end);
                        requests.push(None);
                        ended += 1;
                    }
                }
            }
            if ended == jobs.len() {
                break;
            }
            let line = lines
                .next()
                .context("the event stream ended before the jobs did")?
                .context("the event stream broke: the jobs go on; see `station serve` logs")?;
            let Some(data) = line.strip_prefix("data:") else { continue };
            let event: serde_json::Value = serde_json::from_str(data.trim())?;
            let Some(i) = requests.iter().position(|r| r.is_some() && event["request_id"].as_u64() == *r)
            else {
                continue;
            };
            match event["event"].as_str() {
                Some("finished") => {
                    progress.finished(i, &event)?;
                    ends[i] = Some(event);
                    ended += 1;
                }
                Some("step") => {
                    let phase = if event["phase"] == "done" { Phase::Done } else { Phase::Begin };
                    progress.step(i, event["step"].as_str().unwrap_or(""), phase)?;
                }
                _ => {}
            }
        }
        progress.end();
        Ok(ends.into_iter().flatten().collect())
    }

    /// Hands one job to the station: its request number, or why the form was refused.
    fn post_job(
        &self,
        applicant: &serde_json::Value,
        reissue_of: Option<&str>,
        collection: &Collection,
        corrections: bool,
    ) -> Result<Posted> {
        let mut body = collection.body();
        body["applicant"] = applicant.clone();
        body["reissue_of"] = reissue_of.into();
        body["on_mismatch"] = if corrections { "wait" } else { "end" }.into();
        let r = self
            .http
            .post(format!("{}/api/jobs", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .timeout(Duration::from_secs(30))
            .send()?;
        if r.status().as_u16() == 422 {
            let verdict: serde_json::Value = r.json().unwrap_or_default();
            let errors = daemon::form_problems(&verdict);
            return Ok(Posted::Invalid(errors.join("; ")));
        }
        if r.status().as_u16() != 202 {
            bail!("the station refused the job: {}", r.text().unwrap_or_default());
        }
        Ok(Posted::Accepted(r.json::<serde_json::Value>()?["request_id"].as_u64().context("no request id")?))
    }
}

/// Whether the holders take their cards at the counter, or later from stock (with the storage
/// place and keeper over the station's `[counter.stock]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    /// The cards go to stock.
    pub later: bool,
    /// The storage place, over the station's.
    pub place: Option<String>,
    /// The person responsible, over the station's.
    pub keeper: Option<String>,
    /// The agent site the application is taken for (its id in `[[sites]]`): collected there.
    pub site: Option<String>,
}

impl Collection {
    /// The fields of `POST /api/jobs` that say it.
    pub fn body(&self) -> serde_json::Value {
        if let Some(site) = &self.site {
            return serde_json::json!({"collection": "later", "site": site, "storage_place": self.place,
                "keeper": self.keeper});
        }
        if !self.later {
            return serde_json::json!({"collection": "at-counter"});
        }
        serde_json::json!({"collection": "later", "storage_place": self.place, "keeper": self.keeper})
    }
}

/// What the station did with a job request.
enum Posted {
    /// Queued under this request number.
    Accepted(u64),
    /// The form is not an applicant the steps would take: the field errors.
    Invalid(String),
}

fn answer(r: reqwest::blocking::Response) -> Result<serde_json::Value> {
    Ok(succeeded(r)?.json().unwrap_or_default())
}

/// The answer when it is a success; otherwise the station's own words as the error.
fn succeeded(r: reqwest::blocking::Response) -> Result<reqwest::blocking::Response> {
    let status = r.status();
    if !status.is_success() {
        let v: serde_json::Value = r.json().unwrap_or_default();
        bail!("{}: {}", status, v["error"].as_str().unwrap_or("no reason given"));
    }
    Ok(r)
}

/// Where a step of a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Begin,
    Done,
}

/// The progress of the jobs `station issue` and `station batch` follow. On a terminal, live
/// bars (indicatif): one per card on the devices or at the desk, and the whole batch's.
/// Anywhere else (a pipe, a file, journald) one plain line per event, with no carriage return
/// and no escape sequence:
///
/// ```text
/// card 1/2: step 6/13 feed-card begin
/// card 1/2: step 6/13 feed-card done
/// card 1/2: issued card B00000019
/// ```
///
/// A single `station issue` says `issue:` where a batch says `card N/M:`. Other lines of the
/// command (`write!` on the progress) go between the bars, or out as they are.
pub struct Progress<'a> {
    draw: Draw<'a>,
    /// How many jobs there are.
    jobs: usize,
    /// Per job: the steps done so far.
    done: Vec<usize>,
}

enum Draw<'a> {
    Lines(Box<dyn Write + 'a>),
    Bars {
        multi: MultiProgress,
        /// The whole batch (cards ended of all); none for a single card.
        overall: Option<ProgressBar>,
        /// One per job, from its first step until its end.
        cards: Vec<Option<ProgressBar>>,
        /// A line written on the progress, until its newline.
        pending: Vec<u8>,
    },
}

impl<'a> Progress<'a> {
    /// Progress on stderr: bars if it is a terminal ([`crate::term::stderr_is_terminal`]),
    /// plain lines otherwise.
    pub fn stderr() -> Progress<'static> {
        if crate::term::stderr_is_terminal() {
            Progress::bars()
        } else {
            Progress::lines(std::io::stderr())
        }
    }

    /// One plain line per event on `out`.
    pub fn lines(out: impl Write + 'a) -> Progress<'a> {
        Progress { draw: Draw::Lines(Box::new(out)), jobs: 0, done: Vec::new() }
    }

    /// Live bars on stderr (indicatif draws nothing where stderr is not a terminal).
    fn bars() -> Progress<'static> {
        let draw =
            Draw::Bars { multi: MultiProgress::new(), overall: None, cards: Vec::new(), pending: Vec::new() };
        Progress { draw, jobs: 0, done: Vec::new() }
    }

    /// Who an event is about: `issue` for one card, `card N/M` in a batch.
    fn who(&self, job: usize) -> String {
        if self.jobs > 1 {
            format!("card {}/{}", job + 1, self.jobs)
        } else {
            "issue".to_string()
        }
    }

    /// `jobs` jobs are about to start.
    fn start(&mut self, jobs: usize) -> std::io::Result<()> {
        self.jobs = jobs;
        self.done = vec![0; jobs];
        if let Draw::Bars { multi, overall, cards, .. } = &mut self.draw {
            *cards = vec![None; jobs];
            if jobs > 1 {
                let bar = multi.add(ProgressBar::new(jobs as u64));
                bar.set_style(style("cards {pos}/{len} [{bar:26}] {elapsed}"));
                bar.tick();
                *overall = Some(bar);
            }
        }
        Ok(())
    }

    /// A step of job `job` begins or is done.
    fn step(&mut self, job: usize, step: &str, phase: Phase) -> std::io::Result<()> {
        let total = issuance::STEPS.len();
        let Some(done) = self.done.get_mut(job) else { return Ok(()) };
        // Where the step stands in the sequence; a step a job skips leaves no gap in the bar.
        let number = issuance::STEPS.iter().position(|s| s.name() == step).map(|n| n + 1);
        if phase == Phase::Done {
            *done = number.unwrap_or(*done + 1).max(*done).min(total);
        }
        let done = *done;
        let who = self.who(job);
        match &mut self.draw {
            Draw::Lines(out) => {
                let phase = match phase {
                    Phase::Begin => "begin",
                    Phase::Done => "done",
                };
                match number {
                    Some(n) => writeln!(out, "{who}: step {n}/{total} {step} {phase}"),
                    None => writeln!(out, "{who}: {step} {phase}"),
                }
            }
            Draw::Bars { multi, overall, cards, .. } => {
                let Some(slot) = cards.get_mut(job) else { return Ok(()) };
                let bar = slot.get_or_insert_with(|| {
                    let bar = ProgressBar::new(total as u64);
                    let bar = match overall {
                        Some(overall) => multi.insert_before(overall, bar),
                        None => multi.add(bar),
                    };
                    bar.set_style(style("{spinner} {prefix} [{bar:26}] {pos}/{len} {wide_msg}"));
                    bar.set_prefix(who);
                    bar.enable_steady_tick(Duration::from_millis(120));
                    bar
                });
                bar.set_position(done as u64);
                bar.set_message(step.to_string());
                Ok(())
            }
        }
    }

    /// Job `job` ended with the station's `finished` event (or the form's refusal).
    fn finished(&mut self, job: usize, end: &serde_json::Value) -> std::io::Result<()> {
        let who = self.who(job);
        // The detail is the card number of an issued card, else the reason.
        let line = match (end["status"].as_str().unwrap_or("ended"), end["detail"].as_str().unwrap_or("")) {
            (status, "") => format!("{who}: {status}"),
            ("issued", card) => format!("{who}: issued card {card}"),
            ("awaiting-handover", card) => format!("{who}: made card {card}, waiting at the hand-over"),
            ("stocked", card) => format!("{who}: made card {card}, in stock"),
            (status, why) => format!("{who}: {status}: {why}"),
        };
        match &mut self.draw {
            Draw::Lines(out) => writeln!(out, "{line}"),
            Draw::Bars { multi, overall, cards, .. } => {
                if let Some(bar) = cards.get_mut(job).and_then(Option::take) {
                    bar.finish_and_clear();
                    multi.remove(&bar);
                }
                if let Some(overall) = overall {
                    overall.inc(1);
                }
                multi.println(line)
            }
        }
    }

    /// Every job ended: the bars go, the lines stay.
    fn end(&mut self) {
        if let Draw::Bars { overall: Some(overall), .. } = &mut self.draw {
            overall.finish_and_clear();
        }
    }
}

/// A bar's look: no colour, so nothing but the cursor moves on the terminal.
fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("#>.")
}

impl Write for Progress<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.draw {
            Draw::Lines(out) => out.write(buf),
            Draw::Bars { multi, pending, .. } => {
                pending.extend_from_slice(buf);
                while let Some(n) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=n).collect();
                    multi.println(String::from_utf8_lossy(&line[..n]))?;
                }
                Ok(buf.len())
            }
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.draw {
            Draw::Lines(out) => out.flush(),
            Draw::Bars { multi, pending, .. } if !pending.is_empty() => {
                let line = String::from_utf8_lossy(pending).into_owned();
                pending.clear();
                multi.println(line)
            }
            Draw::Bars { .. } => Ok(()),
        }
    }
}

impl Drop for Progress<'_> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(jobs: usize, events: impl FnOnce(&mut Progress<'_>)) -> String {
        let mut out = Vec::new();
        {
            let mut p = Progress::lines(&mut out);
            p.start(jobs).expect("start");
            events(&mut p);
            p.end();
        }
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn off_a_terminal_every_event_is_one_plain_line() {
        let text = run(1, |p| {
            p.step(0, "accept", Phase::Begin).expect("step");
            p.step(0, "accept", Phase::Done).expect("step");
            p.step(0, "feed-card", Phase::Begin).expect("step");
            let end = serde_json::json!({"status": "issued", "detail": "B00000019"});
            p.finished(0, &end).expect("end");
        });
        assert_eq!(
            text,
            "issue: step 1/13 accept begin\nissue: step 1/13 accept done\nissue: step 6/13 feed-card begin\n\
             issue: issued card B00000019\n"
        );
        assert!(!text.contains('\r') && !text.contains('\x1b'), "{text:?}");
    }

    #[test]
    fn a_batch_names_each_card_and_what_stopped_it() {
        let text = run(2, |p| {
            writeln!(p, "2 applicants").expect("line");
            p.step(1, "archive-check", Phase::Done).expect("step");
            p.step(0, "a-step-of-a-newer-station", Phase::Begin).expect("step");
            let end = serde_json::json!({"status": "refused", "detail": "the holder is deceased"});
            p.finished(1, &end).expect("end");
            p.finished(0, &serde_json::json!({"status": "failed"})).expect("end");
        });
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "2 applicants",
                "card 2/2: step 2/13 archive-check done",
                "card 1/2: a-step-of-a-newer-station begin",
                "card 2/2: refused: the holder is deceased",
                "card 1/2: failed",
            ]
        );
    }

    #[test]
    fn the_bar_follows_the_steps_done_in_their_order() {
        let mut p = Progress::lines(std::io::sink());
        p.start(1).expect("start");
        p.step(0, "claim", Phase::Done).expect("step");
        assert_eq!(p.done, [3]);
        // A job that skips the old card's stop goes on from where it is.
        p.step(0, "verify-identity", Phase::Done).expect("step");
        assert_eq!(p.done, [5]);
        p.step(0, "feed-card", Phase::Begin).expect("step");
        assert_eq!(p.done, [5], "a step begun is not done");
        p.step(0, "unknown", Phase::Done).expect("step");
        assert_eq!(p.done, [6]);
        p.step(7, "claim", Phase::Done).expect("a job out of range is ignored");
    }
}
