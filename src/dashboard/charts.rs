//! Charts drawn on the server as inline SVG (no script, no external request): touches per
//! channel per week as stacked bars, a lead's sentiment over time as a line of colored
//! points, and horizontal inbound/outbound bars per channel.
//!
//! Every function returns a complete `<svg>` element. Text that comes from outside (labels,
//! tooltips) is escaped here, so the result can be put into a page as it is. Only data
//! bars are `<rect>` elements (legends use circles), one per non-zero value.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use crate::domain::{Channel, Direction};
use crate::hours::Zone;
use crate::tracker::model::Touch;

/// Channels in drawing order, with their label and color.
pub const CHANNELS: [(Channel, &str, &str); 5] = [
    (Channel::Email, "Email", "#2563eb"),
    (Channel::Sms, "SMS", "#16a34a"),
    (Channel::PhoneCall, "Calls", "#f59e0b"),
    (Channel::Chat, "Chat", "#8b5cf6"),
    (Channel::Form, "Forms", "#0891b2"),
];

const POSITIVE: &str = "#16a34a";
const NEUTRAL: &str = "#94a3b8";
const NEGATIVE: &str = "#dc2626";
const GRID: &str = "#e2e8f0";
const AXIS_TEXT: &str = "#64748b";

/// Escapes text for SVG/HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One week of touches: its label and the count per channel, in [`CHANNELS`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekBucket {
    pub label: String,
    pub counts: [u32; 5],
}

/// One scored message on the sentiment chart.
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentPoint {
    pub at: DateTime<Utc>,
    /// In −1..=1.
    pub score: f64,
    /// Tooltip, e.g. "Nov 18 · email · positive".
    pub label: String,
}

fn channel_index(c: Channel) -> usize {
    CHANNELS.iter().position(|(ch, _, _)| *ch == c).unwrap_or(0)
}

/// The Monday (local date) of the week `at` falls in.
fn week_start(at: DateTime<Utc>, zone: Zone) -> NaiveDate {
    let local = zone.local(at).date();
    local - Duration::days(i64::from(local.weekday().num_days_from_monday()))
}

/// Touches counted per local week and channel, from the week of the first touch (at most
/// `max_weeks` back) to the week of `now`. Empty without touches.
pub fn weekly_buckets(
    touches: &[Touch],
    zone: Zone,
    now: DateTime<Utc>,
    max_weeks: usize,
) -> Vec<WeekBucket> {
    let Some(first) = touches.iter().map(|t| t.timestamp).min() else {
        return vec![];
    };
    let last_week = week_start(now.max(first), zone);
    let earliest = last_week - Duration::weeks(max_weeks.saturating_sub(1) as i64);
    let first_week = week_start(first, zone).max(earliest);
    let weeks = ((last_week - first_week).num_days() / 7 + 1).max(1) as usize;
    let mut buckets: Vec<WeekBucket> = (0..weeks)
        .map(|i| WeekBucket {
            label: (first_week + Duration::weeks(i as i64))
                .format("%b %-d")
                .to_string(),
            counts: [0; 5],
        })
        .collect();
    for t in touches {
        let w = week_start(t.timestamp, zone);
        if w < first_week || w > last_week {
            continue;
        }
        let i = ((w - first_week).num_days() / 7) as usize;
        if let Some(b) = buckets.get_mut(i) {
            b.counts[channel_index(t.channel)] += 1;
        }
    }
    buckets
}

/// The lead's inbound messages that carry a sentiment score, oldest first.
pub fn sentiment_points(touches: &[Touch], zone: Zone) -> Vec<SentimentPoint> {
    let mut points: Vec<SentimentPoint> = touches
        .iter()
        .filter(|t| t.direction == Direction::Inbound)
        .filter_map(|t| {
            let score = f64::from(t.sentiment_score?);
            if !score.is_finite() {
                return None;
            }
            let local = zone.local(t.timestamp);
            Some(SentimentPoint {
                at: t.timestamp,
                score: score.clamp(-1.0, 1.0),
                label: format!(
                    "{} · {} · {} ({score:+.2})",
                    local.format("%b %-d, %H:%M"),
                    CHANNELS[channel_index(t.channel)].1,
                    sentiment_word(score)
                ),
            })
        })
        .collect();
    points.sort_by_key(|p| p.at);
    points
}

