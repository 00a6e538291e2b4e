//! The applicant's form as the station judges it, once, where it arrives: the page's
//! validation as you type (`POST /api/validate`) and a job's request (`POST /api/jobs`, 422
//! with the same field errors) use the same verdict, so a job only ever starts on an applicant
//! the issuance steps will accept.

use serde::Serialize;

/// One problem of the form: the field, the rule, what is wrong and what to do.
#[derive(Serialize)]
struct FieldProblem {
    field: String,
    rule: String,
    message: String,
    hint: String,
}

/// The verdict on a form as the issuance job will judge it: every error with field, rule and
/// remedy, the age and whether a guardian and a photo are required, so the page asks for them.
/// The form is the counter's, signed by the applicant (the declaration and the insurance
/// category are required); `reissue_of` is the card a re-issue replaces (its stop needs the
/// signed consent).
pub(crate) fn verdict(
    body: serde_json::Value,
    today: applicant::Date,
    banks: Option<&[String]>,
    reissue_of: Option<&str>,
) -> (serde_json::Value, Option<(String, String)>) {
    match parse(body) {
        Ok(applicant) => {
            let answer = judge(&applicant, today, banks, reissue_of);
            // The person is named by a valid ID number with the holder's name: the cards are
            // listed only when both match the card's holder, so a bare ID number (or one with
            // any name) tells nobody whether it holds cards.
            let id_refused = answer["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"] == "holder.id_number"));
            let person = match (&applicant.holder.id_number, &applicant.holder.name) {
                (Some(id), Some(name)) if !id_refused && !name.is_empty() => Some((id.clone(), name.clone())),
                _ => None,
            };
            (answer, person)
        }
        Err(answer) => (answer, None),
    }
}

/// The applicant of a job request, parsed and validated for `today`; otherwise the verdict
/// (`valid: false` with every field error) for a 422.
pub(crate) fn accept(
    body: serde_json::Value,
    today: applicant::Date,
    banks: Option<&[String]>,
    reissue_of: Option<&str>,
) -> Result<applicant::Applicant, serde_json::Value> {
    let applicant = parse(body)?;
    let answer = judge(&applicant, today, banks, reissue_of);
    if answer["valid"] != true {
        return Err(answer);
    }
    Ok(applicant)
}

/// A verdict's field errors, one line each (`field: message (hint)`), for those who show them
/// as text: the CLI, a refused correction.
pub fn problems(verdict: &serde_json::Value) -> Vec<String> {
    verdict["errors"]
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
        .unwrap_or_default()
}

/// The form as the applicant crate's type; a body that is not one is the verdict's `json` error.
fn parse(body: serde_json::Value) -> Result<applicant::Applicant, serde_json::Value> {
    serde_json::from_value(body).map_err(|e| {
        let problem = FieldProblem {
            field: String::new(),
            rule: "json".into(),
            message: e.to_string(),
            hint: "reload the page: the form sent a field the station does not know".into(),
        };
        serde_json::json!({"valid": false, "errors": [problem], "warnings": []})
    })
}

