//! A report's charts, drawn with plotters: on iced's canvas in the window
//! (through plotters-iced2) and into a PNG file for `meshdesk report --png`
//! and the window's Save PNG. One drawing routine serves both, so the file
//! shows what the window shows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use meshdesk_model::report::{Grouping, Report, ReportGroup};
use plotters::prelude::*;

/// Bars with a label each.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    pub title: String,
    pub bars: Vec<(String, u64)>,
    pub color: RGBColor,
}

impl BarChart {
    pub fn is_empty(&self) -> bool {
        self.bars.iter().all(|(_, n)| *n == 0)
    }

    /// Draws the bars, with axes, into `builder`'s area.
    pub fn draw<DB: DrawingBackend>(&self, mut builder: ChartBuilder<'_, '_, DB>) {
        let n = self.bars.len();
        let top = self.bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
        let grey = RGBColor(128, 128, 128);
        let Ok(mut chart) = builder
            .margin(4)
            .x_label_area_size(20)
            .y_label_area_size(32)
            .build_cartesian_2d((0..n).into_segmented(), 0u64..top + top / 8 + 1)
        else {
            return;
        };
        let labels: Vec<String> = self.bars.iter().map(|(l, _)| l.clone()).collect();
        let _ = chart
            .configure_mesh()
            .disable_x_mesh()
            .light_line_style(grey.mix(0.15))
            .bold_line_style(grey.mix(0.3))
            .axis_style(grey)
            .label_style(("sans-serif", 11).into_font().color(&grey))
            .x_labels(n.min(12))
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_labels(4)
            .draw();
        let color = self.color;
        let _ = chart.draw_series(self.bars.iter().enumerate().map(|(i, (_, v))| {
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0),
                    (SegmentValue::Exact(i + 1), *v),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 3, 3);
            bar
        }));
    }
}

/// A label short enough to sit under a bar.
fn short(name: &str) -> String {
    let mut chars = name.chars();
    let head: String = chars.by_ref().take(12).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

/// The report's three charts: offered by hour of day (every row), handled
/// per row (those `shown`), and dispositions (every row).
pub fn report_charts(report: &Report, shown: &[&ReportGroup]) -> [BarChart; 3] {
    let mut hours = [0u64; 24];
    let mut dispositions = BTreeMap::<String, u64>::new();
    for g in &report.groups {
        for (h, n) in g.figures.per_hour.iter().enumerate() {
            hours[h] += n;
        }
        for (d, n) in &g.figures.dispositions {
            *dispositions.entry(d.clone()).or_default() += n;
        }
    }
    let per = match report.by {
        Grouping::Campaign => "Handled per campaign",
        Grouping::Agent => "Handled per agent",
    };
    [
        BarChart {
            title: "Offered by hour of day (UTC)".into(),
            bars: hours
                .iter()
                .enumerate()
                .map(|(h, n)| (h.to_string(), *n))
                .collect(),
            color: RGBColor(66, 120, 220),
        },
        BarChart {
            title: per.into(),
            bars: shown
                .iter()
                .map(|g| (short(&g.name), g.figures.handled))
                .collect(),
            color: RGBColor(46, 160, 110),
        },
        BarChart {
            title: "Dispositions".into(),
            bars: dispositions
                .into_iter()
                .map(|(d, n)| (short(&d), n))
                .collect(),
            color: RGBColor(214, 140, 40),
        },
    ]
}

/// Why a PNG could not be written.
#[derive(Debug, thiserror::Error)]
#[error("could not draw {path}: {reason}")]
pub struct PngError {
    pub path: PathBuf,
    pub reason: String,
}

/// The PNG's size in pixels.
const PNG_SIZE: (u32, u32) = (1600, 520);

/// Draws the report's charts into a PNG at `path` (beside it first, then
/// renamed over it, so a failed write leaves no half file).
pub fn write_png(report: &Report, path: &Path) -> Result<(), PngError> {
    let failed = |reason: String| PngError {
        path: path.to_path_buf(),
        reason,
    };
    register_font().map_err(|e| failed(e.to_string()))?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial.png");
    let partial = PathBuf::from(partial);
    {
        let root = BitMapBackend::new(&partial, PNG_SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| failed(e.to_string()))?;
        let title = format!(
            "{} to {} by {}",
            crate::dates::day(report.range.from, &chrono::Utc),
            crate::dates::day(report.range.to - 1, &chrono::Utc),
            report.by.as_str()
        );
        let root = root
            .titled(&title, ("sans-serif", 22))
            .map_err(|e| failed(e.to_string()))?;
        let shown: Vec<&ReportGroup> = report.groups.iter().collect();
        let charts = report_charts(report, &shown);
        let widths = [800, 400, 400];
        let (first, rest) = root.split_horizontally(widths[0]);
        let (second, third) = rest.split_horizontally(widths[1]);
        for (area, chart) in [first, second, third].iter().zip(&charts) {
            let area = area.margin(10, 10, 10, 10);
            let area = area
                .titled(&chart.title, ("sans-serif", 16))
                .map_err(|e| failed(e.to_string()))?;
            chart.draw(ChartBuilder::on(&area));
        }
        root.present().map_err(|e| failed(e.to_string()))?;
    }
    std::fs::rename(&partial, path).map_err(|e| failed(e.to_string()))
}

/// Plotters draws text into a bitmap with a font it is given: the window's
/// own Fira Sans, which the binary already carries.
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(
                "sans-serif",
                FontStyle::Normal,
                iced::advanced::graphics::text::FIRA_SANS_REGULAR,
            )
            .map_err(|_| "the font could not be read".to_string())
        })
        .clone()
}
