//! Reports (supervisors): a UTC date range by campaign or by agent, from
//! the replicated documents alone, so every node shows the same figures.
//! Three charts (offered by hour of day, handled per row, dispositions)
//! drawn with plotters on iced's canvas (plotters-iced2), the table of
//! figures, and the CSV `meshdesk report --csv` writes, saved to a file.
//! The search box narrows the table and the per-row chart by name.

use iced::widget::{Space, button, column, container, row, scrollable, text, text_input};
use iced::{Alignment, Length, Task};
use meshdesk_model::Millis;
use meshdesk_model::ops::Request;
use meshdesk_model::report::{Grouping, Report, ReportGroup};
use plotters_iced2::{Chart, ChartBuilder, ChartWidget, DrawingBackend};

use super::{Toast, call};
use crate::charts::{self, BarChart};
use crate::dates::{self, End};
use crate::gui::backend::{Backend, Error};
use crate::gui::modal::bundle::bundle_path;
use crate::gui::theme;
use crate::gui::widget::{Element, SMALL, TEXT, error_box, muted};

/// What `update` gives back: work to run, and maybe an event for the parent.
pub type Update = (Task<Message>, Option<Event>);

pub const FROM_ID: &str = "report-from";
pub const TO_ID: &str = "report-to";
pub const CSV_ID: &str = "report-csv";

const DAY_MS: Millis = 24 * 60 * 60 * 1000;
/// The range shown first: the last seven days, today included.
const DEFAULT_DAYS: Millis = 7;

#[derive(Debug)]
pub struct Reports {
    from: String,
    to: String,
    by: Grouping,
    /// The search box: rows whose name holds it.
    query: String,
    report: Option<Box<Report>>,
    loading: bool,
    /// Why the range was refused or the report failed.
    error: Option<String>,
    csv_path: String,
}

#[derive(Debug, Clone)]
pub enum Message {
    From(String),
    To(String),
    By(Grouping),
    Run,
    Loaded(Result<Box<Report>, Error>),
    /// The file the report goes to: `.csv` or `.png`.
    CsvPath(String),
    SaveCsv,
    SavePng,
    Saved(Toast),
}

/// What the screen passes on to the shell.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Toast(Toast),
}

