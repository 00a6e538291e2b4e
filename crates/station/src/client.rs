//! `station issue` and the other commands that talk to a running `station serve` over its API.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use anyhow::{bail, Context, Result};

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
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(60))
            .send()?;
        answer(r)
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

    /// Starts an issuance and follows it to its end, drawing progress on `out`; returns the
    /// final event.
    pub fn issue(
        &self,
        applicant: serde_json::Value,
        reissue_of: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<serde_json::Value> {
        let mut ends = self.issue_all(&[(applicant, reissue_of.map(str::to_string))], out)?;
        ends.pop().context("the station ended no job")
    }

    /// Issues each applicant (with the card it replaces, if any) and follows the jobs to their
    /// ends; returns their final events in the list's order. Two requests are in the station
    /// at a time: while one card is on the devices the next one's desk steps (archives, claim,
    /// identity check) run, and no more are queued than that, so a client that dies leaves
    /// at most two jobs behind (each journalled, resumed or rolled back by the station).
    pub fn issue_all(
        &self,
        jobs: &[(serde_json::Value, Option<String>)],
        out: &mut dyn Write,
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
        let (total, many) = (issuance::STEPS.len(), jobs.len() > 1);
        let mut done = vec![0usize; jobs.len()];
        while ended < jobs.len() {
            while requests.len() < jobs.len() && requests.len() - ended < IN_FLIGHT {
                let (applicant, reissue_of) = &jobs[requests.len()];
                match self.post_job(applicant, reissue_of.as_deref())? {
                    Posted::Accepted(id) => requests.push(Some(id)),
                    Posted::Invalid(why) => {
                        ends[requests.len()] = Some(serde_json::json!({
                            "event": "finished", "request_id": null, "job": null,
                            "status": "refused", "detail": format!("the form: {why}"),
                        }));
                        requests.push(None);
                        ended += 1;
                    }
                }
            }
            if ended == jobs.len() {
                break;
            }
            // The oldest request not ended is the one on the devices: its steps draw the bar.
            let watched = (0..requests.len()).find(|i| ends[*i].is_none());
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
                    ends[i] = Some(event);
                    ended += 1;
                    writeln!(out)?;
                }
                Some("step") => {
                    if event["phase"] == "done" {
                        done[i] = (done[i] + 1).min(total);
                    }
                    if watched == Some(i) {
                        let bar: String = (0..total).map(|s| if s < done[i] { '#' } else { '.' }).collect();
                        let card =
                            if many { format!("card {}/{} ", i + 1, jobs.len()) } else { String::new() };
                        let step = event["step"].as_str().unwrap_or("");
                        write!(out, "\r{card}[{bar}] {:>2}/{total} {step:<24}", done[i])?;
                        out.flush()?;
                    }
                }
                _ => {}
            }
        }
        Ok(ends.into_iter().flatten().collect())
    }

    /// Hands one job to the station: its request number, or why the form was refused.
    fn post_job(&self, applicant: &serde_json::Value, reissue_of: Option<&str>) -> Result<Posted> {
        let r = self
            .http
            .post(format!("{}/api/jobs", self.base))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"applicant": applicant, "reissue_of": reissue_of}))
            .timeout(Duration::from_secs(30))
            .send()?;
        if r.status().as_u16() == 422 {
            let verdict: serde_json::Value = r.json().unwrap_or_default();
            let errors: Vec<String> = verdict["errors"]
                .as_array()
                .map(|e| {
                    e.iter()
                        .map(|e| {
                            format!(
                                "{}: {} ({})",
                                e["field"].as_str().unwrap_or(""),
                                e["message"].as_str().unwrap_or(""),
                                e["hint"].as_str().unwrap_or("")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            return Ok(Posted::Invalid(errors.join("; ")));
        }
        if r.status().as_u16() != 202 {
            bail!("the station refused the job: {}", r.text().unwrap_or_default());
        }
        Ok(Posted::Accepted(r.json::<serde_json::Value>()?["request_id"].as_u64().context("no request id")?))
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
    let status = r.status();
    let v: serde_json::Value = r.json().unwrap_or_default();
    if !status.is_success() {
        bail!("{}: {}", status, v["error"].as_str().unwrap_or("no reason given"));
    }
    Ok(v)
}
