//! YAML as people write it: plain maps instead of tags (the tagged form still loads), a
//! network given by its range only, and every error at its line and column with its field
//! path (and a suggestion for a misspelt name).

use multicloud_core::spec::{ImageRef, Network, SecretSource, SpecError, StackSpec};

use super::example;

const SHOP_YAML: &str = include_str!("../../../../examples/stacks/shop.yaml");

/// `shop.yaml` as earlier releases wrote it: YAML tags for the secret's source and the
/// app's image.
fn tagged_shop_yaml() -> String {
    let text = SHOP_YAML
        .replace(
            "    generated: {length: 32}\n",
            "    source: !generated\n      length: 32\n",
        )
        .replace(
            "    image: {registry: shop-api, tag: v1}\n",
            "    image: !registry\n      registry: shop-api\n      tag: v1\n",
        );
    assert!(text.contains("!generated") && text.contains("!registry"));
    text
}

#[test]
fn the_tagged_form_of_earlier_releases_still_loads() {
    let spec = StackSpec::from_yaml(&tagged_shop_yaml()).expect("the tagged form loads");
    assert_eq!(spec, example());
}

#[test]
fn a_secret_says_where_its_value_comes_from_without_tags() {
    let secrets = "name: shop\nenvironment: dev\nregion: us-east-1\nsecrets:\n\
        - {name: a, generated: {length: 40}}\n\
        - {name: b, from_env: API_KEY}\n\
        - {name: c, source: {generated: {length: 20}}}\n\
        - {name: d, source: {from_env: TOKEN}}\n\
        - {name: e, source: !generated {length: 24}}\n\
        - {name: f, source: !from_env {var: OLD_VAR}}\n";
    let spec = StackSpec::from_yaml(secrets).expect("valid");
    let sources: Vec<&SecretSource> = spec.secrets.iter().map(|s| &s.source).collect();
    let generated = |length| SecretSource::Generated { length };
    let env = |var: &str| SecretSource::FromEnv { var: var.into() };
    assert_eq!(
        sources,
        [
            &generated(40),
            &env("API_KEY"),
            &generated(20),
            &env("TOKEN"),
            &generated(24),
            &env("OLD_VAR")
        ]
    );
    // Written back plain, and read back the same.
    let text = spec.to_yaml().expect("yaml");
    assert!(!text.contains('!'), "no tags: {text}");
    assert!(
        text.contains("generated:") && text.contains("from_env: API_KEY"),
        "{text}"
    );
    assert_eq!(StackSpec::from_yaml(&text).expect("back"), spec);
}

#[test]
fn an_image_is_a_string_or_a_registry_and_tag() {
    let apps = |image: &str| {
        format!(
            "name: shop\nenvironment: dev\nregion: us-east-1\nexisting_cluster: attached\n\
             registries: [{{name: web}}]\napps:\n  - name: app\n    image: {image}\n"
        )
    };
    let registry = ImageRef::Registry {
        registry: "web".into(),
        tag: "v1".into(),
    };
    let external = ImageRef::External {
        image: "nginx:1.27".into(),
    };
    for (image, want) in [
        ("nginx:1.27", &external),
        ("{registry: web, tag: v1}", &registry),
        ("!registry {registry: web, tag: v1}", &registry),
        ("!external {image: \"nginx:1.27\"}", &external),
        ("{registry: {registry: web, tag: v1}}", &registry),
        ("{external: {image: \"nginx:1.27\"}}", &external),
    ] {
        let spec = StackSpec::from_yaml(&apps(image)).unwrap_or_else(|e| panic!("{image}: {e}"));
        assert_eq!(&spec.apps[0].image, want, "{image}");
        let text = spec.to_yaml().expect("yaml");
        assert!(!text.contains('!'), "{text}");
        assert_eq!(StackSpec::from_yaml(&text).expect("back"), spec, "{text}");
    }
    let text = StackSpec::from_yaml(&apps("nginx:1.27"))
        .expect("valid")
        .to_yaml()
        .expect("yaml");
    assert!(text.contains("image: nginx:1.27"), "{text}");
}

#[test]
fn a_network_with_only_its_range_gets_the_default_layout() {
    let short = SHOP_YAML.replace(
        "  zones: 2\n  public_subnets: [10.0.0.0/24, 10.0.1.0/24]\n  \
         private_subnets: [10.0.16.0/20, 10.0.32.0/20]\n",
        "",
    );
    assert!(
        short.contains("network:\n  cidr: 10.0.0.0/16\n\n"),
        "{short}"
    );
    assert_eq!(StackSpec::from_yaml(&short).expect("valid"), example());

    let three = short.replace("  cidr: 10.0.0.0/16\n", "  cidr: 10.1.0.0/16\n  zones: 3\n");
    let net = StackSpec::from_yaml(&three)
        .expect("valid")
        .network
        .expect("network");
    assert_eq!(net, {
        let mut want = Network::from_cidr("10.1.0.0/16");
        want.zones = 3;
        want.public_subnets.push("10.1.2.0/24".into());
        want.private_subnets.push("10.1.48.0/20".into());
        want
    });
}

