//! `VoiceSettings` (what a voice integration may set) and `VoiceTarget` (the settings, checked).

use definition_store::{Integration, rules};
use notify_core::{NotifyError, sms_voice};
use serde::Deserialize;

/// The settings of a voice integration: the origination identity is required.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VoiceSettings {
    /// Where the calls come from: a voice-capable phone number of the account (E.164, or its id
    /// `phone-…` or ARN) or a pool of them (`pool-…` or its ARN); a number or pool shared by
    /// another account by its full ARN.
    pub origination_identity: String,
    /// The language of the call: the built-in script's words and the default voice
    /// (default `en-US`).
    #[serde(default)]
    pub language: Option<Language>,
    /// The Amazon Polly voice (`Joanna`, `Hans`, … in any case): it must speak the call's
    /// language (default: the language's own voice).
    #[serde(default)]
    pub voice_id: Option<String>,
    /// The spoken script: an SSML template of what goes inside `<speak>`, with alert values
    /// XML-escaped; besides the alert variables it may use `{{SpokenName}}`, `{{SpokenError}}`
    /// and `{{MinutesSinceFirstError}}` (default: the built-in `voice.ssml.<language>`). Its text
    /// is cut (never its tags) so that the call stays within 6,000 characters.
    #[serde(default)]
    pub ssml: Option<String>,
    /// The monitor's custom field read aloud instead of its name when the monitor has it (a name
    /// written for speech; default `NameForPhoneAlerts`).
    #[serde(default)]
    pub spoken_name_field: Option<String>,
    /// How long, in seconds, the service may keep trying to place a call (5 to 259200; default
    /// 3600: an alert call hours late helps nobody, the service's own default is 72 hours).
    #[serde(default)]
    pub time_to_live: Option<u32>,
}

/// The language of a call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum Language {
    /// English (US).
    #[default]
    #[serde(rename = "en-US")]
    EnUs,
    /// English (UK).
    #[serde(rename = "en-GB")]
    EnGb,
    /// English (Australia).
    #[serde(rename = "en-AU")]
    EnAu,
    /// English (India).
    #[serde(rename = "en-IN")]
    EnIn,
    /// German.
    #[serde(rename = "de-DE")]
    DeDe,
    /// French (France).
    #[serde(rename = "fr-FR")]
    FrFr,
    /// French (Canada).
    #[serde(rename = "fr-CA")]
    FrCa,
    /// Dutch.
    #[serde(rename = "nl-NL")]
    NlNl,
    /// Spanish (Spain).
    #[serde(rename = "es-ES")]
    EsEs,
    /// Spanish (US).
    #[serde(rename = "es-US")]
    EsUs,
    /// Spanish (Mexico).
    #[serde(rename = "es-MX")]
    EsMx,
}

impl Language {
    /// Every language.
    pub const ALL: &'static [Language] = &[
        Language::EnUs,
        Language::EnGb,
        Language::EnAu,
        Language::EnIn,
        Language::DeDe,
        Language::FrFr,
        Language::FrCa,
        Language::NlNl,
        Language::EsEs,
        Language::EsUs,
        Language::EsMx,
    ];

    /// Its code (`en-US`).
    pub fn code(self) -> &'static str {
        match self {
            Language::EnUs => "en-US",
            Language::EnGb => "en-GB",
            Language::EnAu => "en-AU",
            Language::EnIn => "en-IN",
            Language::DeDe => "de-DE",
            Language::FrFr => "fr-FR",
            Language::FrCa => "fr-CA",
            Language::NlNl => "nl-NL",
            Language::EsEs => "es-ES",
            Language::EsUs => "es-US",
            Language::EsMx => "es-MX",
        }
    }

    /// The language without its region (`en`): the built-in script is `voice.ssml.<it>`.
    pub fn base(self) -> &'static str {
        base_language(self.code())
    }

    /// The voice that speaks it when the integration names none.
    pub fn default_voice(self) -> &'static str {
        match self {
            Language::EnUs => "JOANNA",
            Language::EnGb => "AMY",
            Language::EnAu => "NICOLE",
            Language::EnIn => "RAVEENA",
            Language::DeDe => "VICKI",
            Language::FrFr => "LEA",
            Language::FrCa => "CHANTAL",
            Language::NlNl => "LOTTE",
            Language::EsEs => "LUCIA",
            Language::EsUs => "LUPE",
            Language::EsMx => "MIA",
        }
    }
}

/// `en` of `en-GB-WLS`.
fn base_language(code: &str) -> &str {
    code.split('-').next().unwrap_or(code)
}

/// The custom field read instead of the monitor's name by default (the product's
/// `NameForPhoneAlerts`).
pub const DEFAULT_SPOKEN_NAME_FIELD: &str = "NameForPhoneAlerts";

/// How long the service may try to place a call by default, in seconds.
pub const DEFAULT_TIME_TO_LIVE: u32 = 3600;

