use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Tocsin: alert integrations on AWS Lambda.
#[derive(Debug, Parser)]
#[command(name = "tocsin", version, about)]
pub(crate) struct Args {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check a definitions file and report every problem with its path.
    Validate {
        /// The definitions file (YAML or JSON).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Validate, show what changes, then write the definitions to the DynamoDB Definitions table
    /// (removing the items no longer in the file).
    ///
    /// Refuses a file without integrations and alert definitions unless --allow-empty. Removing more
    /// than 3 items needs a confirmation: asked on a terminal, --yes otherwise. Exit code 2 when it
    /// refuses (nothing is changed).
    Apply {
        /// The definitions file (YAML or JSON).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// The table (default: $DEFINITIONS_TABLE, else `Definitions`).
        #[arg(long)]
        table: Option<String>,
        /// Create the table first if it does not exist (local emulator; not with --dry-run).
        #[arg(long)]
        create_table: bool,
        /// Apply a file that holds no integrations and no alert definitions (it empties the table).
        #[arg(long)]
        allow_empty: bool,
        /// Print the items that would be added, changed and removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Remove more than 3 items without asking.
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// Print every request that would be sent for an alert, without sending anything.
    Render {
        /// The definitions file (YAML or JSON).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// A raw message in any inbound format, or an SNS event.
        #[arg(long)]
        alert: PathBuf,
        /// Only this integration.
        #[arg(long)]
        integration: Option<String>,
        /// Render as this alert type instead of the message's own.
        #[arg(long = "type", value_enum)]
        alert_type: Option<AlertTypeArg>,
    },
    /// Send a test alert to one integration, for real, and print every attempt (redacted).
    ///
    /// Exit code 0 when every message was delivered, 1 when one was not, 2 on bad input.
    #[command(alias = "test-send")]
    Test {
        /// The definitions file (YAML or JSON).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// The integration to send to (nothing else is sent to).
        #[arg(long)]
        integration: String,
        /// A raw message in any inbound format, or an SNS event (default: the sample alert).
        #[arg(long)]
        alert: Option<PathBuf>,
        /// Send as this alert type instead of the message's own.
        #[arg(long = "type", value_enum)]
        alert_type: Option<AlertTypeArg>,
        /// Kinds that address people: send to this e-mail address or phone number too (repeatable).
        #[arg(long = "to", value_name = "EMAIL or PHONE")]
        to: Vec<String>,
    },
    /// List the presets (ready-made integrations, `settings.preset`) of every kind with the
    /// variables each needs.
    Presets,
    /// Publish an alert file to the alerts topic.
    Publish {
        /// The message to publish (any inbound format).
        #[arg(long)]
        alert: PathBuf,
        /// The topic (default: $TOCSIN_TOPIC_ARN, else the topic named `alerts`).
        #[arg(long)]
        topic_arn: Option<String>,
        /// The SNS subject.
        #[arg(long)]
        subject: Option<String>,
    },
    /// Re-publish the alerts of the on-failure queue to the topic; each queue message is deleted
    /// once its alerts are published (delivered routes are not sent again).
    Replay {
        /// The on-failure queue (default: $TOCSIN_FAILED_QUEUE_URL).
        #[arg(long)]
        queue_url: Option<String>,
        /// The topic (default: $TOCSIN_TOPIC_ARN, else the topic named `alerts`).
        #[arg(long)]
        topic_arn: Option<String>,
        /// Replay at most this many queue messages.
        #[arg(long)]
        max: Option<usize>,
        /// Say what would be replayed; publish and delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// One JSON object per queue message instead of a line.
        #[arg(long)]
        json: bool,
    },
    /// Show the delivery log of an alert.
    Log {
        /// The alert id (`alert.alertGuid`).
        #[arg(long)]
        alert: String,
        /// The table (default: $DELIVERIES_TABLE, else `Deliveries`).
        #[arg(long)]
        table: Option<String>,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Prepare the local emulator for `cargo lambda watch`: tables, topic, SES senders, made-up
    /// secrets, and the definitions applied ($DEFINITIONS_TABLE, $DELIVERIES_TABLE).
    LocalSetup {
        /// The definitions file.
        #[arg(short = 'f', long = "file", default_value = "examples/definitions.yaml")]
        file: PathBuf,
    },
    /// Run the local demo against the emulator (see `make demo`).
    Demo {
        /// The definitions file.
        #[arg(short = 'f', long = "file", default_value = "examples/definitions.yaml")]
        file: PathBuf,
        /// The folder of sample alerts.
        #[arg(long, default_value = "examples/alerts")]
        alerts: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum AlertTypeArg {
    Alert,
    Ok,
    Reminder,
}

impl AlertTypeArg {
    /// The alert type this argument names.
    pub(crate) fn alert_type(self) -> alert_model::AlertType {
        match self {
            AlertTypeArg::Alert => alert_model::AlertType::Alert,
            AlertTypeArg::Ok => alert_model::AlertType::Ok,
            AlertTypeArg::Reminder => alert_model::AlertType::Reminder,
        }
    }
}