/// The verdict on a parsed form; the serving bank must be one of `banks` (the counter's
/// region's, RULE 8) when the counter has a bank list.
fn judge(
    applicant: &applicant::Applicant,
    today: applicant::Date,
    banks: Option<&[String]>,
    reissue_of: Option<&str>,
) -> serde_json::Value {
    let rules = applicant::Rules::default();
    let age = applicant
        .holder
        .birth_date
        .as_deref()
        .and_then(|d| applicant::Date::parse(d).ok())
        .filter(|d| *d <= today)
        .map(|d| d.years_until(today));
    let replacing = reissue_of.map(str::trim).filter(|c| !c.is_empty());
    let intake = applicant::Intake { replacing, signed_form: true };
    let (errors, warnings) = match applicant.validate_for(today, &rules, &intake) {
        Ok(v) => (Vec::new(), v.warnings),
        Err(e) => (e.errors, e.warnings),
    };
    let mut errors: Vec<FieldProblem> = errors
        .into_iter()
        .map(|f| FieldProblem { field: f.field, rule: f.rule.into(), message: f.message, hint: f.hint })
        .collect();
    let chosen = applicant.bank.as_deref().map(str::trim).filter(|b| !b.is_empty());
    if let (Some(code), Some(banks)) = (chosen, banks) {
        if !banks.iter().any(|b| b == code) && !errors.iter().any(|e| e.field == "bank") {
            errors.push(FieldProblem {
                field: "bank".into(),
                rule: "bank-of-region".into(),
                message: format!("{code} is not a cooperating bank of this counter's region"),
                hint: format!("the person chooses one of: {}", banks.join(", ")),
            });
        }
    }
    let warnings: Vec<serde_json::Value> =
        warnings.into_iter().map(|w| serde_json::json!({"field": w.field, "message": w.message})).collect();
    serde_json::json!({
        "valid": errors.is_empty(),
        "errors": errors,
        "warnings": warnings,
        "age": age,
        "guardian_required": age.is_some_and(|a| a < rules.guardian_under),
        "photo_required": age.is_none_or(|a| a >= rules.photo_optional_under),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> serde_json::Value {
        let path = format!("{}/../applicant/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("testdata")).expect("json")
    }

    fn today() -> applicant::Date {
        applicant::Date::new(2026, 12, 4).expect("date")
    }

    #[test]
    fn the_form_is_judged_by_the_applicant_crates_rules() {
        let (adult, id) = verdict(testdata("adult.json"), today(), None, None);
        assert_eq!(adult["valid"], true, "{adult}");
        assert_eq!((adult["age"].as_u64(), adult["guardian_required"].as_bool()), (Some(76), Some(false)));
        assert_eq!(id, Some(("11010519491231002X".to_string(), "张三".to_string())));

        let mut minor = testdata("minor.json");
        minor.as_object_mut().expect("object").remove("guardian");
        let (minor, person) = verdict(minor, today(), None, None);
        assert_eq!(minor["valid"], false);
        assert!(person.is_some(), "a valid ID number with a name names the person while the form is filled");
        assert_eq!(minor["guardian_required"], true, "{minor}");
        let fields: Vec<&str> =
            minor["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
        assert!(fields.contains(&"guardian"), "{fields:?}");

        let mut typo = testdata("adult.json");
        typo["holder"]["id_number"] = "110105194912310021".into();
        let (typo, person) = verdict(typo, today(), None, None);
        assert_eq!(person, None, "a refused ID number names nobody");
        let wrong =
            typo["errors"].as_array().expect("errors").iter().find(|e| e["field"] == "holder.id_number");
        let wrong = wrong.expect("the ID number is refused");
        assert_eq!(wrong["rule"], "id-check-character");
        assert!(!wrong["hint"].as_str().unwrap_or_default().is_empty(), "with what to do");
        assert!(!typo.to_string().contains("110105194912310021"), "no full ID number in the answer");

        let (unknown, id) = verdict(serde_json::json!({"holder": {}, "colour": "red"}), today(), None, None);
        assert_eq!((unknown["valid"].as_bool(), id), (Some(false), None));
        assert_eq!(unknown["errors"][0]["rule"], "json");
    }

    #[test]
    fn a_job_request_is_accepted_only_with_an_applicant_the_steps_will_take() {
        let adult = accept(testdata("adult.json"), today(), None, None).expect("valid");
        assert_eq!(adult.holder.id_number.as_deref(), Some("11010519491231002X"));
        let mut typo = testdata("adult.json");
        typo["holder"]["id_number"] = "110105194912310021".into();
        let verdict = accept(typo, today(), None, None).expect_err("refused");
        assert_eq!(verdict["valid"], false);
        assert!(verdict["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["field"] == "holder.id_number")));
        assert!(
            accept(serde_json::json!({"anything": 1}), today(), None, None).is_err(),
            "any JSON is no applicant"
        );
        // RULE 8: the person's bank is one of the region's.
        let banks = ["ICBC".to_string(), "ABC".to_string()];
        let mut chosen = testdata("adult.json");
        chosen["bank"] = "ABC".into();
        assert_eq!(
            accept(chosen.clone(), today(), Some(&banks), None)
                .expect("a bank of the region")
                .bank
                .as_deref(),
            Some("ABC")
        );
        chosen["bank"] = "CCB".into();
        let verdict = accept(chosen, today(), Some(&banks), None).expect_err("not a bank of the region");
        let e = &verdict["errors"][0];
        assert_eq!(
            (e["field"].as_str(), e["rule"].as_str()),
            (Some("bank"), Some("bank-of-region")),
            "{verdict}"
        );
    }
}