/// The settings of one voice integration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceTarget {
    /// `OriginationIdentity`.
    pub origination_identity: String,
    /// The call's language.
    pub language: Language,
    /// `VoiceId`, as the API spells it.
    pub voice_id: String,
    /// The SSML template, if the integration overrides the built-in one.
    pub ssml: Option<String>,
    /// The custom field of the spoken name.
    pub spoken_name_field: String,
    /// `TimeToLive`.
    pub time_to_live: u32,
}

impl VoiceTarget {
    /// The target of `integration`; errors are permanent and name the integration and the path.
    pub fn parse(integration: &Integration) -> Result<VoiceTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::VoiceNotifier>(integration)?;
        if let Some((path, problem)) = problems(&settings).into_iter().next() {
            return Err(NotifyError::permanent(format!(
                "integration `{}`: `{path}`: {problem}",
                integration.id
            )));
        }
        let language = settings.language.unwrap_or_default();
        Ok(VoiceTarget {
            origination_identity: settings.origination_identity.trim().to_owned(),
            language,
            voice_id: settings
                .voice_id
                .map(|voice| voice.trim().to_ascii_uppercase())
                .unwrap_or_else(|| language.default_voice().to_owned()),
            ssml: settings.ssml,
            spoken_name_field: settings
                .spoken_name_field
                .unwrap_or_else(|| DEFAULT_SPOKEN_NAME_FIELD.to_owned()),
            time_to_live: settings.time_to_live.unwrap_or(DEFAULT_TIME_TO_LIVE),
        })
    }
}

/// What is wrong with `settings` beyond their types: `(path, problem)`.
pub(crate) fn problems(settings: &VoiceSettings) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if let Some(problem) = origination_problem(settings.origination_identity.trim()) {
        problems.push(("settings.originationIdentity", problem));
    }
    let language = settings.language.unwrap_or_default();
    if let Some(voice) = &settings.voice_id {
        let spelled = voice.trim().to_ascii_uppercase();
        match sms_voice::voice_language(&spelled) {
            None => problems.push((
                "settings.voiceId",
                format!(
                    "`{voice}` is not an Amazon Polly voice of the service (known: {})",
                    sms_voice::VOICES
                        .iter()
                        .map(|(name, _)| *name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            Some(spoken) if base_language(spoken) != language.base() => problems.push((
                "settings.voiceId",
                format!(
                    "the voice `{voice}` speaks {spoken}, the call is in {} (`settings.language`): choose a \
                     voice of that language or set the language",
                    language.code()
                ),
            )),
            Some(_) => {}
        }
    }
    if let Some(field) = &settings.spoken_name_field
        && field.trim().is_empty()
    {
        problems.push((
            "settings.spokenNameField",
            "the name of a custom field, not empty".to_owned(),
        ));
    }
    if let Some(ttl) = settings.time_to_live
        && !(5..=259_200).contains(&ttl)
    {
        problems.push((
            "settings.timeToLive",
            format!("{ttl} seconds; the service takes 5 to 259200 (72 hours)"),
        ));
    }
    problems
}

/// Why `identity` cannot be an origination identity of a voice call, if it cannot.
fn origination_problem(identity: &str) -> Option<String> {
    const WHAT: &str = "an origination identity is a voice-capable phone number in E.164 (+18005550100), its id \
                        (phone-…) or ARN, or a pool's id (pool-…) or ARN";
    if identity.is_empty() {
        return Some(format!("empty: {WHAT}"));
    }
    if identity.starts_with('+') {
        return rules::phone_problem(identity).map(str::to_owned);
    }
    let id_problem = |id: &str| {
        let (_, hex) = id.split_once('-')?;
        let valid = !hex.is_empty() && hex.len() <= 64 && hex.chars().all(|c| c.is_ascii_alphanumeric());
        (!valid).then(|| format!("`{id}` is not an id: {WHAT}"))
    };
    if identity.starts_with("phone-") || identity.starts_with("pool-") {
        return id_problem(identity);
    }
    if let Some(rest) = identity.strip_prefix("arn:") {
        // arn:<partition>:sms-voice:<region>:<account>:(phone-number|pool)/<id>
        let fields: Vec<&str> = rest.splitn(5, ':').collect();
        let resource = fields.get(4).and_then(|resource| resource.split_once('/'));
        let valid = fields.len() == 5
            && fields[0].starts_with("aws")
            && fields[1] == "sms-voice"
            && !fields[2].is_empty()
            && fields[3].len() == 12
            && fields[3].chars().all(|c| c.is_ascii_digit())
            && matches!(resource, Some(("phone-number" | "pool", id)) if id_problem(id).is_none());
        return (!valid).then(|| {
            format!("not the ARN of a phone number or pool of sms-voice (arn:aws:sms-voice:<region>:<account>:phone-number/phone-…): {WHAT}")
        });
    }
    Some(format!("`{identity}`: {WHAT}"))
}
