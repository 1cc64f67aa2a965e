use super::*;

fn kind(path: &str) -> Option<FileKind> {
    kind_of(Path::new(path))
}

#[test]
fn workflows_are_recognised_by_their_keys() {
    let workflow = "name: x\non:\n  push:\njobs:\n  a:\n    container: node:22\n";
    assert_eq!(
        refine_kind(FileKind::Kubernetes, workflow),
        FileKind::Actions
    );
    let deployment = "apiVersion: v1\nkind: Pod\nspec:\n  containers: []\n";
    assert_eq!(
        refine_kind(FileKind::Kubernetes, deployment),
        FileKind::Kubernetes
    );
    assert_eq!(refine_kind(FileKind::Compose, workflow), FileKind::Compose);
    let action = "name: x\ndescription: y\nruns:\n  using: docker\n  image: docker://alpine:3\n";
    assert_eq!(refine_kind(FileKind::Kubernetes, action), FileKind::Actions);
    let stack = "\u{feff}version: '3.8'\nservices:\n  web:\n    image: nginx\n";
    assert_eq!(refine_kind(FileKind::Kubernetes, stack), FileKind::Compose);
}

#[test]
fn names_tell_the_kind() {
    assert_eq!(kind("a/Dockerfile"), Some(FileKind::Dockerfile));
    assert_eq!(kind("Containerfile.dev"), Some(FileKind::Dockerfile));
    assert_eq!(kind("api.Dockerfile"), Some(FileKind::Dockerfile));
    assert_eq!(kind("build.dockerfile"), Some(FileKind::Dockerfile));
    assert_eq!(kind("Dockerfile.prod"), Some(FileKind::Dockerfile));
    assert_eq!(kind("dockerfile"), None);
    assert_eq!(kind("compose.yaml"), Some(FileKind::Compose));
    assert_eq!(kind("docker-compose.override.yml"), Some(FileKind::Compose));
    assert_eq!(kind("x/.github/workflows/ci.yml"), Some(FileKind::Actions));
    assert_eq!(kind("x/action.yaml"), Some(FileKind::Actions));
    assert_eq!(kind("k8s/deploy.yaml"), Some(FileKind::Kubernetes));
    assert_eq!(kind("workflows/ci.yml"), Some(FileKind::Kubernetes));
    assert_eq!(kind("README.md"), None);
    assert_eq!(kind("chart/values.yaml"), Some(FileKind::HelmValues));
    assert_eq!(kind("values-prod.yml"), Some(FileKind::HelmValues));
    assert_eq!(kind("o/kustomization.yaml"), Some(FileKind::Kustomize));
    assert_eq!(kind("o/kustomization.yml"), Some(FileKind::Kustomize));
    assert_eq!(kind("o/Kustomization"), Some(FileKind::Kustomize));
    let pod = "apiVersion: v1\nkind: Pod\n";
    assert_eq!(refine_kind(FileKind::HelmValues, pod), FileKind::Kubernetes);
}

#[test]
fn ci_systems_are_told_by_their_names() {
    assert_eq!(kind(".gitlab-ci.yml"), Some(FileKind::GitlabCi));
    assert_eq!(kind("ci/build.gitlab-ci.yml"), Some(FileKind::GitlabCi));
    assert_eq!(kind("bitbucket-pipelines.yml"), Some(FileKind::Bitbucket));
    assert_eq!(kind("a/.circleci/config.yml"), Some(FileKind::Circleci));
    assert_eq!(kind(".drone.yml"), Some(FileKind::Drone));
    assert_eq!(kind(".woodpecker.yaml"), Some(FileKind::Drone));
    assert_eq!(kind(".woodpecker/test.yml"), Some(FileKind::Drone));
    assert_eq!(kind("cloudbuild.yaml"), Some(FileKind::Cloudbuild));
    assert_eq!(kind("deploy/cloudbuild.json"), Some(FileKind::Cloudbuild));
    assert_eq!(kind("azure-pipelines.yml"), Some(FileKind::Azure));
    assert_eq!(kind(".azure-pipelines/ci.yml"), Some(FileKind::Azure));
    assert_eq!(kind(".devcontainer.json"), Some(FileKind::Devcontainer));
    assert_eq!(
        kind("x/.devcontainer/devcontainer.json"),
        Some(FileKind::Devcontainer)
    );
    assert_eq!(
        kind(".devcontainer/python/devcontainer.json"),
        Some(FileKind::Devcontainer)
    );
    assert_eq!(kind("devcontainer.json"), None);
    assert_eq!(kind("docker-bake.hcl"), Some(FileKind::Bake));
    assert_eq!(kind("docker-bake.override.json"), Some(FileKind::Bake));
    assert_eq!(kind("package.json"), None);
    assert_eq!(kind("main.hcl"), None);
}

