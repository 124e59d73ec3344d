//! The plain-text part of the default e-mail stays in step with its HTML part: both are built by
//! the notifier for each alert type (and for awkward and empty alerts), then parsed apart, and they
//! must say the same: the state and the monitor, the error, the level's message, the facts in the
//! same order, the custom fields, the notes and the links.
//!
//! How the HTML part looks where people read it is `scripts/email-render.sh` (headless Chromium,
//! on demand: README, "How the e-mail looks").

use std::collections::BTreeMap;

use alert_model::{Alert, AlertType, template::Engine};
use definition_store::{Attachment, EscalationLevel, Integration, Operator};
use notify_core::{Notifier, RouteContext, Variables};

use crate::{EmailMessage, EmailNotifier};

/// What one part of an e-mail says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Said {
    /// `Alert`, `Reminder` or `Ok`, and the monitor's name.
    state: (String, String),
    description: String,
    level_message: String,
    /// `(label, value)` in order: the fixed facts, then the custom fields.
    facts: Vec<(String, String)>,
    notes: String,
    /// `(label, url)` in order.
    links: Vec<(String, String)>,
}

/// The text between `start` and the next `end` after it, from `from`; and where it ended.
fn between<'a>(text: &'a str, from: usize, start: &str, end: &str) -> Option<(&'a str, usize)> {
    let begin = text.get(from..)?.find(start)? + from + start.len();
    let stop = text.get(begin..)?.find(end)? + begin;
    Some((&text[begin..stop], stop + end.len()))
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The element content after the opening tag that ends `marker` (a style of the template).
fn content_after(html: &str, marker: &str, end: &str) -> String {
    between(html, 0, marker, end)
        .map(|(found, _)| unescape(found))
        .unwrap_or_default()
}

fn parse_html(html: &str) -> Said {
    let title = content_after(html, "<title>", "</title>");
    let (headline, name) = title.split_once(": ").unwrap_or_default();
    let state = match headline {
        "Alert" => "Alert",
        "Still failing" => "Reminder",
        "Resolved" => "Ok",
        other => panic!("unknown headline {other:?} in {html}"),
    };
    let mut facts = Vec::new();
    let mut at = 0;
    while let Some((label, after)) = between(html, at, "<tr><td style=\"padding:4px 16px 4px 0;", "</td>") {
        let label = label.split_once("\">").map_or(label, |(_, label)| label);
        let (value, next) = between(html, after, "vertical-align:top;\">", "</td></tr>")
            .unwrap_or_else(|| panic!("a fact without a value in {html}"));
        facts.push((unescape(label), unescape(value)));
        at = next;
    }
    let mut links = Vec::new();
    let mut at = 0;
    while let Some((url, after)) = between(html, at, "<a href=\"", "\"") {
        let (label, next) =
            between(html, after, ">", "</a>").unwrap_or_else(|| panic!("an open link in {html}"));
        links.push((unescape(label), unescape(url)));
        at = next;
    }
    Said {
        state: (state.to_owned(), name.to_owned()),
        description: content_after(html, "font-size:15px;white-space:pre-wrap;\">", "</td>"),
        level_message: content_after(
            html,
            "border-left:4px solid #f0b400;white-space:pre-wrap;\">",
            "</div>",
        ),
        facts,
        notes: content_after(
            html,
            "<div style=\"white-space:pre-wrap;font-size:14px;\">",
            "</div>",
        ),
        links,
    }
}

/// The column where the values of the text part's facts start.
const VALUE_COLUMN: usize = 23;

/// `(label, value)` when `line` is a fact of the text part: the label and its colon padded to
/// [`VALUE_COLUMN`].
fn text_fact(line: &str) -> Option<(String, String)> {
    let head = line.get(..VALUE_COLUMN)?;
    let (label, padding) = head.split_once(':')?;
    let is_fact = !label.is_empty()
        && !label.starts_with(' ')
        && !padding.is_empty()
        && padding.chars().all(|c| c == ' ')
        && !line[VALUE_COLUMN..].starts_with(' ');
    is_fact.then(|| (label.to_owned(), line[VALUE_COLUMN..].to_owned()))
}

/// The lines of a section (`Custom fields:`, `Notes:`, `Links:`) up to the next blank line.
fn section<'a>(lines: &[&'a str], heading: &str) -> Vec<&'a str> {
    lines
        .iter()
        .position(|line| *line == heading)
        .map(|start| {
            lines[start + 1..]
                .iter()
                .take_while(|line| !line.is_empty())
                .copied()
                .collect()
        })
        .unwrap_or_default()
}

