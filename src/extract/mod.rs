//! Extraction: the bytes of one file in, the image references it holds out.
//!
//! Extractors are pure functions of the file's text, one module per kind of file.
//! Each reference carries the exact byte span of its text, where it was found, and
//! either the parsed image or the reason it is skipped.

pub mod actions;
pub mod azure;
pub mod bake;
pub mod bitbucket;
pub mod circleci;
pub mod cloudbuild;
pub mod compose;
pub mod devcontainer;
pub mod dockerfile;
pub mod drone;
pub mod gitlab;
pub mod helm_values;
pub(crate) mod json;
pub mod kubernetes;
pub mod kustomize;
pub mod patterns;
mod prefilter;
mod yaml;

use std::collections::HashMap;

use serde::Serialize;
use thiserror::Error;

use crate::reference::ImageRef;
use crate::source::{LineIndex, Position, Span, position_in};

/// The kinds of file `pin` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileKind {
    /// `Dockerfile`, `Containerfile`, `*.Dockerfile`, `Dockerfile.*`, …
    Dockerfile,
    /// docker-compose files.
    Compose,
    /// Kubernetes manifests and Helm templates.
    Kubernetes,
    /// GitHub Actions workflows and action metadata.
    Actions,
    /// GitLab CI files.
    GitlabCi,
    /// `bitbucket-pipelines.yml`.
    Bitbucket,
    /// CircleCI configuration.
    Circleci,
    /// Drone and Woodpecker pipelines.
    Drone,
    /// Google Cloud Build configuration.
    Cloudbuild,
    /// Azure Pipelines.
    Azure,
    /// Dev container configuration (JSON with comments).
    Devcontainer,
    /// docker-bake files (HCL or JSON).
    Bake,
    /// Helm values (`values*.yaml`, YAML beside a `Chart.yaml`).
    HelmValues,
    /// Kustomize's `kustomization.yaml`.
    Kustomize,
    /// A file read only by the `[[patterns]]` of `pin.toml`.
    Patterns,
}

/// Where in a file a reference was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Site {
    /// A `FROM` operand.
    From,
    /// `COPY --from=<image>`.
    CopyFrom,
    /// `RUN --mount=…,from=<image>`.
    RunMountFrom,
    /// `ONBUILD COPY --from=<image>`.
    OnbuildCopyFrom,
    /// `ONBUILD RUN --mount=…,from=<image>`.
    OnbuildRunMountFrom,
    /// The `# syntax=` parser directive.
    Syntax,
    /// The default of a global `ARG` that is used as a whole `FROM` operand.
    ArgDefault,
    /// `services.*.image` (or an `x-*` extension field) in a compose file.
    ComposeImage,
    /// A `FROM` line in a compose service's `dockerfile_inline`.
    ComposeDockerfileInline,
    /// An `image:` of a Kubernetes container.
    KubernetesImage,
    /// `volumes[].image.reference` in a Kubernetes pod spec.
    KubernetesVolumeImage,
    /// `jobs.*.container` in a workflow.
    ActionsContainer,
    /// `jobs.*.services.*` in a workflow.
    ActionsService,
    /// `uses: docker://…` in a step.
    ActionsUses,
    /// `runs.image: docker://…` in action metadata.
    ActionsRunsImage,
    /// A GitLab CI `image` (top level, `default:` or a job).
    GitlabImage,
    /// A GitLab CI `services` entry.
    GitlabService,
    /// A Bitbucket Pipelines `image` (top level or a step).
    BitbucketImage,
    /// `definitions.services.*.image` in Bitbucket Pipelines.
    BitbucketService,
    /// `pipe: docker://…` in a Bitbucket Pipelines step's script.
    BitbucketPipe,
    /// `docker[].image` of a CircleCI executor or job.
    CircleciImage,
    /// A Drone or Woodpecker step's `image`.
    DroneImage,
    /// A Drone or Woodpecker service's `image`.
    DroneService,
    /// `steps[].name` in Cloud Build.
    CloudbuildStep,
    /// `container:` of an Azure pipeline or job.
    AzureContainer,
    /// `resources.containers[].image` in Azure Pipelines.
    AzureResource,
    /// A job's `services:` entry in Azure Pipelines.
    AzureService,
    /// The `image` of a dev container.
    DevcontainerImage,
    /// `contexts` value `docker-image://…` of a bake target.
    BakeContext,
    /// A Helm values mapping `{registry?, repository, tag, digest?}`.
    HelmImage,
    /// A Helm values `image:` string.
    HelmImageString,
    /// An entry of a kustomization's `images:`.
    KustomizeImage,
    /// A match of a `[[patterns]]` regex.
    Pattern,
}