#[test]
fn content_wins_over_ci_names_and_tells_unnamed_ci_files() {
    let pod = "apiVersion: v1\nkind: Pod\nspec: {containers: []}\n";
    assert_eq!(refine_kind(FileKind::GitlabCi, pod), FileKind::Kubernetes);
    assert_eq!(refine_kind(FileKind::Azure, pod), FileKind::Kubernetes);
    let gitlab = "image: ruby:3\ntest:\n  script: [rake]\n";
    assert_eq!(refine_kind(FileKind::GitlabCi, gitlab), FileKind::GitlabCi);
    let bitbucket = "image: node:22\npipelines:\n  default: []\n";
    assert_eq!(
        refine_kind(FileKind::Kubernetes, bitbucket),
        FileKind::Bitbucket
    );
    let circleci = "version: 2.1\njobs: {}\nworkflows: {}\n";
    assert_eq!(
        refine_kind(FileKind::Kubernetes, circleci),
        FileKind::Circleci
    );
    let drone = "kind: pipeline\nsteps: []\nservices: []\n";
    assert_eq!(refine_kind(FileKind::Kubernetes, drone), FileKind::Drone);
}

#[test]
fn json_named_on_the_command_line_is_not_a_dockerfile() {
    let manifest = "\u{feff} {\"apiVersion\": \"v1\", \"kind\": \"Pod\"}";
    assert_eq!(
        refine_kind(FileKind::Dockerfile, manifest),
        FileKind::Kubernetes
    );
    assert_eq!(
        refine_kind(FileKind::Dockerfile, "// c\n[1,]"),
        FileKind::Kubernetes
    );
    assert_eq!(
        refine_kind(FileKind::Dockerfile, "/* c */ {\"image\": \"x\",}"),
        FileKind::Devcontainer
    );
    assert_eq!(
        refine_kind(FileKind::Dockerfile, "{\"steps\": []}"),
        FileKind::Cloudbuild
    );
    assert_eq!(
        refine_kind(FileKind::Dockerfile, "FROM\n"),
        FileKind::Dockerfile
    );
}

#[test]
fn excludes_match_folders_names_and_paths() {
    let ex = Excludes::new(&[
        "vendor".into(),
        "**/*.dev.Dockerfile".into(),
        "docs/*.yaml".into(),
    ])
    .unwrap();
    assert!(ex.matches(Path::new("vendor/x/Dockerfile")));
    assert!(ex.matches(Path::new("./vendor")));
    assert!(ex.matches(Path::new("a/b/app.dev.Dockerfile")));
    assert!(ex.matches(Path::new("docs/k.yaml")));
    assert!(!ex.matches(Path::new("src/Dockerfile")));
    assert!(Excludes::new(&["a[".into()]).is_err());
}

#[cfg(unix)]
#[test]
fn names_are_those_path_gives() {
    for path in [
        "a/b/Chart.yaml",
        "Chart.yaml",
        "/x/.gitlab-ci.yml",
        "é/ü.yaml",
    ] {
        let path = Path::new(path);
        let name = path.file_name().unwrap().as_encoded_bytes();
        assert_eq!(name_of(path), name, "{path:?}");
    }
}

#[test]
fn paths_sort_on_their_bytes_as_on_their_components() {
    let paths = [
        "a/b", "a.b", "ab", "a", "a/b/c", "a-b/c", "a/a", "/x", "/x/y", "b", "-x", "é/x", "e/x",
        "a b/c", "A/b", "a\tb", ".x/y", "a/.b",
    ];
    for x in paths {
        for y in paths {
            let (x, y) = (Path::new(x), Path::new(y));
            assert_eq!(path_order(x, y), x.cmp(y), "{x:?} {y:?}");
        }
    }
}

#[test]
fn paths_that_are_not_utf8_are_shown_escaped() {
    use std::os::unix::ffi::OsStrExt;
    let path = Path::new(std::ffi::OsStr::from_bytes(
        b"a\\b/Dockerfile.\xff\t\xc3\xa9",
    ));
    assert_eq!(escaped(path), "a\\\\b/Dockerfile.\\xff\\x09\u{e9}");
    assert_eq!(kind_of(path), Some(FileKind::Dockerfile));
    assert!(not_utf8(path).is_some());
    assert!(not_utf8(Path::new("é/Dockerfile")).is_none());
}

#[test]
fn display_paths_lose_leading_dot() {
    assert_eq!(
        display_path(Path::new("./a/Dockerfile")),
        PathBuf::from("a/Dockerfile")
    );
    assert_eq!(
        display_path(Path::new("Dockerfile")),
        PathBuf::from("Dockerfile")
    );
    // On Unix a backslash is a character of a name, not a folder separator.
    #[cfg(unix)]
    assert_eq!(
        display_path(Path::new("./back\\slash/Dockerfile")),
        PathBuf::from("back\\slash/Dockerfile")
    );
}
