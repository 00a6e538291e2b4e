//! Batch issuance: a list of applicants in, one job each, and the return file the provincial
//! card-management service takes back (card-spec.md section 5): one row per card with its
//! numbers, or the stage and reason it failed at.

use std::io::Write;

use applicant::Applicant;
use serde::Serialize;

use crate::collection::Collection;
use crate::engine::{Engine, JobCard, JobOutcome};
use crate::records::IssueParams;
use crate::IssueError;

/// One row of the return file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReturnRow {
    /// Position in the batch (1-based).
    pub seq: usize,
    /// Card number.
    pub card_number: String,
    /// Social security number.
    pub ssn: String,
    /// Name.
    pub name: String,
    /// Issue date YYYYMMDD.
    pub issue_date: String,
    /// Expiry date YYYYMMDD.
    pub expiry_date: String,
    /// Card identification code.
    pub card_id: String,
    /// ATR (hex).
    pub atr: String,
    /// Service bank.
    pub service_bank: String,
    /// Bank account.
    pub bank_account: String,
    /// Box and position of the card in the output stack.
    pub box_position: String,
    /// `bank` or `card making` when it failed, empty when made.
    pub failed_stage: String,
    /// Why it failed.
    pub failure_reason: String,
}

/// The columns of the return file, in order (the CSV header).
pub const RETURN_COLUMNS: [&str; 13] = [
    "seq",
    "card_number",
    "ssn",
    "name",
    "issue_date",
    "expiry_date",
    "card_id",
    "atr",
    "service_bank",
    "bank_account",
    "box_position",
    "failed_stage",
    "failure_reason",
];

impl ReturnRow {
    fn fields(&self) -> [String; 13] {
        [
            self.seq.to_string(),
            self.card_number.clone(),
            self.ssn.clone(),
            self.name.clone(),
            self.issue_date.clone(),
            self.expiry_date.clone(),
            self.card_id.clone(),
            self.atr.clone(),
            self.service_bank.clone(),
            self.bank_account.clone(),
            self.box_position.clone(),
            self.failed_stage.clone(),
            self.failure_reason.clone(),
        ]
    }
}

