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
            .json(&serde_json::json!({"operator": operator, "password": password}))
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
        // Subscribe first so no step is missed.
        let stream = self
            .http
            .get(format!("{}/api/events?token={}", self.base, self.token))
            .send()
            .context("opening the event stream")?;
        let r = self
            .http
            .post(format!("{}/api/jobs", self.base))
            .bearer_auth(&self.token)
            .json(&serde_json::json!({"applicant": applicant, "reissue_of": reissue_of}))
            .timeout(Duration::from_secs(30))
            .send()?;
        if r.status().as_u16() != 202 {
            bail!("the station refused the job: {}", r.text().unwrap_or_default());
        }
        let request_id = r.json::<serde_json::Value>()?["request_id"].as_u64().context("no request id")?;
        let mut job = None;
        let mut done = 0usize;
        let total = issuance::STEPS.len();
        for line in BufReader::new(stream).lines() {
            let line = line.context("the event stream broke: the job goes on; see `station serve` logs")?;
            let Some(data) = line.strip_prefix("data:") else { continue };
            let event: serde_json::Value = serde_json::from_str(data.trim())?;
            match event["event"].as_str() {
                Some("finished") if event["request_id"].as_u64() == Some(request_id) => {
                    writeln!(out)?;
                    return Ok(event);
                }
                Some("step") if job.is_none() || event["job"].as_i64() == job => {
                    job = event["job"].as_i64();
                    if event["phase"] == "done" {
                        done += 1;
                    }
                    let bar: String = (0..total).map(|i| if i < done { '#' } else { '.' }).collect();
                    write!(out, "\r[{bar}] {done:>2}/{total} {:<24}", event["step"].as_str().unwrap_or(""))?;
                    out.flush()?;
                }
                _ => {}
            }
        }
        bail!("the event stream ended before the job did")
    }
}

fn answer(r: reqwest::blocking::Response) -> Result<serde_json::Value> {
    let status = r.status();
    let v: serde_json::Value = r.json().unwrap_or_default();
    if !status.is_success() {
        bail!("{}: {}", status, v["error"].as_str().unwrap_or("no reason given"));
    }
    Ok(v)
}
