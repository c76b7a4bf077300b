//! ARM's list operations on the emulator, as Microsoft's SDKs call them: the resources of a
//! type by resource group (`ManagedClusters_ListByResourceGroup`) and by subscription
//! (`ManagedClusters_List`), children (`AgentPools_List`), the group's generic resource list
//! with its tag `$filter`, `nextLink` paging by `$top` or page size with `$skiptoken`, and
//! the 404/400 answers in ARM's shape.

mod support;

use azure_core::http::Method;
use multicloud_azure_emulator::{Emulator, EmulatorConfig};
use serde_json::{Value, json};
use support::examples::{example, keys};
use support::{Answer, Arm};

const AKS: &str = "Microsoft.ContainerService/managedClusters";
const AKS_VERSION: &str = "2026-08-01";
const RESOURCES: &str = "2025-04-01";

async fn start(config: EmulatorConfig) -> (Emulator, Arm) {
    let emu = Emulator::start(config)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let arm = Arm::new(&emu);
    (emu, arm)
}

/// Creates group `rg` and, in it, the clusters `names` with the create example's body and
/// `tags`.
async fn clusters(arm: &Arm, rg: &str, names: &[&str], tags: Value) {
    let group = format!("{}/resourcegroups/{rg}", arm.sub);
    let made = arm
        .call(
            Method::Put,
            &group,
            RESOURCES,
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert!(made.status == 201 || made.status == 200, "{made:?}");
    let mut body = example(
        "Microsoft.ContainerService/2026-08-01/ManagedClustersCreate_Update.json",
    )["parameters"]["parameters"]
        .clone();
    body["tags"] = tags;
    for name in names {
        let path = format!("{}/resourceGroups/{rg}/providers/{AKS}/{name}", arm.sub);
        let r = arm
            .call(Method::Put, &path, AKS_VERSION, Some(body.clone()))
            .await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }
}

/// `GET path` at `version`.
async fn get(arm: &Arm, path: &str, version: &str) -> Answer {
    arm.call(Method::Get, path, version, None).await
}

/// The ids in a page.
fn ids(page: &Answer) -> Vec<String> {
    page.json()["value"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|i| i["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// ARM's error shape: `x-ms-error-code` and `{"error": {"code", "message"}}`.
fn assert_error(r: &Answer, status: u16, code: &str) -> String {
    assert_eq!(
        (r.status, r.error_code.as_deref()),
        (status, Some(code)),
        "{r:?}"
    );
    let body = r.json();
    assert_eq!(keys(&body), vec!["error"]);
    assert_eq!(keys(&body["error"]), vec!["code", "message"]);
    assert_eq!(body["error"]["code"], code);
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn clusters_are_listed_by_resource_group_and_by_subscription_like_get() {
    let (_emu, arm) = start(EmulatorConfig::default()).await;
    clusters(
        &arm,
        "rg1",
        &["c2", "c1", "c3"],
        json!({"tier": "production"}),
    )
    .await;
    clusters(&arm, "rg2", &["other"], json!({})).await;
    let pool = example("Microsoft.ContainerService/2026-08-01/AgentPoolsCreate_Update.json");
    let c1 = format!("{}/resourceGroups/rg1/providers/{AKS}/c1", arm.sub);
    let r = arm
        .call(
            Method::Put,
            &format!("{c1}/agentPools/pool1"),
            AKS_VERSION,
            Some(pool["parameters"]["parameters"].clone()),
        )
        .await;
    assert_eq!(r.status, 201);

    // What the Python SDK's managed_clusters.list_by_resource_group sends.
    let by_group = format!("{}/resourceGroups/rg1/providers/{AKS}", arm.sub);
    let page = get(&arm, &by_group, AKS_VERSION).await;
    assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
    assert_eq!(keys(&page.json()), vec!["value"], "one page: no nextLink");
    let want: Vec<String> = ["c1", "c2", "c3"]
        .iter()
        .map(|n| format!("{}/resourceGroups/rg1/providers/{AKS}/{n}", arm.sub))
        .collect();
    assert_eq!(
        ids(&page),
        want,
        "the clusters of rg1 only (no agent pool), by id"
    );
    // Each item is the resource as GET shows it, shaped like ManagedClustersGet.json.
    let got = get(&arm, &c1, AKS_VERSION).await;
    assert_eq!(page.json()["value"][0], got.json());
    let example_get = &example("Microsoft.ContainerService/2026-08-01/ManagedClustersGet.json")["responses"]
        ["200"]["body"];
    for k in ["id", "name", "type", "location", "tags", "properties"] {
        assert!(
            example_get.get(k).is_some() && got.json().get(k).is_some(),
            "{k}"
        );
    }
    assert_eq!(page.json()["value"][1]["tags"]["tier"], "production");

    let by_sub = format!("{}/providers/{AKS}", arm.sub);
    let all = get(&arm, &by_sub, AKS_VERSION).await;
    assert_eq!(all.status, 200);
    assert_eq!(ids(&all).len(), 4);
    assert!(ids(&all).iter().any(|id| id.ends_with(
        "/resourceGroups/rg2/providers/Microsoft.ContainerService/managedClusters/other"
    )));
    let registries = format!(
        "{}/providers/Microsoft.ContainerRegistry/registries",
        arm.sub
    );
    let none = get(&arm, &registries, "2025-11-01").await;
    assert_eq!((none.status, ids(&none).len()), (200, 0));

    // Children: AgentPools_List.
    let pools = get(&arm, &format!("{c1}/agentPools"), AKS_VERSION).await;
    assert_eq!(ids(&pools), vec![format!("{c1}/agentPools/pool1")]);
    assert_eq!(
        pools.json()["value"][0]["type"],
        "Microsoft.ContainerService/managedClusters/agentPools"
    );
}

/// Follows `nextLink`s from `first`, returning the pages' ids and their links.
async fn follow(arm: &Arm, first: Answer) -> (Vec<Vec<String>>, Vec<String>) {
    let (mut pages, mut links) = (Vec::new(), Vec::new());
    let mut page = first;
    loop {
        assert_eq!(page.status, 200, "{}", String::from_utf8_lossy(&page.body));
        pages.push(ids(&page));
        let Some(next) = page.json()["nextLink"].as_str().map(str::to_string) else {
            break;
        };
        links.push(next.clone());
        page = arm.get_url(&next).await;
        assert!(pages.len() < 20, "paging does not end");
    }
    (pages, links)
}

#[tokio::test]
async fn lists_page_with_next_link_by_top_or_page_size() {
    let (_emu, arm) = start(EmulatorConfig::default()).await;
    clusters(&arm, "rg", &["a", "b", "c", "d", "e"], json!({})).await;
    let by_group = format!("{}/resourceGroups/rg/providers/{AKS}", arm.sub);
    let everything = ids(&get(&arm, &by_group, AKS_VERSION).await);
    assert_eq!(everything.len(), 5);

    let first = get(&arm, &format!("{by_group}?$top=2"), AKS_VERSION).await;
    let (pages, links) = follow(&arm, first).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![2, 2, 1]
    );
    assert_eq!(pages.concat(), everything, "every item once, in order");
    for link in &links {
        assert!(
            link.starts_with(&format!("https://management.azure.com{by_group}?")),
            "{link}"
        );
        for part in ["api-version=2026-08-01", "$top=2", "$skiptoken="] {
            assert!(link.contains(part), "{link} has no {part}");
        }
    }

    // Without $top, the configured page size; the generic list pages the same way.
    let (_emu, arm) = start(EmulatorConfig {
        page_size: 2,
        ..EmulatorConfig::default()
    })
    .await;
    clusters(&arm, "rg", &["a", "b", "c", "d", "e"], json!({})).await;
    let first = get(&arm, &by_group, AKS_VERSION).await;
    let (pages, _) = follow(&arm, first).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![2, 2, 1]
    );
    let generic = format!("{}/resourceGroups/rg/resources", arm.sub);
    let first = get(&arm, &generic, RESOURCES).await;
    let (pages, _) = follow(&arm, first).await;
    assert_eq!(pages.concat(), everything);
    assert_eq!(pages.len(), 3);
    // A page whose first item was deleted meanwhile continues with the next one.
    let first = get(&arm, &by_group, AKS_VERSION).await;
    let next = first.json()["nextLink"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let gone = arm
        .call(Method::Delete, &everything[2], AKS_VERSION, None)
        .await;
    assert_eq!(gone.status, 200);
    assert_eq!(ids(&arm.get_url(&next).await), everything[3..5].to_vec());
}

/// The generic resource list of group `rg` with `$filter=filter` (percent-encoded).
async fn filtered(arm: &Arm, filter: &str) -> Answer {
    let path = format!(
        "{}/resourceGroups/rg/resources?$filter={}",
        arm.sub,
        filter.replace(' ', "%20").replace('\'', "%27")
    );
    get(arm, &path, RESOURCES).await
}

#[tokio::test]
async fn the_group_resource_list_filters_by_tag_as_arm_does() {
    let (_emu, arm) = start(EmulatorConfig::default()).await;
    clusters(
        &arm,
        "rg",
        &["prod1", "prod2"],
        json!({"env": "prod", "team": "a"}),
    )
    .await;
    clusters(&arm, "rg", &["dev1"], json!({"env": "dev"})).await;
    clusters(&arm, "rg", &["bare"], json!({})).await;
    let name = |id: &String| id.rsplit('/').next().unwrap_or_default().to_string();

    let all = get(
        &arm,
        &format!("{}/resourceGroups/rg/resources", arm.sub),
        RESOURCES,
    )
    .await;
    assert_eq!(ids(&all).len(), 4);
    // GenericResource: id, name, type, location, tags (not the properties).
    assert_eq!(
        keys(&all.json()["value"][0]),
        vec!["id", "location", "name", "tags", "type"]
    );

    let prod = filtered(&arm, "tagName eq 'env' and tagValue eq 'prod'").await;
    assert_eq!(
        ids(&prod).iter().map(name).collect::<Vec<_>>(),
        vec!["prod1", "prod2"]
    );
    // "When resources are filtered by tag name and value, the original tags for each
    // resource will not be returned in the results."
    assert!(prod.json()["value"][0].get("tags").is_none());

    let tagged = filtered(&arm, "tagName eq 'ENV'").await;
    assert_eq!(
        ids(&tagged).iter().map(name).collect::<Vec<_>>(),
        vec!["dev1", "prod1", "prod2"]
    );
    assert_eq!(tagged.json()["value"][0]["tags"]["env"], "dev");

    let none = filtered(&arm, "tagName eq 'env' and tagValue eq 'PROD'").await;
    assert_eq!(
        (none.status, ids(&none).len()),
        (200, 0),
        "tag values match exactly"
    );
    let typed = filtered(
        &arm,
        "resourceType eq 'Microsoft.ContainerService/managedClusters'",
    )
    .await;
    assert_eq!(ids(&typed).len(), 4);

    // Resource groups filter by tag too.
    let group = format!("{}/resourcegroups/tagged", arm.sub);
    let body = json!({"location": "westeurope", "tags": {"owner": "me"}});
    assert_eq!(
        arm.call(Method::Put, &group, RESOURCES, Some(body))
            .await
            .status,
        201
    );
    let groups = get(
        &arm,
        &format!(
            "{}/resourcegroups?$filter=tagName%20eq%20%27owner%27%20and%20tagValue%20eq%20%27me%27",
            arm.sub
        ),
        RESOURCES,
    )
    .await;
    assert_eq!(
        ids(&groups),
        vec![format!("{}/resourceGroups/tagged", arm.sub)]
    );
}

#[tokio::test]
async fn list_errors_have_arms_codes_and_shape() {
    let (emu, arm) = start(EmulatorConfig::default()).await;
    clusters(&arm, "rg", &["c1"], json!({})).await;
    let sub = arm.sub.clone();

    let missing = get(
        &arm,
        &format!("{sub}/resourceGroups/nope/providers/{AKS}"),
        AKS_VERSION,
    )
    .await;
    let message = assert_error(&missing, 404, "ResourceGroupNotFound");
    assert_eq!(message, "Resource group 'nope' could not be found.");
    let missing = get(
        &arm,
        &format!("{sub}/resourceGroups/nope/resources"),
        RESOURCES,
    )
    .await;
    assert_error(&missing, 404, "ResourceGroupNotFound");
    let orphan = get(
        &arm,
        &format!("{sub}/resourceGroups/rg/providers/{AKS}/nope/agentPools"),
        AKS_VERSION,
    )
    .await;
    assert_error(&orphan, 404, "ParentResourceNotFound");

    let by_group = format!("{sub}/resourceGroups/rg/providers/{AKS}");
    for top in ["0", "1001", "two"] {
        let r = get(&arm, &format!("{by_group}?$top={top}"), AKS_VERSION).await;
        let message = assert_error(&r, 400, "InvalidTopInQueryString");
        assert!(message.contains(&format!("'{top}'")), "{message}");
    }
    let r = get(
        &arm,
        &format!("{by_group}?$skiptoken=garbage!"),
        AKS_VERSION,
    )
    .await;
    assert_error(&r, 400, "InvalidSkipToken");
    let r = get(
        &arm,
        &format!("{sub}/resourceGroups/rg/resources?$filter=name%20eq%20%27c1%27"),
        RESOURCES,
    )
    .await;
    let message = assert_error(&r, 400, "InvalidFilterInQueryString");
    assert_eq!(
        message,
        "Invalid $filter 'name eq 'c1'' specified in the query string."
    );

    let no_version = support::send(
        emu.transport().as_ref(),
        Method::Get,
        &format!("https://management.azure.com{by_group}"),
        None,
        true,
    )
    .await;
    assert_error(&no_version, 400, "MissingApiVersionParameter");
    let r = get(
        &arm,
        &format!("{sub}/resourceGroups/rg/nothing/here"),
        RESOURCES,
    )
    .await;
    let message = assert_error(&r, 404, "InvalidRequestUri");
    assert!(message.starts_with("No route for "), "{message}");
}