/// The line (1-based) of the first line of `text` (comments left out) containing `needle`,
/// and the column where `needle` starts on it.
fn position(text: &str, needle: &str) -> (usize, usize) {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .find_map(|(i, l)| l.find(needle).map(|c| (i + 1, c + 1)))
        .unwrap_or_else(|| panic!("`{needle}` is not in the text"))
}

/// A table row: what, the change to shop.yaml (from, to), the text the error is at, what
/// its message says.
type Case = (
    &'static str,
    (&'static str, &'static str),
    &'static str,
    &'static [&'static str],
);

#[test]
fn every_yaml_error_points_at_its_line_and_column() {
    // (what, the change to shop.yaml, where the error is, what its message says)
    let cases: &[Case] = &[
        (
            "bad ttl",
            ("ttl: 4h", "ttl: 4x"),
            "4x",
            &["spec.ttl", "unit `x`"],
        ),
        (
            "missing network field",
            ("  cidr: 10.0.0.0/16\n", ""),
            "network:",
            &["spec.network", "missing field `cidr`"],
        ),
        (
            "unknown field",
            (
                "  storage_gb: 20\n",
                "  storage_gb: 20\n  storage_size: 20\n",
            ),
            "storage_size",
            &["unknown field `storage_size`", "did you mean `storage_gb`?"],
        ),
        (
            "wrong type",
            ("  storage_gb: 20\n", "  storage_gb: lots\n"),
            "lots",
            &["spec.database.storage_gb", "invalid type"],
        ),
        (
            "misspelt top-level field",
            ("region: us-east-1", "regoin: us-east-1"),
            "regoin",
            &["did you mean `region`?"],
        ),
        (
            "misspelt variant",
            ("    expose: load_balancer", "    expose: load_balancr"),
            "load_balancr",
            &["spec.apps[0].expose", "did you mean `load_balancer`?"],
        ),
        (
            "misspelt key in a flow map",
            ("generated: {length: 32}", "generated: {lenght: 32}"),
            "lenght",
            &["did you mean `length`?"],
        ),
        (
            "an image without its tag",
            (
                "image: {registry: shop-api, tag: v1}",
                "image: {registry: shop-api}",
            ),
            "image:",
            &["spec.apps[0].image", "missing field `tag`"],
        ),
        (
            "wrong type in a list item",
            ("    port: 8080", "    port: http"),
            "http",
            &["spec.apps[0].port", "invalid type"],
        ),
        (
            "a secret without a source",
            ("    generated: {length: 32}\n", ""),
            "- name: api-token",
            &["spec.secrets[0]", "needs where its value comes from"],
        ),
        (
            "an existing cluster's misspelt key",
            ("ttl: 4h", "ttl: 4h\nexisting_cluster: {idd: shop}"),
            "idd",
            &["did you mean `id`?"],
        ),
    ];
    for (what, (from, to), at, says) in cases {
        assert!(SHOP_YAML.contains(from), "{what}: `{from}` is in shop.yaml");
        let text = SHOP_YAML.replacen(from, to, 1);
        match StackSpec::from_yaml(&text) {
            Err(SpecError::Yaml { location, message }) => {
                let (line, column) = position(&text, at);
                // A key is pointed at where its name starts (`- name` at the name).
                let column = column + at.find(|c: char| c.is_alphanumeric()).unwrap_or(0);
                assert_eq!(location, Some((line, column)), "{what}: {message}");
                for part in *says {
                    assert!(message.contains(part), "{what}: `{part}` in {message}");
                }
            }
            other => panic!("{what}: expected SpecError::Yaml, got {other:?}"),
        }
    }
}

#[test]
fn validation_errors_of_a_yaml_spec_carry_their_line_and_column() {
    let text = SHOP_YAML
        .replace("      max: 5\n", "      max: 0\n")
        .replace("ttl: 4h", "ttl: 1m")
        .replace("  cidr: 10.0.0.0/16\n", "  cidr: 10.0.0.0/8\n");
    let Err(SpecError::Invalid(errors)) = StackSpec::from_yaml(&text) else {
        panic!("expected validation errors");
    };
    for (path, at) in [
        ("spec.cluster.node_pools[0].max", "0"),
        ("spec.ttl", "1m"),
        ("spec.network.cidr", "10.0.0.0/8"),
    ] {
        let error = errors
            .at(path)
            .unwrap_or_else(|| panic!("no error at {path}: {errors}"));
        let needle = match path {
            "spec.cluster.node_pools[0].max" => "max: 0",
            _ => at,
        };
        let (line, column) = position(&text, needle);
        let column = column + needle.find(at).unwrap_or(0);
        assert_eq!(error.location, Some((line, column)), "{path}: {error}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("{path} (line {line}, column {column}): ")),
            "{error}"
        );
    }
    // A spec built in code has no positions.
    let mut built = example();
    built.ttl = Some(std::time::Duration::from_secs(60));
    let errors = built.validate().expect_err("a ttl of one minute");
    assert!(
        errors.errors().iter().all(|e| e.location.is_none()),
        "{errors}"
    );
    assert!(errors.to_string().contains("spec.ttl: "), "{errors}");
}
