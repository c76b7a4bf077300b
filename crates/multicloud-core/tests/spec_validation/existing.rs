//! An existing cluster: instead of `cluster`, never beside it; no database or cache on it
//! (they would need its network); no workload identities on an attached cluster; in YAML
//! as `existing_cluster: {id: ...}` or `existing_cluster: attached`.

use multicloud_core::spec::{ExistingCluster, Rule, StackSpec};

use super::{bad, good};

fn on_existing(s: &mut StackSpec, existing: ExistingCluster) {
    s.cluster = None;
    s.existing_cluster = Some(existing);
    s.database = None;
    s.cache = None;
}

#[test]
fn an_app_only_spec_on_an_existing_cluster_needs_no_cluster_block() {
    good(|s| on_existing(s, ExistingCluster::id("team-shared")));
    good(|s| {
        on_existing(s, ExistingCluster::Attached);
        s.workload_identities.clear();
    });
    // Without either, the apps say they need one.
    let message = bad(
        |s| {
            on_existing(s, ExistingCluster::id("x"));
            s.existing_cluster = None;
        },
        "spec.cluster",
        Rule::Unsupported,
    );
    assert!(message.contains("existing_cluster"), "{message}");
}

#[test]
fn an_existing_cluster_is_refused_beside_a_cluster_and_with_data_services() {
    bad(
        |s| {
            on_existing(s, ExistingCluster::id("team-shared"));
            s.cluster = Some(multicloud_core::spec::Cluster::new("1.31").node_pool(
                multicloud_core::spec::NodePool::new("general", "t3.medium", 1, 2),
            ));
        },
        "spec.existing_cluster",
        Rule::Unsupported,
    );
    let message = bad(
        |s| {
            on_existing(s, ExistingCluster::id("team-shared"));
            s.database = Some(multicloud_core::spec::Postgres::new("16"));
        },
        "spec.existing_cluster",
        Rule::Unsupported,
    );
    assert!(message.contains("a database"), "{message}");
    bad(
        |s| on_existing(s, ExistingCluster::id(" ")),
        "spec.existing_cluster.id",
        Rule::Required,
    );
    bad(
        |s| on_existing(s, ExistingCluster::Attached),
        "spec.workload_identities",
        Rule::Unsupported,
    );
}

#[test]
fn yaml_names_an_existing_cluster_by_id_or_as_attached() {
    let base = "name: shop\nenvironment: dev\nregion: us-east-1\n";
    let by_id = StackSpec::from_yaml(&format!("{base}existing_cluster:\n  id: team-shared\n"))
        .expect("by id");
    assert_eq!(
        by_id.existing_cluster,
        Some(ExistingCluster::id("team-shared"))
    );
    let attached =
        StackSpec::from_yaml(&format!("{base}existing_cluster: attached\n")).expect("attached");
    assert_eq!(attached.existing_cluster, Some(ExistingCluster::Attached));
    assert!(StackSpec::from_yaml(&format!("{base}existing_cluster: {{name: x}}\n")).is_err());
}