impl Reports {
    /// The last seven days up to today (UTC), by campaign.
    pub fn new(now: Millis) -> Reports {
        let today = now.div_euclid(DAY_MS) * DAY_MS;
        Reports {
            from: dates::day(today - (DEFAULT_DAYS - 1) * DAY_MS, &chrono::Utc),
            to: dates::day(today, &chrono::Utc),
            by: Grouping::Campaign,
            query: String::new(),
            report: None,
            loading: false,
            error: None,
            csv_path: "~/report.csv".into(),
        }
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    pub fn search(&mut self, query: String) -> Task<Message> {
        self.query = query;
        Task::none()
    }

    /// The range as the report asks for it: `[from day, the day after to)`.
    fn range(&self) -> Result<(Millis, Millis), String> {
        let from = dates::parse(&self.from, End::Since, &chrono::Utc)
            .map_err(|_| format!("“{}” is no day: write it as 2026-11-01.", self.from.trim()))?;
        let to = dates::parse(&self.to, End::Until, &chrono::Utc)
            .map_err(|_| format!("“{}” is no day: write it as 2026-11-30.", self.to.trim()))?;
        if to <= from {
            return Err("The last day comes before the first.".into());
        }
        Ok((from, to))
    }

    /// Computes the report for the fields' range (again, after changes).
    pub fn reload(&mut self, backend: &Backend) -> Task<Message> {
        let (from, to) = match self.range() {
            Ok(range) => range,
            Err(e) => {
                self.error = Some(e);
                return Task::none();
            }
        };
        self.error = None;
        self.loading = true;
        call(
            backend,
            Request::Report {
                from,
                to,
                by: self.by,
            },
            Message::Loaded,
        )
    }

    pub fn update(&mut self, message: Message, backend: &Backend) -> Update {
        match message {
            Message::From(v) => {
                self.from = v;
                (Task::none(), None)
            }
            Message::To(v) => {
                self.to = v;
                (Task::none(), None)
            }
            Message::By(by) => {
                self.by = by;
                (self.reload(backend), None)
            }
            Message::Run => (self.reload(backend), None),
            Message::Loaded(result) => {
                self.loading = false;
                match result {
                    Ok(report) => self.report = Some(report),
                    Err(e) => self.error = Some(e.to_string()),
                }
                (Task::none(), None)
            }
            Message::CsvPath(p) => {
                self.csv_path = p;
                (Task::none(), None)
            }
            // Writing and drawing the file happen off the window's thread.
            Message::SaveCsv | Message::SavePng => {
                let png = matches!(message, Message::SavePng);
                let report = self.report.clone();
                let path = self.csv_path.clone();
                let task = Task::perform(
                    async move {
                        tokio::task::spawn_blocking(move || save(report.as_deref(), &path, png))
                            .await
                            .unwrap_or_else(|e| Toast::Error(format!("Could not save: {e}")))
                    },
                    Message::Saved,
                );
                (task, None)
            }
            Message::Saved(toast) => (Task::none(), Some(Event::Toast(toast))),
        }
    }

    fn shown(&self) -> Vec<&ReportGroup> {
        let needle = self.query.trim().to_lowercase();
        self.report
            .iter()
            .flat_map(|r| r.groups.iter())
            .filter(|g| needle.is_empty() || g.name.to_lowercase().contains(&needle))
            .collect()
    }

    pub fn view(&self) -> Element<'_, Message> {
        let by_button = |label: &'static str, by: Grouping| {
            button(text(label).size(TEXT))
                .on_press(Message::By(by))
                .padding([6, 12])
                .style(if self.by == by {
                    theme::buttons::primary
                } else {
                    theme::buttons::secondary
                })
        };
        let controls = row![
            text("From").size(TEXT),
            text_input("2026-11-01", &self.from)
                .id(FROM_ID)
                .on_input(Message::From)
                .on_submit(Message::Run)
                .size(TEXT)
                .width(130),
            text("to").size(TEXT),
            text_input("2026-11-30", &self.to)
                .id(TO_ID)
                .on_input(Message::To)
                .on_submit(Message::Run)
                .size(TEXT)
                .width(130),
            muted("(days in UTC)"),
            Space::new().width(16),
            by_button("By campaign", Grouping::Campaign),
            by_button("By agent", Grouping::Agent),
            Space::new().width(Length::Fill),
            button(text("Run").size(TEXT))
                .on_press_maybe((!self.loading).then_some(Message::Run))
                .padding([6, 14])
                .style(theme::buttons::primary),
        ]
        .spacing(8)
        .align_y(Alignment::Center);
        let mut body = column![controls].spacing(16).padding(16);
        if let Some(e) = &self.error {
            body = body.push(error_box(e));
        }
        match &self.report {
            None if self.loading => body = body.push(muted("Counting…")),
            None => {}
            Some(report) => {
                let shown = self.shown();
                body = body.push(self.charts(report, &shown));
                body = body.push(table(self.by, &shown));
                body = body.push(
                    row![
                        text("File").size(TEXT),
                        text_input("~/report.csv", &self.csv_path)
                            .id(CSV_ID)
                            .on_input(Message::CsvPath)
                            .on_submit(Message::SaveCsv)
                            .size(TEXT)
                            .width(320),
                        button(text("Save CSV").size(TEXT))
                            .on_press(Message::SaveCsv)
                            .padding([6, 14])
                            .style(theme::buttons::secondary),
                        button(text("Save PNG").size(TEXT))
                            .on_press(Message::SavePng)
                            .padding([6, 14])
                            .style(theme::buttons::secondary),
                    ]
                    .spacing(8)
                    .align_y(Alignment::Center),
                );
            }
        }
        scrollable(body).height(Length::Fill).into()
    }

    fn charts<'a>(&self, report: &Report, shown: &[&ReportGroup]) -> Element<'a, Message> {
        let [hours, handled, dispositions] = charts::report_charts(report, shown);
        row![
            chart_box(hours, 2),
            chart_box(handled, 1),
            chart_box(dispositions, 1),
        ]
        .spacing(12)
        .into()
    }
}

