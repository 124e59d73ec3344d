//! `tocsin-faults`: the fault-injection suite (see `e2e::faults`), against the emulator at
//! `TOCSIN_MOTO_URL` (else the one `scripts/local-stack.sh start` wrote to `.tocsin/moto.url`).
//!
//! ```text
//! tocsin-faults [--alerts N] [--integrations M] [--fault-rate R] [--seed S] [--concurrency C] [--no-kill] [--small]
//! ```
//!
//! Prints the report as Markdown, then `RESULT {json}`; exits 1 when an alert was lost, a route
//! delivered twice, a record left in the on-failure queue, or a kill run went wrong.
//! `tocsin-faults --function <kind>` is the function process of the kill runs: the kind's Lambda
//! function, exactly as `functions/notify-<kind>/src/main.rs` runs it.
#![allow(clippy::print_stdout, clippy::print_stderr)]
// The functions' runner future nests deeply, as in their `main.rs`.
#![recursion_limit = "256"]

use std::process::ExitCode;

use alert_model::IntegrationKind;
use e2e::faults::{FaultOptions, kinds, run};

const USAGE: &str = "usage: tocsin-faults [--alerts N] [--integrations M] [--fault-rate R] [--seed S] \
[--concurrency C] [--no-kill] [--small] | --function KIND";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    if let [flag, kind] = args.as_slice()
        && flag == "--function"
    {
        let kind: IntegrationKind = match kind.parse() {
            Ok(kind) => kind,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        };
        return match runtime.block_on(kinds::serve(kind)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match options(&args) {
        Ok(options) => options,
        Err(error) => {
            eprintln!("error: {error}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "fault suite: {} alerts, {} integrations of every kind, {:.0} % faults, emulator {}",
        options.alerts,
        options.integrations,
        options.fault_rate * 100.0,
        options.moto_url
    );
    match runtime.block_on(run(&options)) {
        Ok(report) => {
            println!("{}", report.markdown());
            println!("RESULT {}", serde_json::to_string(&report).unwrap_or_default());
            let problems = report.problems();
            if problems.is_empty() {
                eprintln!("fault suite passed: no alert lost, no duplicate");
                ExitCode::SUCCESS
            } else {
                for problem in problems {
                    eprintln!("problem: {problem}");
                }
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn moto_url() -> Result<String, String> {
    if let Ok(url) = std::env::var("TOCSIN_MOTO_URL") {
        return Ok(url);
    }
    let file = e2e::bench::workspace_root().join(".tocsin/moto.url");
    std::fs::read_to_string(&file)
        .map(|url| url.trim().to_owned())
        .map_err(|_| {
            "the local AWS emulator is not running: start it with `scripts/local-stack.sh start` or set TOCSIN_MOTO_URL"
                .to_owned()
        })
}

fn options(args: &[String]) -> Result<FaultOptions, String> {
    let moto = moto_url()?;
    let mut options = if args.iter().any(|arg| arg == "--small") {
        FaultOptions::small(&moto)
    } else {
        FaultOptions::full(&moto)
    };
    options.function_executable =
        Some(std::env::current_exe().map_err(|error| format!("cannot find this executable: {error}"))?);
    let mut given = args.iter();
    while let Some(flag) = given.next() {
        let mut value = || given.next().ok_or_else(|| format!("`{flag}` needs a value"));
        let number = |text: &String| -> Result<usize, String> {
            text.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{flag}`: `{text}` is not a positive whole number"))
        };
        match flag.as_str() {
            "--alerts" => options.alerts = number(value()?)?,
            "--integrations" => options.integrations = number(value()?)?,
            "--concurrency" => options.concurrency = number(value()?)?,
            "--seed" => options.seed = number(value()?)? as u64,
            "--fault-rate" => {
                let text = value()?;
                options.fault_rate = text
                    .parse::<f64>()
                    .ok()
                    .filter(|rate| (0.0..=1.0).contains(rate))
                    .ok_or_else(|| format!("`--fault-rate`: `{text}` is not between 0 and 1"))?;
            }
            "--no-kill" => options.function_executable = None,
            "--small" => {}
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}
