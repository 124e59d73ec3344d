//! Definitions indexed for routing.
//!
//! [`Catalog::new`] indexes the alert definitions by the monitors they select: by monitor guid
//! (lower-cased), by monitor name, by custom field (`tag:<field>=<value>`), plus the list of
//! definitions selecting `*`. Monitor groups are expanded at index time. Routing an alert then looks up
//! only the definitions that can cover its monitor, and visits them in definition order.
//!
//! Malformed selectors and unknown references (which [`validate`](crate::validate()) reports) are
//! skipped here: a definition reaches nothing through a selector it cannot parse, an attachment whose
//! integration does not exist reaches nothing, an unknown operator id adds no recipient.

use std::collections::{HashMap, HashSet};

use alert_model::{Alert, AlertType, IntegrationKind};

use crate::{
    AlertDefinition, Attachment, Definitions, EscalationLevel, Integration, Operator, selector::Selector,
};

/// Definitions, indexed once (per cache load) so that routing an alert does not scan them.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    definitions: Definitions,
    index: Index,
    /// For alerts addressed to one integration ([`alert_model::DeliverTo`]): an attachment of each
    /// integration with the defaults (by integration index), and an empty level 1 of an empty
    /// definition for a route whose level no longer exists.
    direct: Direct,
}

#[derive(Debug, Clone)]
struct Direct {
    attachments: Vec<Attachment>,
    definition: AlertDefinition,
}

impl Default for Direct {
    fn default() -> Self {
        Direct::build(&Definitions::default())
    }
}