/// Writes the return file as CSV (RFC 4180 quoting).
pub fn write_return_file(out: &mut dyn Write, rows: &[ReturnRow]) -> std::io::Result<()> {
    let quote = |f: &str| {
        if f.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", f.replace('"', "\"\""))
        } else {
            f.to_string()
        }
    };
    writeln!(out, "{}", RETURN_COLUMNS.join(","))?;
    for row in rows {
        let line: Vec<String> = row.fields().iter().map(|f| quote(f)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

/// Cards a box holds.
pub const BOX_SIZE: usize = 100;

/// How one applicant of a batch ended, as the return file needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOutcome {
    /// The card was made.
    Made(JobCard),
    /// Refused before a card was made (archives, identity, the data): the bank's stage.
    Refused(String),
    /// The making failed or waits for the operator.
    Failed(String),
}

impl ReturnRow {
    /// The row of the `seq`-th applicant (`applicant` as JSON); `made` counts the cards made
    /// so far, this one included, for the box position.
    pub fn new(seq: usize, applicant: &serde_json::Value, outcome: &BatchOutcome, made: usize) -> ReturnRow {
        let holder = &applicant["holder"];
        let mut row = ReturnRow {
            seq,
            ssn: holder["id_number"].as_str().unwrap_or("").to_string(),
            name: holder["name"].as_str().unwrap_or("").to_string(),
            // The person's bank (RULE 8), by its name in the bank list.
            service_bank: applicant["bank"]
                .as_str()
                .map(|code| bank::Registry::builtin().bank(code).map_or(code.to_string(), |b| b.name.clone()))
                .unwrap_or_default(),
            ..ReturnRow::default()
        };
        match outcome {
            BatchOutcome::Made(card) => {
                row.card_number = card.card_number.clone().unwrap_or_default();
                row.card_id = card.card_id.clone().unwrap_or_default();
                row.atr = card.atr.clone().unwrap_or_default();
                row.bank_account = card.account.clone().unwrap_or_default();
                row.issue_date = card.issue_date.clone().unwrap_or_default();
                row.expiry_date = card.expiry_date.clone().unwrap_or_default();
                let i = made.saturating_sub(1);
                row.box_position = format!("{}-{:03}", i / BOX_SIZE + 1, i % BOX_SIZE + 1);
            }
            BatchOutcome::Refused(why) => {
                row.failed_stage = "bank".into();
                row.failure_reason = why.clone();
            }
            BatchOutcome::Failed(why) => {
                row.failed_stage = "card making".into();
                row.failure_reason = why.clone();
            }
        }
        row
    }
}

/// Issues every applicant; a failure is recorded in its row and the batch goes on. A
/// pipeline of two stages: a desk engine on its own thread runs the next applicant's desk
/// steps (archives, claim, identity check: the network) while `engine` runs this one's card
/// steps on the devices. The desk is at most one applicant ahead, so no claim waits long.
/// A batch's holders are not at the counter: `collection` is where their cards wait (a
/// collection at the counter leaves each job waiting at its hand-over).
pub fn run_batch(
    engine: &mut Engine<'_>,
    applicants: &[Applicant],
    params: &IssueParams,
    collection: &Collection,
) -> Vec<ReturnRow> {
    let (local, province, verifier, profile) =
        (engine.local, engine.province, engine.verifier, engine.profile);
    let (operator, lease_seconds) = (engine.operator.clone(), engine.lease_seconds);
    std::thread::scope(|scope| {
        // The desk's engine has no devices: a job it prepares stops before the feed.
        let prepared_rx = crate::pipeline::desk_stage(scope, applicants, move |a| {
            let mut no_devices = crate::NoDevices;
            let mut desk = Engine {
                local,
                province,
                verifier,
                path: &mut no_devices,
                profile,
                operator: operator.clone(),
                lease_seconds,
                // Nobody corrects a batch's applicant: a mismatch ends it with the hints.
                max_corrections: 0,
                progress: None,
            };
            desk.prepare(a, params, None, collection)
        });
        let mut rows = Vec::with_capacity(applicants.len());
        let mut made = 0usize;
        for (i, a) in applicants.iter().enumerate() {
            let Ok(prepared) = prepared_rx.recv() else {
                // Only a panic ends the desk early; the scope reports it when it closes.
                break;
            };
            let ended = prepared.and_then(|(job, at_desk)| match at_desk {
                Some(outcome) => Ok((job, outcome)),
                None => engine.resume(job).map(|outcome| (job, outcome)),
            });
            let outcome = match ended {
                Ok((
                    job,
                    JobOutcome::Issued { .. }
                    | JobOutcome::Stocked { .. }
                    | JobOutcome::AwaitingHandover { .. },
                )) => {
                    made += 1;
                    let state = engine.local.job(job).ok().flatten().map(|j| j.state).unwrap_or_default();
                    BatchOutcome::Made(JobCard::from_state(&state))
                }
                Ok((_, JobOutcome::Refused(r))) => BatchOutcome::Refused(r),
                // The register did not confirm the applicant: refused before anything was made.
                Ok((job, JobOutcome::RolledBack(r))) if ended_at_verification(engine.local, job) => {
                    BatchOutcome::Refused(r)
                }
                Ok((_, JobOutcome::RolledBack(r) | JobOutcome::Waiting(r))) => BatchOutcome::Failed(r),
                Ok((_, JobOutcome::Held(held))) => BatchOutcome::Failed(held.to_string()),
                Ok((_, JobOutcome::Correcting(m))) => BatchOutcome::Refused(m.to_string()),
                Err(IssueError::Data(r)) => BatchOutcome::Refused(format!("applicant data: {r}")),
                Err(e) => BatchOutcome::Failed(e.to_string()),
            };
            let applicant = serde_json::to_value(a).unwrap_or_default();
            rows.push(ReturnRow::new(i + 1, &applicant, &outcome, made));
        }
        rows
    })
}

/// Whether job `job` ended at its identity verification (its journal's last step).
fn ended_at_verification(local: &archive::local::LocalArchive, job: i64) -> bool {
    let journal = local.journal_of(job).unwrap_or_default();
    journal.last().is_some_and(|l| l.step == crate::Step::VerifyIdentity.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_return_file_quotes_what_needs_it() {
        let rows = vec![
            ReturnRow {
                seq: 1,
                card_number: "B00000019".into(),
                name: "张三".into(),
                ..ReturnRow::default()
            },
            ReturnRow {
                seq: 2,
                failed_stage: "card making".into(),
                failure_reason: "print: ribbon \"end\", rejected".into(),
                ..ReturnRow::default()
            },
        ];
        let mut out = Vec::new();
        write_return_file(&mut out, &rows).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], RETURN_COLUMNS.join(","));
        assert!(lines[1].starts_with("1,B00000019,,张三,"));
        assert!(lines[2].ends_with(",card making,\"print: ribbon \"\"end\"\", rejected\""), "{}", lines[2]);
    }
}