fn parse_text(text: &str) -> Said {
    let lines: Vec<&str> = text.lines().collect();
    let headline = lines.first().copied().unwrap_or_default();
    let (state, name) = [
        ("ALERT: ", " is failing.", "Alert"),
        ("REMINDER: ", " is still failing.", "Reminder"),
        ("RESOLVED: ", " is OK again.", "Ok"),
    ]
    .iter()
    .find_map(|(prefix, suffix, state)| {
        headline
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .map(|name| (*state, name))
    })
    .unwrap_or_else(|| panic!("unknown headline {headline:?} in {text}"));
    // Between the headline and the facts: the description, then the level's message, each a
    // paragraph followed by a blank line.
    let first_fact = lines
        .iter()
        .position(|line| text_fact(line).is_some())
        .unwrap_or(lines.len());
    let paragraphs: Vec<String> = lines[1..first_fact]
        .split(|line| line.is_empty())
        .filter(|paragraph| !paragraph.is_empty())
        .map(|paragraph| paragraph.join("\n"))
        .collect();
    let mut facts: Vec<(String, String)> = lines[first_fact..]
        .iter()
        .map_while(|line| text_fact(line))
        .collect();
    for line in section(&lines, "Custom fields:") {
        let (name, value) = line
            .strip_prefix("  ")
            .and_then(|field| field.split_once(": "))
            .unwrap_or_else(|| panic!("a custom field {line:?} in {text}"));
        facts.push((name.to_owned(), value.to_owned()));
    }
    let links = section(&lines, "Links:")
        .iter()
        .map(|line| {
            let (label, url) = line
                .trim_start()
                .split_once(':')
                .unwrap_or_else(|| panic!("a link {line:?} in {text}"));
            (label.to_owned(), url.trim_start().to_owned())
        })
        .collect();
    Said {
        state: (state.to_owned(), name.to_owned()),
        description: paragraphs.first().cloned().unwrap_or_default(),
        level_message: paragraphs.get(1).cloned().unwrap_or_default(),
        facts,
        notes: section(&lines, "Notes:").join("\n"),
        links,
    }
}