impl Direct {
    fn build(definitions: &Definitions) -> Direct {
        let attachments = definitions
            .integrations
            .iter()
            .map(|integration| Attachment {
                integration: integration.id.clone(),
                active: true,
                send_ok: true,
                send_reminder: true,
                variables: Default::default(),
                extra_emails: Vec::new(),
                extra_phones: Vec::new(),
                service_links: Vec::new(),
            })
            .collect();
        let definition = AlertDefinition {
            id: String::new(),
            name: String::new(),
            active: true,
            monitors: Vec::new(),
            levels: vec![EscalationLevel {
                id: 1,
                active: true,
                message: String::new(),
                operators: Vec::new(),
                integrations: Vec::new(),
            }],
        };
        Direct {
            attachments,
            definition,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Index {
    integrations: HashMap<String, usize>,
    operators: HashMap<String, usize>,
    /// Operator group id → operator indexes (members that exist, in order).
    operator_groups: HashMap<String, Vec<usize>>,
    /// Alert definition id → index (first wins).
    definitions: HashMap<String, usize>,
    /// Definitions selecting `*`, in order.
    all: Vec<usize>,
    /// Lower-cased monitor guid → definitions, in order, without duplicates.
    by_guid: HashMap<String, Vec<usize>>,
    /// Monitor name → definitions.
    by_name: HashMap<String, Vec<usize>>,
    /// Custom field name → value → definitions.
    by_tag: HashMap<String, HashMap<String, Vec<usize>>>,
}

/// One attachment an alert reaches: definition → level → attachment → integration.
///
/// An integration reached through two definitions gives two routes, one per definition (each with
/// its own level message, per-level variables, extra e-mails and recipients).
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

/// Sizes of a catalog, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CatalogStats {
    /// Integrations.
    pub integrations: usize,
    /// Alert definitions.
    pub definitions: usize,
    /// Operators.
    pub operators: usize,
    /// Definitions selecting `*`.
    pub wildcard_definitions: usize,
    /// Distinct monitor guids indexed.
    pub indexed_guids: usize,
    /// Distinct monitor names indexed.
    pub indexed_names: usize,
    /// Distinct (custom field, value) pairs indexed.
    pub indexed_tags: usize,
}

/// Appends `value` unless it is already the last element (definitions are indexed in order, so this
/// keeps each list free of duplicates).
fn push_once(list: &mut Vec<usize>, value: usize) {
    if list.last() != Some(&value) {
        list.push(value);
    }
}

impl Index {
    fn build(definitions: &Definitions) -> Index {
        let mut index = Index::default();
        for (i, integration) in definitions.integrations.iter().enumerate() {
            index.integrations.entry(integration.id.clone()).or_insert(i);
        }
        for (i, operator) in definitions.operators.iter().enumerate() {
            index.operators.entry(operator.id.clone()).or_insert(i);
        }
        for group in &definitions.operator_groups {
            let members = group
                .members
                .iter()
                .filter_map(|member| index.operators.get(member).copied())
                .collect();
            index.operator_groups.entry(group.id.clone()).or_insert(members);
        }
        let monitor_groups: HashMap<&str, &[String]> = definitions
            .monitor_groups
            .iter()
            .rev() // the first group with an id wins
            .map(|group| (group.id.as_str(), group.monitors.as_slice()))
            .collect();

        for (d, definition) in definitions.alert_definitions.iter().enumerate() {
            index.definitions.entry(definition.id.clone()).or_insert(d);
            for text in &definition.monitors {
                match Selector::parse(text) {
                    Ok(Selector::Group(group)) => {
                        for text in monitor_groups.get(group).copied().unwrap_or_default() {
                            match Selector::parse(text) {
                                // Nested groups are refused by validation; ignore them here.
                                Ok(Selector::Group(_)) | Err(_) => {}
                                Ok(selector) => index.add(selector, d),
                            }
                        }
                    }
                    Ok(selector) => index.add(selector, d),
                    Err(_) => {}
                }
            }
        }
        index
    }

    fn add(&mut self, selector: Selector<'_>, definition: usize) {
        match selector {
            Selector::All => push_once(&mut self.all, definition),
            Selector::Guid(guid) => push_once(
                self.by_guid.entry(guid.to_ascii_lowercase()).or_default(),
                definition,
            ),
            Selector::Name(name) => push_once(self.by_name.entry(name.to_owned()).or_default(), definition),
            Selector::Tag(field, value) => push_once(
                self.by_tag
                    .entry(field.to_owned())
                    .or_default()
                    .entry(value.to_owned())
                    .or_default(),
                definition,
            ),
            Selector::Group(_) => {}
        }
    }

    /// Indexes of the definitions covering `alert`'s monitor, in definition order, no duplicates.
    fn covering(&self, alert: &Alert) -> Vec<usize> {
        let monitor = &alert.monitor;
        let mut found: Vec<usize> = self.all.clone();
        if !monitor.monitor_guid.is_empty()
            && let Some(list) = self.by_guid.get(&monitor.monitor_guid.to_ascii_lowercase())
        {
            found.extend(list);
        }
        if !monitor.name.is_empty()
            && let Some(list) = self.by_name.get(&monitor.name)
        {
            found.extend(list);
        }
        for (field, value) in &monitor.custom_fields {
            if let Some(list) = self.by_tag.get(field).and_then(|values| values.get(value)) {
                found.extend(list);
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }
}

impl Catalog {
    /// Indexes `definitions`.
    pub fn new(definitions: Definitions) -> Self {
        let index = Index::build(&definitions);
        let direct = Direct::build(&definitions);
        Catalog {
            definitions,
            index,
            direct,
        }
    }

    /// The definitions as loaded.
    pub fn definitions(&self) -> &Definitions {
        &self.definitions
    }

    /// The number of alert definitions.
    pub fn len(&self) -> usize {
        self.definitions.alert_definitions.len()
    }

    /// True when there is no alert definition (every alert then reaches nothing).
    pub fn is_empty(&self) -> bool {
        self.definitions.alert_definitions.is_empty()
    }

    /// Sizes, for a log line after each load.
    pub fn stats(&self) -> CatalogStats {
        CatalogStats {
            integrations: self.definitions.integrations.len(),
            definitions: self.definitions.alert_definitions.len(),
            operators: self.definitions.operators.len(),
            wildcard_definitions: self.index.all.len(),
            indexed_guids: self.index.by_guid.len(),
            indexed_names: self.index.by_name.len(),
            indexed_tags: self.index.by_tag.values().map(HashMap::len).sum(),
        }
    }

    /// The integration with this id.
    pub fn integration(&self, id: &str) -> Option<&Integration> {
        self.index
            .integrations
            .get(id)
            .map(|&i| &self.definitions.integrations[i])
    }

    /// The alert definition with this id.
    pub fn alert_definition(&self, id: &str) -> Option<&AlertDefinition> {
        self.index
            .definitions
            .get(id)
            .map(|&i| &self.definitions.alert_definitions[i])
    }

    /// The routes of `kind` that `alert` reaches: active definitions covering the monitor, the level
    /// the alert carries, active attachments of active integrations of this kind, Ok only where
    /// `sendOk`, Reminder only where `sendReminder`.
    ///
    /// - When `alert.alert_definition.guid` names an existing definition, only that definition is
    ///   considered (the sender said which definition produced the alert), whatever its selectors.
    ///   A guid that names no definition is ignored and the monitor decides.
    /// - The level is the one whose id is `alert.escalation_level.id` (1 when the sender gave none).
    /// - Routes come in definition order, then attachment order. An integration reached through two
    ///   definitions (or attached twice) gives one route per attachment: each carries its own
    ///   definition, level message, per-level variables and recipients. Deduplicating deliveries is the
    ///   caller's business (delivery keys include the definition).
    /// - Recipients: the level's operators and the members of its operator groups, in order, each once,
    ///   only active and on-duty ones. An id naming both an operator and a group is taken as the
    ///   operator.
    /// - An alert addressed to one integration (`deliverTo`, Tocsin's own notices) reaches that
    ///   integration only, if it is active and of this kind, whatever the definitions select and
    ///   whatever the integration's attachments say: see [`Catalog::direct_route`].
    pub fn routes(&self, alert: &Alert, kind: IntegrationKind) -> Vec<Route<'_>> {
        if let Some(target) = &alert.deliver_to {
            return self
                .direct_route(alert, &target.integration, kind)
                .into_iter()
                .collect();
        }
        let named = Some(alert.alert_definition.guid.as_str())
            .filter(|guid| !guid.is_empty())
            .and_then(|guid| self.index.definitions.get(guid).copied());
        let candidates = match named {
            Some(definition) => vec![definition],
            None => self.index.covering(alert),
        };
        let mut routes = Vec::new();
        for d in candidates {
            self.routes_of(&self.definitions.alert_definitions[d], alert, kind, &mut routes);
        }
        routes
    }

    fn routes_of<'a>(
        &'a self,
        definition: &'a AlertDefinition,
        alert: &Alert,
        kind: IntegrationKind,
        routes: &mut Vec<Route<'a>>,
    ) {
        if !definition.active {
            return;
        }
        let Some(level) = definition
            .levels
            .iter()
            .find(|level| level.id == alert.escalation_level.id)
        else {
            return;
        };
        if !level.active {
            return;
        }
        let mut recipients: Option<Vec<&'a Operator>> = None;
        for attachment in &level.integrations {
            if !attachment.active {
                continue;
            }
            let wanted = match alert.alert.alert_type {
                AlertType::Alert => true,
                AlertType::Ok => attachment.send_ok,
                AlertType::Reminder => attachment.send_reminder,
            };
            if !wanted {
                continue;
            }
            let Some(integration) = self.integration(&attachment.integration) else {
                continue;
            };
            if !integration.active || integration.kind != kind {
                continue;
            }
            let recipients = recipients.get_or_insert_with(|| self.recipients(level)).clone();
            routes.push(Route {
                definition,
                level,
                attachment,
                integration,
                recipients,
            });
        }
    }

    /// The route of an alert addressed to integration `id`: the level that `alertDefinition.guid`
    /// and `escalationLevel.id` name (its operators are the recipients; its attachment of the
    /// integration, when it has one, gives the per-level values and extra e-mails), else an empty
    /// level without recipients. `None` when the integration does not exist, is inactive or is of
    /// another kind.
    pub fn direct_route(&self, alert: &Alert, id: &str, kind: IntegrationKind) -> Option<Route<'_>> {
        let &i = self.index.integrations.get(id)?;
        let integration = &self.definitions.integrations[i];
        if !integration.active || integration.kind != kind {
            return None;
        }
        let named = self
            .alert_definition(&alert.alert_definition.guid)
            .and_then(|definition| {
                definition
                    .levels
                    .iter()
                    .find(|level| level.id == alert.escalation_level.id)
                    .map(|level| (definition, level))
            });
        let (definition, level) = named.unwrap_or_else(|| {
            let definition = &self.direct.definition;
            (definition, &definition.levels[0])
        });
        let attachment = level
            .integrations
            .iter()
            .find(|attachment| attachment.integration == id)
            .unwrap_or(&self.direct.attachments[i]);
        Some(Route {
            definition,
            level,
            attachment,
            integration,
            recipients: self.recipients(level),
        })
    }

    /// The fallback of integration `id` (its `fallback`), when that names another integration.
    pub fn fallback_of(&self, id: &str) -> Option<&Integration> {
        let fallback = self.integration(id)?.fallback.as_deref()?;
        (fallback != id).then(|| self.integration(fallback)).flatten()
    }

    /// Active, on-duty operators of `level`, groups expanded, each once, in order.
    pub fn recipients<'a>(&'a self, level: &EscalationLevel) -> Vec<&'a Operator> {
        let mut seen = HashSet::new();
        let mut recipients = Vec::new();
        for id in &level.operators {
            let members: &[usize] = match self.index.operators.get(id) {
                Some(operator) => std::slice::from_ref(operator),
                None => self
                    .index
                    .operator_groups
                    .get(id)
                    .map(Vec::as_slice)
                    .unwrap_or_default(),
            };
            for &m in members {
                let operator = &self.definitions.operators[m];
                if operator.active && operator.on_duty && seen.insert(m) {
                    recipients.push(operator);
                }
            }
        }
        recipients
    }
}
