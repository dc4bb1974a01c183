//! The size of a worker's next batch, from the speed of its batches so far, so that each takes
//! about the target time: a writer that touches a row of the batch in flight waits for its
//! commit, at most about that long.

use super::{MAX_BATCH, MIN_BATCH};
use std::time::Duration;

/// How much of a faster batch's speed the pace takes in; a slower one is taken in whole.
const SPEED_UP: f64 = 0.25;

/// Rows per second a worker's batches run at, as its next batch's size is reckoned.
#[derive(Debug, Default)]
pub(super) struct Pace(Option<f64>);

impl Pace {
    /// The next batch's size after a batch of `size` rows took `elapsed`.
    ///
    /// A range's last batch is cut short by the range's end, so its speed tells nothing:
    /// taken as a full batch's, it doubled the next one, and at 1M rows 1% of the batches
    /// took 99 ms for a 50 ms target. Slower is believed at once (the server is busier, the
    /// rows wider), faster a quarter at a time (one batch that ran in a quiet moment). The
    /// size moves at most by half or double at a time.
    pub(super) fn next_size(
        &mut self,
        size: i64,
        elapsed: Duration,
        target: Duration,
        ends_range: bool,
    ) -> i64 {
        let speed = size as f64 / elapsed.as_secs_f64().max(1e-3);
        let pace = match self.0 {
            Some(pace) if ends_range => pace,
            Some(pace) if speed > pace => pace + SPEED_UP * (speed - pace),
            _ => speed,
        };
        self.0 = Some(pace);
        let scaled = (pace * target.as_secs_f64()) as i64;
        scaled.clamp(size / 2, size * 2).clamp(MIN_BATCH, MAX_BATCH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TARGET: Duration = Duration::from_millis(50);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_batch_cut_short_by_its_range_does_not_grow_the_next() {
        let mut pace = Pace::default();
        assert_eq!(pace.next_size(10_000, ms(50), TARGET, false), 10_000);
        // The range ended after a tenth of the rows asked for.
        assert_eq!(pace.next_size(10_000, ms(5), TARGET, true), 10_000);
        assert_eq!(pace.next_size(10_000, ms(50), TARGET, false), 10_000);
    }

    #[test]
    fn faster_is_taken_a_quarter_at_a_time_and_slower_at_once() {
        let mut pace = Pace::default();
        assert_eq!(pace.next_size(10_000, ms(50), TARGET, false), 10_000);
        assert_eq!(pace.next_size(10_000, ms(25), TARGET, false), 12_500);
        assert_eq!(pace.next_size(12_500, ms(125), TARGET, false), 6_250);
        // The first batch has nothing to be weighed against; the size at most doubles.
        assert_eq!(
            Pace::default().next_size(1_000, ms(5), TARGET, false),
            2_000
        );
    }
}
