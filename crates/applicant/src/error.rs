//! How validation explains itself. Every error the operator can see names the field (as a JSON
//! path into the applicant file), the rule it breaks (a short stable name, for journals and
//! translations), what is wrong, and what to do about it. Messages never contain a full ID
//! number: they end up in logs.

use std::fmt;

/// What every value-level error can say beyond its message: the rule and the remedy.
pub trait Explain: fmt::Display {
    /// A short, stable rule name such as `id-check-character`.
    fn rule(&self) -> &'static str;
    /// What the operator should do about it.
    fn hint(&self) -> String;
}

/// Something worth telling the operator that does not stop issuance (an abolished county code
/// in an old ID number, an unusual validity period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// JSON path of the field, or empty when the value was checked on its own.
    pub field: String,
    /// Short, stable rule name.
    pub rule: &'static str,
    /// What was noticed.
    pub message: String,
}

impl Warning {
    pub(crate) fn new(rule: &'static str, message: impl Into<String>) -> Warning {
        Warning { field: String::new(), rule, message: message.into() }
    }

    /// The same warning, attached to the field at `path`.
    pub(crate) fn at(mut self, path: &str) -> Warning {
        self.field = path.to_owned();
        self
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "warning [{}]: {}", self.rule, self.message)
        } else {
            write!(f, "{}: warning [{}]: {}", self.field, self.rule, self.message)
        }
    }
}

/// One field of an applicant that cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field, e.g. `holder.id_number` or `guardian.name`.
    pub field: String,
    /// Short, stable rule name, e.g. `id-check-character`.
    pub rule: &'static str,
    /// What is wrong.
    pub message: String,
    /// What the operator should do.
    pub hint: String,
}

impl FieldError {
    /// An error for `field` from any value-level error that explains itself.
    pub fn from_explain(field: &str, e: &dyn Explain) -> FieldError {
        FieldError { field: field.to_owned(), rule: e.rule(), message: e.to_string(), hint: e.hint() }
    }

    pub(crate) fn new(
        field: &str,
        rule: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> FieldError {
        FieldError { field: field.to_owned(), rule, message: message.into(), hint: hint.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]: {} -> {}", self.field, self.rule, self.message, self.hint)
    }
}

/// Every field error found in one applicant, in field order. Display gives one line per error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors {
    /// The errors, never empty when returned by validation.
    pub errors: Vec<FieldError>,
    /// Warnings found along the way, so the operator sees them together with the errors.
    pub warnings: Vec<Warning>,
}

impl ValidationErrors {
    /// True when `field` has an error under `rule`; handy in tests and in the UI.
    pub fn has(&self, field: &str, rule: &str) -> bool {
        self.errors.iter().any(|e| e.field == field && e.rule == rule)
    }

    /// The fields with errors, in order, without repeats.
    pub fn fields(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for e in &self.errors {
            if !out.contains(&e.field.as_str()) {
                out.push(&e.field);
            }
        }
        out
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_per_error() {
        let errs = ValidationErrors {
            errors: vec![
                FieldError::new("holder.name", "name-empty", "the name is empty", "type the name"),
                FieldError::new("holder.sex", "sex-code", "'3' is not a sex code", "use 1 or 2"),
            ],
            warnings: vec![],
        };
        let text = errs.to_string();
        assert_eq!(text.lines().count(), 2);
        assert_eq!(text.lines().next(), Some("holder.name [name-empty]: the name is empty -> type the name"));
        assert!(errs.has("holder.sex", "sex-code"));
        assert_eq!(errs.fields(), ["holder.name", "holder.sex"]);
    }
}