fn build(alert: &Alert) -> EmailMessage {
    let config = aws_sdk_sesv2::Config::builder()
        .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
        .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
        .build();
    let notifier = EmailNotifier::with_client(
        aws_sdk_sesv2::Client::from_conf(config),
        Some("alerts@example.com".to_owned()),
    );
    let integration = Integration {
        id: "ops-mail".to_owned(),
        name: "Ops e-mail".to_owned(),
        kind: alert_model::IntegrationKind::Email,
        active: true,
        variables: BTreeMap::new(),
        messages: Vec::new(),
        settings: serde_json::Map::new(),
        fallback: None,
    };
    let attachment = Attachment {
        integration: integration.id.clone(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: BTreeMap::new(),
        extra_emails: Vec::new(),
        extra_phones: Vec::new(),
        service_links: Vec::new(),
    };
    let level = EscalationLevel {
        id: 1,
        active: true,
        message: String::new(),
        operators: vec!["ann".to_owned()],
        integrations: vec![attachment.clone()],
    };
    let ann = Operator {
        id: "ann".to_owned(),
        name: "Ann".to_owned(),
        email: Some("ann@example.com".to_owned()),
        phone: None,
        active: true,
        on_duty: true,
    };
    let target = notifier
        .target(&integration)
        .expect("the default e-mail integration");
    let engine = Engine::new();
    let variables = Variables::default();
    let route = RouteContext {
        alert,
        integration: &integration,
        attachment: &attachment,
        level: &level,
        recipients: vec![&ann],
        variables: &variables,
        now: "2026-11-28T16:00:05Z".parse().expect("a time"),
        engine: &engine,
        incident: None,
    };
    let messages = notifier
        .build(&route, &target)
        .unwrap_or_else(|error| panic!("{error}"));
    messages
        .into_iter()
        .next()
        .map(|outgoing| outgoing.message)
        .expect("one e-mail")
}

/// The alerts whose two parts are compared: the sample of each type, the same with awkward values
/// (markup, quotes, non-ASCII, a link that is not a web link, an empty custom field), and an
/// alert with nothing but its type.
fn alerts() -> Vec<(String, Alert)> {
    let mut alerts = Vec::new();
    for alert_type in AlertType::ALL {
        let mut sample = test_support::fixtures::sample_alert(*alert_type);
        sample.monitor.notes = "Please check the Route53 entries.\nThen call Ann.".to_owned();
        sample.monitor.dashboard_url = "https://app.example.com/dashboard/849b2046".to_owned();
        sample.alert.first_error_check_url = "https://app.example.com/checks/30099055746".to_owned();
        sample.monitor.edit_url = "http://app.example.com/monitors/849b2046".to_owned();
        alerts.push((format!("{alert_type}"), sample.clone()));

        let mut awkward = sample;
        awkward.monitor.name = "Shop <b>&amp;</b> \"API\" — café ✓".to_owned();
        awkward.alert.description =
            "<script>alert('x')</script> & \"quotes\"\nsecond line: ünïcödé".to_owned();
        awkward.escalation_level.message = "Call <Ann> & 'Bob'".to_owned();
        awkward.monitor.dashboard_url = "javascript:alert(1)".to_owned();
        awkward
            .monitor
            .custom_fields
            .insert("<Owner>".to_owned(), "R&D \"core\"".to_owned());
        awkward
            .monitor
            .custom_fields
            .insert("Empty".to_owned(), String::new());
        alerts.push((format!("{alert_type}, awkward"), awkward));

        let mut empty = Alert::default();
        empty.alert.alert_type = *alert_type;
        alerts.push((format!("{alert_type}, empty"), empty));
    }
    alerts
}

#[test]
fn the_text_part_says_what_the_html_part_says() {
    for (name, alert) in alerts() {
        let email = build(&alert);
        let html = parse_html(&email.html);
        let text = parse_text(&email.text);
        assert_eq!(
            text, html,
            "{name}:\n--- text ---\n{}\n--- html ---\n{}",
            email.text, email.html
        );
    }
}

#[test]
fn the_parts_are_parsed_for_real() {
    // The comparison above would pass on two empty parses: check that the parsers find things.
    let email = build(&alerts()[1].1);
    let html = parse_html(&email.html);
    assert_eq!(html.state.0, "Alert");
    assert_eq!(html.state.1, "Shop <b>&amp;</b> \"API\" — café ✓");
    assert!(html.description.starts_with("<script>") && html.description.contains('\n'));
    assert_eq!(html.level_message, "Call <Ann> & 'Bob'");
    assert_eq!(
        html.facts.first(),
        Some(&(
            "Monitor".to_owned(),
            "Shop <b>&amp;</b> \"API\" — café ✓".to_owned()
        ))
    );
    assert!(
        html.facts
            .contains(&("<Owner>".to_owned(), "R&D \"core\"".to_owned()))
    );
    assert!(
        html.facts.iter().all(|(label, _)| label != "Empty"),
        "an empty value is no fact"
    );
    assert_eq!(html.notes, "Please check the Route53 entries.\nThen call Ann.");
    assert_eq!(
        html.links,
        [
            (
                "First error".to_owned(),
                "https://app.example.com/checks/30099055746".to_owned()
            ),
            (
                "Monitor settings".to_owned(),
                "http://app.example.com/monitors/849b2046".to_owned()
            ),
        ],
        "a link that is not a web link is no button"
    );
    assert!(html.facts.len() >= 10, "{:?}", html.facts);
    // A difference is seen: a text part that lost a fact no longer says the same.
    let mut lost = email.text.clone();
    lost = lost.replace("Checkpoint:", "Checkpoint ");
    assert_ne!(parse_text(&lost), html);
}