fn sentiment_word(score: f64) -> &'static str {
    if score >= 0.25 {
        "positive"
    } else if score <= -0.25 {
        "negative"
    } else {
        "neutral"
    }
}

fn sentiment_color(score: f64) -> &'static str {
    match sentiment_word(score) {
        "positive" => POSITIVE,
        "negative" => NEGATIVE,
        _ => NEUTRAL,
    }
}

/// A round upper bound for an axis: 1, 2, 5, 10, 20, 50…
fn nice_max(v: u32) -> u32 {
    let v = v.max(1);
    let mut step = 1u32;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= v {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

fn empty_chart(width: u32, height: u32, title: &str, message: &str) -> String {
    format!(
        r##"<svg class="chart chart-empty" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" aria-label="{t}"><title>{t}</title><text x="{x}" y="{y}" text-anchor="middle" font-size="13" fill="{AXIS_TEXT}">{m}</text></svg>"##,
        t = escape(title),
        m = escape(message),
        x = width / 2,
        y = height / 2,
    )
}

fn legend(out: &mut String, x0: f64, y: f64) {
    let mut x = x0;
    for (_, label, color) in CHANNELS {
        out.push_str(&format!(
            r##"<circle cx="{x:.1}" cy="{cy:.1}" r="4" fill="{color}"/><text x="{tx:.1}" y="{y:.1}" font-size="11" fill="{AXIS_TEXT}">{l}</text>"##,
            cy = y - 4.0,
            tx = x + 7.0,
            l = escape(label),
        ));
        x += 14.0 + label.len() as f64 * 6.5 + 10.0;
    }
}

/// Stacked bars: one column per week, one `<rect>` per channel with touches that week.
pub fn touches_per_week(buckets: &[WeekBucket]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 220.0;
    const LEFT: f64 = 34.0;
    const RIGHT: f64 = 8.0;
    const TOP: f64 = 26.0;
    const BOTTOM: f64 = 26.0;
    let title = "Touches per channel per week";
    let total_max = buckets
        .iter()
        .map(|b| b.counts.iter().sum::<u32>())
        .max()
        .unwrap_or(0);
    if total_max == 0 {
        return empty_chart(640, 220, title, "No communications yet");
    }
    let ymax = nice_max(total_max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let band = plot_w / buckets.len() as f64;
    let bar_w = (band * 0.62).min(48.0);
    let mut out = format!(
        r##"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{t}"><title>{t}</title>"##,
        t = escape(title)
    );
    legend(&mut out, LEFT, 14.0);
    for (i, v) in [0, ymax / 2, ymax].iter().enumerate() {
        if i == 1 && ymax < 2 {
            continue;
        }
        let y = TOP + plot_h - plot_h * f64::from(*v) / f64::from(ymax);
        out.push_str(&format!(
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="{GRID}" stroke-width="1"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="10" fill="{AXIS_TEXT}">{v}</text>"##,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 3.5,
        ));
    }
    // At most ~12 week labels, so they never overlap.
    let every = buckets.len().div_ceil(12).max(1);
    for (i, b) in buckets.iter().enumerate() {
        let cx = LEFT + band * (i as f64 + 0.5);
        let x = cx - bar_w / 2.0;
        let mut y = TOP + plot_h;
        for (c, n) in b.counts.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let h = plot_h * f64::from(*n) / f64::from(ymax);
            y -= h;
            let (_, name, color) = CHANNELS[c];
            out.push_str(&format!(
                r##"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{color}"><title>{t}</title></rect>"##,
                t = escape(&format!("Week of {}: {n} {name}", b.label)),
            ));
        }
        if i % every == 0 || i + 1 == buckets.len() {
            out.push_str(&format!(
                r##"<text x="{cx:.1}" y="{ty}" text-anchor="middle" font-size="10" fill="{AXIS_TEXT}">{l}</text>"##,
                ty = H - 8.0,
                l = escape(&b.label),
            ));
        }
    }
    out.push_str("</svg>");
    out
}

/// Sentiment over time: a line through the scores (−1..1) with a point per message,
/// green when positive, gray when neutral, red when negative.
pub fn sentiment_over_time(points: &[SentimentPoint]) -> String {
    const W: f64 = 640.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 34.0;
    const RIGHT: f64 = 14.0;
    const TOP: f64 = 14.0;
    const BOTTOM: f64 = 26.0;
    let title = "Sentiment of the lead's messages over time";
    if points.is_empty() {
        return empty_chart(640, 200, title, "No scored messages from this lead yet");
    }
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let t0 = points.iter().map(|p| p.at).min().unwrap_or_else(Utc::now);
    let t1 = points.iter().map(|p| p.at).max().unwrap_or(t0);
    let span = (t1 - t0).num_seconds().max(0) as f64;
    // Points stay clear of the axis labels and the edges.
    const PAD: f64 = 10.0;
    let x_of = |at: DateTime<Utc>| {
        if span == 0.0 {
            LEFT + plot_w / 2.0
        } else {
            LEFT + PAD + (plot_w - 2.0 * PAD) * (at - t0).num_seconds() as f64 / span
        }
    };
    let y_of = |score: f64| TOP + plot_h * (1.0 - (score.clamp(-1.0, 1.0) + 1.0) / 2.0);
    let mut out = format!(
        r##"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{t}"><title>{t}</title>"##,
        t = escape(title)
    );
    for (v, label) in [(1.0, "+1"), (0.0, "0"), (-1.0, "−1")] {
        let y = y_of(v);
        let dash = if v == 0.0 {
            r##" stroke-dasharray="4 4""##
        } else {
            ""
        };
        out.push_str(&format!(
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="{GRID}" stroke-width="1"{dash}/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="10" fill="{AXIS_TEXT}">{label}</text>"##,
            x2 = W - RIGHT,
            tx = LEFT - 6.0,
            ty = y + 3.5,
        ));
    }
    let path: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x_of(p.at), y_of(p.score)))
        .collect();
    if points.len() > 1 {
        out.push_str(&format!(
            r##"<polyline class="line" points="{}" fill="none" stroke="#475569" stroke-width="1.5" stroke-linejoin="round"/>"##,
            path.join(" ")
        ));
    }
    for p in points {
        out.push_str(&format!(
            r##"<circle class="point" cx="{x:.1}" cy="{y:.1}" r="4.5" fill="{c}" stroke="#fff" stroke-width="1.5"><title>{t}</title></circle>"##,
            x = x_of(p.at),
            y = y_of(p.score),
            c = sentiment_color(p.score),
            t = escape(&p.label),
        ));
    }
    let first = t0.format("%b %-d").to_string();
    let last = t1.format("%b %-d").to_string();
    out.push_str(&format!(
        r##"<text x="{LEFT}" y="{y}" font-size="10" fill="{AXIS_TEXT}">{a}</text>"##,
        y = H - 8.0,
        a = escape(&first)
    ));
    if last != first {
        out.push_str(&format!(
            r##"<text x="{x}" y="{y}" text-anchor="end" font-size="10" fill="{AXIS_TEXT}">{b}</text>"##,
            x = W - RIGHT,
            y = H - 8.0,
            b = escape(&last)
        ));
    }
    out.push_str("</svg>");
    out
}

