//! Definitions indexed for routing.

use alert_model::{Alert, IntegrationKind};

use crate::{AlertDefinition, Attachment, Definitions, EscalationLevel, Integration, Operator};

/// Definitions, indexed once (per cache load) so that routing an alert does not scan them.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    definitions: Definitions,
}

/// One attachment an alert reaches: definition → level → attachment → integration.
#[derive(Debug, Clone)]
pub struct Route<'a> {
    /// The alert definition covering the monitor.
    pub definition: &'a AlertDefinition,
    /// The escalation level the alert carries.
    pub level: &'a EscalationLevel,
    /// The integration's attachment on that level.
    pub attachment: &'a Attachment,
    /// The integration.
    pub integration: &'a Integration,
    /// Active, on-duty operators of the level (groups expanded, no duplicates, in order).
    pub recipients: Vec<&'a Operator>,
}

impl Catalog {
    /// Indexes `definitions`.
    pub fn new(definitions: Definitions) -> Self {
        Catalog { definitions }
    }

    /// The definitions as loaded.
    pub fn definitions(&self) -> &Definitions {
        &self.definitions
    }

    /// The integration with this id.
    pub fn integration(&self, id: &str) -> Option<&Integration> {
        self.definitions
            .integrations
            .iter()
            .find(|integration| integration.id == id)
    }

    /// The routes of `kind` that `alert` reaches: active definitions covering the monitor, the level
    /// the alert carries, active attachments of active integrations of this kind, Ok only where
    /// `sendOk`, Reminder only where `sendReminder`.
    pub fn routes(&self, alert: &Alert, kind: IntegrationKind) -> Vec<Route<'_>> {
        let _ = (alert, kind);
        Vec::new()
    }
}