/// Why a reference is not pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// The name is a build stage defined in the same file.
    Stage,
    /// `COPY --from=<number>`: a stage index.
    StageIndex,
    /// `FROM scratch`.
    Scratch,
    /// The reference already carries a digest.
    AlreadyPinned,
    /// A variable with no usable default.
    UnresolvedVariable,
    /// Literal text mixed with variables: there is no single span to pin.
    Templated,
    /// The text is not a valid image reference.
    InvalidReference,
    /// A `{{ }}` or `${{ }}` template expression.
    TemplateExpression,
    /// A compose service that also has `build:`: the image is the build's output.
    BuildOutput,
    /// A `# pin:ignore` comment or an `--exclude` pattern.
    Ignored,
    /// The value of a YAML key written again later in the same mapping: the consumer
    /// reads the last one.
    DuplicateKey,
    /// Helm values with an empty `tag` (the chart's `appVersion` fills it at install),
    /// or a Kustomize entry with no `newTag` (the manifests' tag is kept): no tag is
    /// written here to pin.
    EmptyTag,
}

impl SkipReason {
    /// The name used in output (`already-pinned`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Stage => "stage",
            SkipReason::StageIndex => "stage-index",
            SkipReason::Scratch => "scratch",
            SkipReason::AlreadyPinned => "already-pinned",
            SkipReason::UnresolvedVariable => "unresolved-variable",
            SkipReason::Templated => "templated",
            SkipReason::InvalidReference => "invalid-reference",
            SkipReason::TemplateExpression => "template-expression",
            SkipReason::BuildOutput => "build-output",
            SkipReason::Ignored => "ignored",
            SkipReason::DuplicateKey => "duplicate-key",
            SkipReason::EmptyTag => "empty-tag",
        }
    }
}

impl Site {
    /// The name used in output (`from`, `copy-from`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Site::From => "from",
            Site::CopyFrom => "copy-from",
            Site::RunMountFrom => "run-mount-from",
            Site::OnbuildCopyFrom => "onbuild-copy-from",
            Site::OnbuildRunMountFrom => "onbuild-run-mount-from",
            Site::Syntax => "syntax",
            Site::ArgDefault => "arg-default",
            Site::ComposeImage => "compose-image",
            Site::ComposeDockerfileInline => "compose-dockerfile-inline",
            Site::KubernetesImage => "kubernetes-image",
            Site::KubernetesVolumeImage => "kubernetes-volume-image",
            Site::ActionsContainer => "actions-container",
            Site::ActionsService => "actions-service",
            Site::ActionsUses => "actions-uses",
            Site::ActionsRunsImage => "actions-runs-image",
            Site::GitlabImage => "gitlab-image",
            Site::GitlabService => "gitlab-service",
            Site::BitbucketImage => "bitbucket-image",
            Site::BitbucketService => "bitbucket-service",
            Site::BitbucketPipe => "bitbucket-pipe",
            Site::CircleciImage => "circleci-image",
            Site::DroneImage => "drone-image",
            Site::DroneService => "drone-service",
            Site::CloudbuildStep => "cloudbuild-step",
            Site::AzureContainer => "azure-container",
            Site::AzureResource => "azure-resource",
            Site::AzureService => "azure-service",
            Site::DevcontainerImage => "devcontainer-image",
            Site::BakeContext => "bake-context",
            Site::HelmImage => "helm-image",
            Site::HelmImageString => "helm-image-string",
            Site::KustomizeImage => "kustomize-image",
            Site::Pattern => "pattern",
        }
    }
}

/// What a found reference is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A valid image reference (which may already carry a digest).
    Image(ImageRef),
    /// Not to be pinned, for this reason.
    Skip(SkipReason),
}

