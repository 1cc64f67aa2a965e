//! Helm charts: which YAML files of a chart are its values, and whether its templates
//! read a `.digest` at all.

use std::path::{Path, PathBuf};

use super::Candidate;
use crate::extract::FileKind;

/// The folder of the chart a file belongs to: the nearest folder above it that holds
/// a `Chart.yaml` (not above the current folder, for a relative path).
pub fn chart_folder(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|folder| folder.join("Chart.yaml").is_file())
        .map(Path::to_path_buf)
}

/// YAML files of a chart (a folder with `Chart.yaml`) are Helm values, except
/// `Chart.yaml` itself and what sits in `templates/` (templates) and `crds/`
/// (manifests).
pub(crate) fn read_charts_values(files: &mut [Candidate]) {
    let mut charts: std::collections::HashMap<PathBuf, Option<PathBuf>> =
        std::collections::HashMap::new();
    for candidate in files.iter_mut() {
        if candidate.kind != FileKind::Kubernetes
            || super::name_of(&candidate.path) == b"Chart.yaml"
        {
            continue;
        }
        let Some(parent) = candidate.path.parent() else {
            continue;
        };
        // Looked up by reference: most files share their folder with others.
        let chart = match charts.get(parent) {
            Some(chart) => chart.clone(),
            None => {
                let chart = chart_folder(&candidate.path);
                charts.insert(parent.to_path_buf(), chart.clone());
                chart
            }
        };
        let Some(chart) = chart else {
            continue;
        };
        let inside = candidate
            .path
            .strip_prefix(&chart)
            .unwrap_or(&candidate.path);
        let first = inside.components().next().map(|c| c.as_os_str().to_owned());
        if inside.components().count() > 1
            && matches!(
                first.as_deref().and_then(|f| f.to_str()),
                Some("templates" | "crds")
            )
        {
            continue;
        }
        candidate.kind = FileKind::HelmValues;
    }
}

/// Whether any template of the chart at `chart` (its `templates/`, and its
/// subcharts' unpacked `charts/*/templates/`) reads a `.digest` value. Files larger
/// than [`crate::files::MAX_FILE_SIZE`] are not read.
pub fn chart_reads_digest(chart: &Path) -> bool {
    fn search(folder: &Path, depth: usize) -> bool {
        if depth > 16 {
            return false;
        }
        let Ok(entries) = std::fs::read_dir(folder) else {
            return false;
        };
        entries.flatten().any(|entry| {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => search(&path, depth + 1),
                Ok(t) if t.is_file() => {
                    entry
                        .metadata()
                        .is_ok_and(|m| m.len() <= crate::files::MAX_FILE_SIZE)
                        && std::fs::read(&path)
                            .is_ok_and(|bytes| bytes.windows(7).any(|w| w == b".digest"))
                }
                _ => false,
            }
        })
    }
    search(&chart.join("templates"), 0)
        || std::fs::read_dir(chart.join("charts")).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|sub| search(&sub.path().join("templates"), 0))
        })
}