/// Writes the report as CSV, or its charts as a PNG named like it, and
/// says how it went (the CSV beside the file, then renamed over it, so a
/// failed write leaves no half file).
fn save(report: Option<&Report>, raw: &str, png: bool) -> Toast {
    let Some(report) = report else {
        return Toast::Error("Run the report first.".into());
    };
    let Some(path) = bundle_path(raw) else {
        return Toast::Error("Name the file, like ~/report.csv.".into());
    };
    if png {
        let path = path.with_extension("png");
        return match charts::write_png(report, &path) {
            Ok(()) => Toast::Info(format!("Saved the charts to {}.", path.display())),
            Err(e) => Toast::Error(e.to_string()),
        };
    }
    let bytes = match report.to_csv() {
        Ok(bytes) => bytes,
        Err(e) => return Toast::Error(format!("Could not make the CSV: {e}")),
    };
    use meshdesk_model::durable::{self, Access};
    match durable::write(&path, &bytes, Access::Shared) {
        Ok(()) => Toast::Info(format!(
            "Saved {} rows to {}.",
            report.groups.len(),
            path.display()
        )),
        Err(e) => Toast::Error(format!("Could not write {}: {e}", path.display())),
    }
}

fn chart_box<'a>(chart: BarChart, portion: u16) -> Element<'a, Message> {
    let title = text(chart.title.clone()).size(TEXT);
    let body: Element<'a, Message> = if chart.is_empty() {
        container(muted("Nothing in this range."))
            .center_x(Length::Fill)
            .center_y(Length::Fill)
            .into()
    } else {
        ChartWidget::new(OnCanvas(chart))
            .width(Length::Fill)
            .height(Length::Fill)
            .into()
    };
    container(column![title, body].spacing(6))
        .padding(10)
        .height(220)
        .width(Length::FillPortion(portion))
        .style(theme::boxes::card)
        .into()
}

fn table<'a>(by: Grouping, shown: &[&ReportGroup]) -> Element<'a, Message> {
    let first = match by {
        Grouping::Campaign => "Campaign",
        Grouping::Agent => "Agent",
    };
    let headers = [
        first,
        "Offered",
        "Answered",
        "Abandoned",
        "Service level",
        "Wait avg / p90",
        "Handled",
        "Handle avg / p90",
        "Transfers",
    ];
    let cell = |s: String, width: u16| text(s).size(SMALL).width(Length::FillPortion(width));
    let mut head = row![].spacing(8);
    for (i, h) in headers.iter().enumerate() {
        head = head.push(
            text(*h)
                .size(SMALL)
                .style(theme::texts::muted)
                .width(Length::FillPortion(if i == 0 { 3 } else { 2 })),
        );
    }
    let mut rows = column![head].spacing(6);
    if shown.is_empty() {
        rows = rows.push(muted("No rows."));
    }
    for g in shown {
        let f = &g.figures;
        let sl = f
            .service_level_permille()
            .map(|p| format!("{}.{}%", p / 10, p % 10))
            .unwrap_or_else(|| "—".into());
        rows = rows.push(
            row![
                cell(g.name.clone(), 3),
                cell(f.offered.to_string(), 2),
                cell(f.answered.to_string(), 2),
                cell(f.abandoned.to_string(), 2),
                cell(sl, 2),
                cell(pair(f.wait.avg_ms, f.wait.p90_ms), 2),
                cell(f.handled.to_string(), 2),
                cell(pair(f.handle.avg_ms, f.handle.p90_ms), 2),
                cell(f.transfers.to_string(), 2),
            ]
            .spacing(8),
        );
    }
    container(rows)
        .padding(12)
        .width(Length::Fill)
        .style(theme::boxes::card)
        .into()
}

fn pair(avg: Option<Millis>, p90: Option<Millis>) -> String {
    match (avg, p90) {
        (Some(a), Some(p)) => format!("{} / {}", dates::clock(a), dates::clock(p)),
        _ => "—".into(),
    }
}

/// A chart as plotters-iced2 draws it on the canvas.
struct OnCanvas(BarChart);

impl Chart<Message> for OnCanvas {
    type State = ();

    fn build_chart<DB: DrawingBackend>(
        &self,
        _state: &Self::State,
        builder: ChartBuilder<'_, '_, DB>,
    ) {
        self.0.draw(builder);
    }
}