/// One image reference found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The bytes of the reference's text in the file. Pinning replaces exactly these.
    pub span: Span,
    /// Where it was found.
    pub site: Site,
    /// The parsed image, or why it is skipped.
    pub target: Target,
    /// For an `ARG` default (site `arg-default`): the spans of the `FROM` operands
    /// that use it, in file order. Empty for every other reference.
    pub used_by: Vec<Span>,
    /// For an image written in pieces (Helm values, Kustomize `images:`, a pattern's
    /// `name`/`tag` groups): the image they make and where its digest goes. Pinning
    /// then writes only the digest, and `span` is where the pieces start.
    pub pieces: Option<Box<Pieces>>,
}

/// An image written in pieces, and where pinning writes its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pieces {
    /// The image the pieces name, joined (`docker.io/bitnami/nginx:1.25`).
    pub text: String,
    /// Where the digest goes.
    pub digest: DigestSlot,
}

/// Where a digest is written: `span` (an existing digest's value, or an empty span at
/// an insertion point) becomes `before`, the digest, `after`. An inserted `digest:`
/// line carries its indentation, key and quote in `before` and its quote and line
/// ending in `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestSlot {
    /// The bytes replaced (empty for an insertion).
    pub span: Span,
    /// Written before the digest.
    pub before: String,
    /// Written after the digest.
    pub after: String,
}

impl DigestSlot {
    /// The digest's value at `span` is replaced, as it stands.
    pub fn value(span: Span) -> DigestSlot {
        DigestSlot {
            span,
            before: String::new(),
            after: String::new(),
        }
    }
}

impl Reference {
    /// A reference whose text is classified by [`classify`].
    pub fn new(text: &str, span: Span, site: Site) -> Reference {
        Reference {
            span,
            site,
            target: classify(span.of(text)),
            used_by: Vec::new(),
            pieces: None,
        }
    }

    /// A skipped reference.
    pub fn skip(span: Span, site: Site, reason: SkipReason) -> Reference {
        Reference {
            span,
            site,
            target: Target::Skip(reason),
            used_by: Vec::new(),
            pieces: None,
        }
    }

    /// The reference's text: its bytes in `file`, or the image its pieces make.
    pub fn text(&self, file: &str) -> String {
        match &self.pieces {
            Some(pieces) => pieces.text.clone(),
            None => self.span.of(file).to_string(),
        }
    }
}

/// A file that cannot be read as its kind (for example YAML that does not parse).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {}, column {}: {message}", position.line, position.column)]
pub struct ExtractError {
    /// Where the problem is.
    pub position: Position,
    /// What is wrong.
    pub message: String,
}

impl ExtractError {
    /// An error at a byte offset of `text`.
    pub fn at(text: &str, offset: usize, message: impl Into<String>) -> ExtractError {
        ExtractError {
            position: position_in(text, offset),
            message: message.into(),
        }
    }
}

/// Classify the text of a reference that has no variables left in it: a template
/// expression, a valid image, or an invalid reference.
pub fn classify(text: &str) -> Target {
    if text.contains("{{") || text.contains("${{") {
        return Target::Skip(SkipReason::TemplateExpression);
    }
    match ImageRef::parse(text) {
        Ok(image) => Target::Image(image),
        Err(_) => Target::Skip(SkipReason::InvalidReference),
    }
}

/// Extract the references of a file of the given kind.
pub fn extract(kind: FileKind, text: &str) -> Result<Vec<Reference>, ExtractError> {
    let mut references = match kind {
        FileKind::Dockerfile => dockerfile::extract(text)?,
        FileKind::Compose => compose_or_template(text)?,
        FileKind::Kubernetes => kubernetes_unless_imageless(text)?,
        FileKind::Actions => actions::extract(text)?,
        FileKind::GitlabCi => gitlab::extract(text)?,
        FileKind::Bitbucket => bitbucket::extract(text)?,
        FileKind::Circleci => circleci::extract(text)?,
        FileKind::Drone => drone::extract(text)?,
        FileKind::Cloudbuild => cloudbuild::extract(text)?,
        FileKind::Azure => azure::extract(text)?,
        FileKind::Devcontainer => devcontainer::extract(text)?,
        FileKind::Bake => bake::extract(text)?,
        FileKind::HelmValues => helm_values::extract(text)?,
        FileKind::Kustomize => kustomize::extract(text)?,
        // Read by the patterns stage, which knows the file's path and its patterns.
        FileKind::Patterns => Vec::new(),
    };
    mark_ignored(text, &mut references);
    references.sort_by_key(|r| r.span);
    Ok(references)
}

