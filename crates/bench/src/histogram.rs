//! A quantile of what a process measured itself during one phase, from two
//! scrapes of one of its Prometheus histograms.
//!
//! The load generator sees a webhook's whole latency; the gateway's own
//! histograms say which part of it was the broker's confirm. Their buckets
//! are coarse, so a quantile is given as the bucket bound it falls under.

/// One histogram series' cumulative bucket counts: (`le`, count), ascending,
/// `+Inf` last.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Buckets(Vec<(f64, f64)>);

impl Buckets {
    /// The `_bucket` lines of `name` whose other labels are exactly `labels`
    /// (e.g. `provider="meta"`, or empty), from a `/metrics` text.
    pub fn read(text: &str, name: &str, labels: &str) -> Self {
        let prefix = format!("{name}_bucket{{");
        let mut buckets: Vec<(f64, f64)> = text
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(prefix.as_str())?;
                let (all_labels, value) = rest.split_once("} ")?;
                let (others, le) = match all_labels.rsplit_once(",le=\"") {
                    Some((others, le)) => (others, le),
                    None => ("", all_labels.strip_prefix("le=\"")?),
                };
                if others != labels {
                    return None;
                }
                let le = le.strip_suffix('"')?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, value.trim().parse().ok()?))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        Buckets(buckets)
    }

    /// The smallest bucket bound under which a share `q` of the samples taken
    /// since `earlier` fall; `None` when there were none. Infinite when they
    /// fall past the largest finite bound.
    pub fn quantile_since(&self, earlier: &Buckets, q: f64) -> Option<f64> {
        let before = |le: f64| {
            earlier
                .0
                .iter()
                .find(|(l, _)| *l == le)
                .map_or(0.0, |(_, c)| *c)
        };
        let counts: Vec<(f64, f64)> = self
            .0
            .iter()
            .map(|(le, count)| (*le, count - before(*le)))
            .collect();
        let total = counts.last()?.1;
        if total <= 0.0 {
            return None;
        }
        counts
            .iter()
            .find(|(_, count)| *count >= q * total)
            .map(|(le, _)| *le)
    }

    /// [`Buckets::quantile_since`] as the summary prints it: `≤ 25 ms`, or
    /// past the largest finite bound these buckets have, `> 10000 ms`.
    pub fn quantile_ms_since(&self, earlier: &Buckets, q: f64) -> String {
        let largest = self
            .0
            .iter()
            .map(|(le, _)| *le)
            .filter(|le| le.is_finite())
            .fold(0.0, f64::max);
        bound_ms(self.quantile_since(earlier, q), largest)
    }
}

/// A bound in seconds as the summary prints it: `≤ 25 ms`, or `> 10000 ms`.
fn bound_ms(bound: Option<f64>, largest: f64) -> String {
    match bound {
        None => "no samples".to_owned(),
        Some(b) if b.is_infinite() => format!("> {:.0} ms", largest * 1e3),
        Some(b) => format!("≤ {} ms", b * 1e3),
    }
}

#[cfg(test)]
mod tests {
    use super::{bound_ms, Buckets};

    const BEFORE: &str = "\
# HELP inlet_gateway_publish_duration_seconds Publish to confirm.
inlet_gateway_publish_duration_seconds_bucket{le=\"0.005\"} 90
inlet_gateway_publish_duration_seconds_bucket{le=\"0.1\"} 100
inlet_gateway_publish_duration_seconds_bucket{le=\"+Inf\"} 100
inlet_gateway_request_duration_seconds_bucket{provider=\"meta\",le=\"0.005\"} 10
inlet_gateway_request_duration_seconds_bucket{provider=\"meta\",le=\"+Inf\"} 10
inlet_gateway_request_duration_seconds_bucket{provider=\"openphone\",le=\"0.005\"} 99
";

    const AFTER: &str = "\
inlet_gateway_publish_duration_seconds_bucket{le=\"0.005\"} 1080
inlet_gateway_publish_duration_seconds_bucket{le=\"0.1\"} 1095
inlet_gateway_publish_duration_seconds_bucket{le=\"+Inf\"} 1100
inlet_gateway_request_duration_seconds_bucket{provider=\"meta\",le=\"0.005\"} 10
inlet_gateway_request_duration_seconds_bucket{provider=\"meta\",le=\"+Inf\"} 20
";

    #[test]
    fn a_quantile_counts_only_the_samples_taken_between_the_scrapes() {
        let name = "inlet_gateway_publish_duration_seconds";
        let (before, after) = (
            Buckets::read(BEFORE, name, ""),
            Buckets::read(AFTER, name, ""),
        );
        // 1000 samples since: 990 under 5 ms, 5 under 100 ms, 5 past it.
        assert_eq!(after.quantile_since(&before, 0.5), Some(0.005));
        assert_eq!(after.quantile_since(&before, 0.99), Some(0.005));
        assert_eq!(after.quantile_since(&before, 0.995), Some(0.1));
        assert_eq!(after.quantile_since(&before, 0.999), Some(f64::INFINITY));
        // Counted over the process's life, the samples before would move it.
        assert_eq!(after.quantile_since(&Buckets::default(), 0.99), Some(0.1));
        assert_eq!(before.quantile_since(&before, 0.99), None);
        assert_eq!(after.quantile_ms_since(&before, 0.995), "≤ 100 ms");
        assert_eq!(after.quantile_ms_since(&before, 0.999), "> 100 ms");
    }

    #[test]
    fn only_the_series_with_the_labels_asked_for_is_read() {
        let name = "inlet_gateway_request_duration_seconds";
        let meta = Buckets::read(AFTER, name, "provider=\"meta\"");
        assert_eq!(meta, Buckets(vec![(0.005, 10.0), (f64::INFINITY, 20.0)]));
        let before = Buckets::read(BEFORE, name, "provider=\"meta\"");
        assert_eq!(meta.quantile_since(&before, 0.99), Some(f64::INFINITY));
        assert_eq!(Buckets::read(AFTER, name, ""), Buckets::default());
    }

    #[test]
    fn bounds_print_in_milliseconds() {
        assert_eq!(bound_ms(Some(0.025), 10.0), "≤ 25 ms");
        assert_eq!(bound_ms(Some(f64::INFINITY), 10.0), "> 10000 ms");
        assert_eq!(bound_ms(None, 10.0), "no samples");
    }
}