/// One horizontal bar per channel: inbound and outbound touches side by side (a `<rect>`
/// per non-zero part), labelled with the channel and its total. `width` is the drawing's
/// own width: about the width it is shown at, so its text stays readable.
pub fn channel_bars(rows: &[(String, u32, u32)], width: u32) -> String {
    let total_w = f64::from(width.max(200));
    const ROW: f64 = 30.0;
    const LABEL: f64 = 64.0;
    const VALUE: f64 = 40.0;
    let title = "Touches per channel: inbound and outbound";
    let max = rows.iter().map(|(_, i, o)| i + o).max().unwrap_or(0);
    let height = (ROW * rows.len() as f64 + 22.0).max(60.0);
    if max == 0 {
        return empty_chart(
            width.max(200),
            height as u32,
            title,
            "No touches in this period",
        );
    }
    let plot = total_w - LABEL - VALUE;
    let mut out = format!(
        r##"<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total_w} {height}" role="img" aria-label="{t}"><title>{t}</title>"##,
        t = escape(title)
    );
    for (i, (label, inbound, outbound)) in rows.iter().enumerate() {
        let y = ROW * i as f64 + 6.0;
        out.push_str(&format!(
            r##"<text x="0" y="{ty:.1}" font-size="12" fill="#334155">{l}</text>"##,
            ty = y + 13.0,
            l = escape(label)
        ));
        let mut x = LABEL;
        for (n, color, dir) in [
            (*inbound, "#0ea5e9", "inbound"),
            (*outbound, "#94a3b8", "outbound"),
        ] {
            if n == 0 {
                continue;
            }
            let w = plot * f64::from(n) / f64::from(max);
            out.push_str(&format!(
                r##"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="18" rx="3" fill="{color}"><title>{t}</title></rect>"##,
                t = escape(&format!("{label}: {n} {dir}")),
            ));
            x += w;
        }
        out.push_str(&format!(
            r##"<text x="{tx:.1}" y="{ty:.1}" font-size="12" fill="#0f172a" font-weight="600">{n}</text>"##,
            tx = x + 6.0,
            ty = y + 13.0,
            n = inbound + outbound
        ));
    }
    let ly = height - 6.0;
    out.push_str(&format!(
        r##"<circle cx="{a}" cy="{cy}" r="4" fill="#0ea5e9"/><text x="{at}" y="{ly}" font-size="11" fill="{AXIS_TEXT}">inbound</text><circle cx="{b}" cy="{cy}" r="4" fill="#94a3b8"/><text x="{bt}" y="{ly}" font-size="11" fill="{AXIS_TEXT}">outbound</text>"##,
        a = LABEL + 4.0,
        at = LABEL + 11.0,
        b = LABEL + 74.0,
        bt = LABEL + 81.0,
        cy = ly - 4.0,
    ));
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    fn touch(id: i64, at: DateTime<Utc>, channel: Channel, score: Option<f32>) -> Touch {
        Touch {
            id,
            timestamp: at,
            channel,
            direction: Direction::Inbound,
            sentiment: None,
            sentiment_score: score,
            ai_generated: false,
            duration_seconds: None,
        }
    }

    #[test]
    fn stacked_bars_have_one_rect_per_non_zero_bucket() {
        let buckets = vec![
            WeekBucket {
                label: "Nov 3".into(),
                counts: [2, 0, 1, 0, 0],
            },
            WeekBucket {
                label: "Nov 10".into(),
                counts: [0, 0, 0, 0, 0],
            },
            WeekBucket {
                label: "Nov 17".into(),
                counts: [1, 3, 2, 4, 0],
            },
        ];
        let svg = touches_per_week(&buckets);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(count(&svg, "<rect"), 6, "{svg}");
        assert!(svg.contains("Week of Nov 17: 4 Chat"));
        // Stacked: the tallest week reaches the top of a round axis (10).
        assert!(svg.contains(">10</text>"), "{svg}");
    }

    #[test]
    fn labels_and_tooltips_are_escaped() {
        let svg = touches_per_week(&[WeekBucket {
            label: "<script>alert(1)</script>".into(),
            counts: [1, 0, 0, 0, 0],
        }]);
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        let at = Utc.with_ymd_and_hms(2026, 11, 2, 12, 0, 0).unwrap();
        let svg = sentiment_over_time(&[SentimentPoint {
            at,
            score: 0.5,
            label: "\"><img src=x onerror=alert(1)>".into(),
        }]);
        assert!(!svg.contains("<img"), "{svg}");
        assert!(svg.contains("&quot;&gt;&lt;img"));
        let svg = channel_bars(&[("<b>".into(), 1, 1)], 420);
        assert!(!svg.contains("<b>") && svg.contains("&lt;b&gt;"));
    }

    #[test]
    fn no_data_draws_a_message_and_no_bars() {
        for svg in [
            touches_per_week(&[]),
            touches_per_week(&[WeekBucket {
                label: "Nov 3".into(),
                counts: [0; 5],
            }]),
            sentiment_over_time(&[]),
            channel_bars(&[("Email".into(), 0, 0)], 420),
            channel_bars(&[], 420),
        ] {
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
            assert!(svg.contains("chart-empty"), "{svg}");
            assert_eq!(count(&svg, "<rect"), 0);
            assert!(!svg.contains("NaN") && !svg.contains("inf"));
        }
    }

    #[test]
    fn sentiment_points_are_colored_by_score_and_joined_by_a_line() {
        let t0 = Utc.with_ymd_and_hms(2026, 11, 2, 12, 0, 0).unwrap();
        let points = sentiment_points(
            &[
                touch(3, t0 + Duration::days(2), Channel::Sms, Some(-0.8)),
                touch(1, t0, Channel::Email, Some(0.7)),
                touch(2, t0 + Duration::days(1), Channel::Chat, Some(0.0)),
                touch(4, t0 + Duration::days(3), Channel::Chat, None),
            ],
            Zone::default(),
        );
        assert_eq!(points.len(), 3);
        assert!(points[0].at < points[1].at && points[1].at < points[2].at);
        let svg = sentiment_over_time(&points);
        assert_eq!(count(&svg, "<circle"), 3);
        assert_eq!(count(&svg, "<polyline"), 1);
        assert!(svg.contains(POSITIVE) && svg.contains(NEUTRAL) && svg.contains(NEGATIVE));
        assert!(!svg.contains("NaN"));
        // One point: centered, no line.
        let one = sentiment_over_time(&points[..1]);
        assert_eq!(count(&one, "<circle"), 1);
        assert_eq!(count(&one, "<polyline"), 0);
        assert!(!one.contains("NaN"));
    }

    #[test]
    fn weeks_are_counted_per_local_monday_up_to_now() {
        // Monday 2026-11-02 and the Sunday before it (a different week).
        let mon = Utc.with_ymd_and_hms(2026, 11, 2, 15, 0, 0).unwrap();
        let sun = Utc.with_ymd_and_hms(2026, 11, 1, 15, 0, 0).unwrap();
        let now = mon + Duration::days(15);
        let b = weekly_buckets(
            &[
                touch(1, sun, Channel::Email, None),
                touch(2, mon, Channel::Sms, None),
                touch(3, mon + Duration::hours(1), Channel::Sms, None),
            ],
            Zone::default(),
            now,
            26,
        );
        assert_eq!(b.len(), 4, "{b:?}");
        assert_eq!(b[0].label, "Oct 26");
        assert_eq!(b[0].counts, [1, 0, 0, 0, 0]);
        assert_eq!(b[1].counts, [0, 2, 0, 0, 0]);
        assert_eq!(b[3].counts, [0; 5]);
        // Monday 05:00 UTC is Sunday 23:00 in Chicago (CST since 1 November): the week before.
        let chicago = Zone::parse("America/Chicago").unwrap();
        let b = weekly_buckets(
            &[touch(1, mon - Duration::hours(10), Channel::Chat, None)],
            chicago,
            mon,
            26,
        );
        assert_eq!(b[0].label, "Oct 26");
        // Capped at max_weeks.
        let old = mon - Duration::weeks(100);
        let b = weekly_buckets(
            &[touch(1, old, Channel::Chat, None)],
            Zone::default(),
            mon,
            12,
        );
        assert_eq!(b.len(), 12);
        assert!(b.iter().all(|w| w.counts == [0; 5]));
        assert!(weekly_buckets(&[], Zone::default(), mon, 12).is_empty());
    }

    #[test]
    fn channel_bars_draw_inbound_and_outbound_parts() {
        let svg = channel_bars(
            &[
                ("Email".into(), 3, 2),
                ("SMS".into(), 0, 4),
                ("Calls".into(), 0, 0),
            ],
            320,
        );
        assert_eq!(count(&svg, "<rect"), 3, "{svg}");
        assert!(svg.contains("SMS: 4 outbound"));
    }

    #[test]
    fn axis_maxima_are_round() {
        assert_eq!(nice_max(0), 1);
        assert_eq!(nice_max(3), 5);
        assert_eq!(nice_max(7), 10);
        assert_eq!(nice_max(11), 20);
        assert_eq!(nice_max(51), 100);
    }
}