/// A manifest's references; none, without a parse, for a text that cannot hold an
/// `image` key ([`prefilter`]).
fn kubernetes_unless_imageless(text: &str) -> Result<Vec<Reference>, ExtractError> {
    match prefilter::may_hold_image_key(text) {
        true => kubernetes::extract(text),
        false => Ok(Vec::new()),
    }
}

/// A compose file, or, when it does not parse as YAML and holds Jinja or Go template
/// markup (`{{ }}`, `{% %}`), a template read line by line as Helm templates are:
/// every `image:` with a value on its line is a site, and values with template
/// markup are skipped.
fn compose_or_template(text: &str) -> Result<Vec<Reference>, ExtractError> {
    match compose::extract(text) {
        Err(_) if text.contains("{{") || text.contains("{%") => {
            let mut references = kubernetes::template_lines(text);
            for reference in &mut references {
                reference.site = Site::ComposeImage;
                if let Target::Image(_) = reference.target {
                    reference.target = yaml::ci_target(reference.span.of(text));
                }
            }
            Ok(references)
        }
        result => result,
    }
}

/// The marker that makes `pin` leave a reference alone, on its line or the line above.
pub const IGNORE_MARKER: &str = "pin:ignore";

/// Mark references on a line that carries a `# pin:ignore` comment, or right below a
/// line that is only such a comment. Each line is searched once, however many
/// references it holds.
pub(crate) fn mark_ignored(text: &str, references: &mut [Reference]) {
    let lines = LineIndex::new(text);
    let mut ignored_lines: HashMap<(usize, usize), bool> = HashMap::new();
    for reference in references.iter_mut() {
        let first = lines.line(reference.span.start);
        let last = lines.line(reference.span.end);
        let ignored = *ignored_lines.entry((first, last)).or_insert_with(|| {
            let own = Span::new(
                lines.bounds(text, first).start,
                lines.bounds(text, last).end,
            );
            let previous = match first {
                1 => "",
                _ => lines.bounds(text, first - 1).of(text),
            };
            let previous_is_comment = previous.trim_start().starts_with('#');
            has_ignore_comment(own.of(text)) || previous_is_comment && has_ignore_comment(previous)
        });
        if ignored {
            reference.target = Target::Skip(SkipReason::Ignored);
        }
    }
}

/// Whether the line of `span` carries a `# pin:ignore` comment, or the line above is
/// only such a comment.
pub(crate) fn ignored_at(text: &str, span: Span) -> bool {
    let line_start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[span.end..]
        .find('\n')
        .map_or(text.len(), |i| span.end + i);
    let previous = match line_start {
        0 => "",
        _ => {
            let previous_start = text[..line_start - 1].rfind('\n').map_or(0, |i| i + 1);
            &text[previous_start..line_start - 1]
        }
    };
    let previous_is_comment = previous.trim_start().starts_with('#');
    has_ignore_comment(&text[line_start..line_end])
        || previous_is_comment && has_ignore_comment(previous)
}

/// Whether a line has a comment `# pin:ignore` (spaces after `#` allowed).
fn has_ignore_comment(line: &str) -> bool {
    line.match_indices(IGNORE_MARKER)
        .any(|(i, _)| line[..i].trim_end().ends_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_sorts_out_templates_and_invalid_text() {
        assert_eq!(
            classify("{{ .Values.image }}"),
            Target::Skip(SkipReason::TemplateExpression)
        );
        assert_eq!(
            classify("${{ matrix.image }}"),
            Target::Skip(SkipReason::TemplateExpression)
        );
        assert_eq!(
            classify("Python:3"),
            Target::Skip(SkipReason::InvalidReference)
        );
        assert!(matches!(classify("python:3"), Target::Image(_)));
    }

    #[test]
    fn ignore_comment_on_the_line_or_the_line_above() {
        let text = "# pin:ignore\nFROM a\nFROM b\nimage: c # pin:ignore\nFROM d\n";
        let mut refs: Vec<Reference> = ["a", "b", "c", "d"]
            .iter()
            .map(|name| {
                let start = text.find(&format!(" {name}")).unwrap() + 1;
                Reference::new(text, Span::new(start, start + 1), Site::From)
            })
            .collect();
        mark_ignored(text, &mut refs);
        let ignored: Vec<bool> = refs
            .iter()
            .map(|r| r.target == Target::Skip(SkipReason::Ignored))
            .collect();
        assert_eq!(ignored, [true, false, true, false]);
    }
}
