//! Users' own Kubernetes manifests (`spec.manifests`): multi-document YAML such as the output
//! of `helm template`, applied on the stack's cluster with the same server-side apply,
//! ownership labels, waits and teardown as the app. Checked before any request: the YAML
//! parses, and every document is a mapping with `apiVersion`, `kind` and `metadata.name`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::shape::DNS_1123_LABEL;
use super::validate::{Rule, ValidationError, duplicates, push};

/// A set of Kubernetes objects applied as one resource of the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSpec {
    /// Name of the set (DNS-1123 label), unique in the stack.
    pub name: String,
    /// Namespace for namespaced objects that name none (defaults to the stack name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The objects, as multi-document YAML.
    pub yaml: String,
}

impl ManifestSpec {
    /// The set `name` made of the documents in `yaml`.
    pub fn new(name: impl Into<String>, yaml: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            namespace: None,
            yaml: yaml.into(),
        }
    }
    /// Sets the default namespace of its namespaced objects.
    #[must_use]
    pub fn namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }
    /// The namespace, defaulting to `stack`.
    pub fn namespace_or<'a>(&'a self, stack: &'a str) -> &'a str {
        self.namespace.as_deref().unwrap_or(stack)
    }
    /// The documents as JSON values (empty documents skipped), or what is wrong with the
    /// first document that is not an object with `apiVersion`, `kind` and `metadata.name`.
    pub fn documents(&self) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        for (i, doc) in serde_yaml_ng::Deserializer::from_str(&self.yaml).enumerate() {
            let value = Value::deserialize(doc).map_err(|e| format!("document {i}: {e}"))?;
            if value.is_null() {
                continue;
            }
            check_document(&value).map_err(|e| format!("document {i}: {e}"))?;
            out.push(value);
        }
        Ok(out)
    }
}

fn check_document(doc: &Value) -> Result<(), String> {
    let text = |p: &str| {
        doc.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if !doc.is_object() {
        return Err("is not a mapping".into());
    }
    for (pointer, field) in [
        ("/apiVersion", "apiVersion"),
        ("/kind", "kind"),
        ("/metadata/name", "metadata.name"),
    ] {
        if text(pointer).is_none() {
            return Err(format!("has no {field}"));
        }
    }
    Ok(())
}

/// Manifest sets: unique DNS-1123 names, a DNS-1123 namespace, YAML that parses into at least
/// one Kubernetes object, each with `apiVersion`, `kind` and `metadata.name`.
pub(super) fn check_manifests(manifests: &[ManifestSpec], errors: &mut Vec<ValidationError>) {
    for (i, m) in manifests.iter().enumerate() {
        let path = format!("spec.manifests[{i}]");
        push(
            errors,
            DNS_1123_LABEL.check(&format!("{path}.name"), "manifest name", &m.name),
        );
        if let Some(ns) = &m.namespace {
            push(
                errors,
                DNS_1123_LABEL.check(&format!("{path}.namespace"), "namespace", ns),
            );
        }
        let problem = match m.documents() {
            Ok(docs) if docs.is_empty() => Some("holds no Kubernetes object".to_string()),
            Ok(_) => None,
            Err(e) => Some(e),
        };
        if let Some(problem) = problem {
            errors.push(ValidationError::new(
                format!("{path}.yaml"),
                Rule::Format,
                format!("manifest `{}`: {problem}", m.name),
            ));
        }
    }
    for (i, first) in duplicates(manifests.iter().map(|m| m.name.as_str())) {
        errors.push(ValidationError::new(
            format!("spec.manifests[{i}].name"),
            Rule::Duplicate,
            format!(
                "manifest name `{}` is already used by spec.manifests[{first}]",
                manifests[i].name
            ),
        ));
    }
}
