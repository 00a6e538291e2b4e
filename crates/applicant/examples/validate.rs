//! Validates an applicant file and prints what the operator would see:
//! `cargo run -p applicant --example validate -- FILE.json YYYY-MM-DD`.

use applicant::{Applicant, Date};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(path), Some(day)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: validate FILE.json YYYY-MM-DD");
        std::process::exit(2);
    };
    let today = Date::parse(day).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(2)
    });
    let applicant: Applicant = serde_json::from_str(&text).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1)
    });
    if let Err(missing) = applicant.account_opening_check() {
        println!("{missing}");
    }
    match applicant.validate(today) {
        Ok(v) => {
            for w in &v.warnings {
                println!("{w}");
            }
            println!("valid: {} {:?}, age {}", v.name, v.id, v.age);
        }
        Err(e) => {
            for w in &e.warnings {
                println!("{w}");
            }
            println!("{e}");
            std::process::exit(1);
        }
    }
}
