//! Walking a table by block: each batch is a `ctid` range of whole blocks, read by a TID
//! range scan in the table's physical order, so a batch costs what its rows cost and nothing
//! for finding them (no key lookups, no index probes into a heap the backfill has just
//! reshuffled). Only rows that exist when the job begins need the job: rows written later went
//! through the trigger. A row the application moves ahead of the cursor is done twice (the
//! same value again); one it moves behind was written through the trigger. What would break
//! the walk is a rewrite (VACUUM FULL, CLUSTER, pg_repack), which moves every row: it gives the
//! table a new file, and a job that sees another file starts over.

use crate::error::Error;
use crate::pg::query::Query;

/// The table's file and length in blocks, and its rows per block (from the statistics'
/// ratio when the table was analyzed, else from `rows`).
pub(super) struct Layout {
    pub filenode: i64,
    pub blocks: i64,
    pub rows_per_block: f64,
}

/// A plain table's layout; None for a partitioned one (its rows live in the partitions'
/// files, so it is walked by key).
pub(super) async fn layout(
    client: &impl Query,
    relation: &str,
    rows: i64,
) -> Result<Option<Layout>, Error> {
    let row = client
        .fetch_one(
            "SELECT c.relkind = 'r', pg_relation_filenode(c.oid)::bigint,
                    pg_relation_size(c.oid) / current_setting('block_size')::bigint,
                    CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples::float8 / c.relpages END
               FROM pg_class c WHERE c.oid = to_regclass($1)",
            &[&relation],
        )
        .await
        .map_err(Error::sql(format!("read the layout of {relation}")))?;
    let (plain, filenode, blocks, ratio): (bool, Option<i64>, i64, Option<f64>) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    Ok(match (plain, filenode) {
        (true, Some(filenode)) => Some(Layout {
            filenode,
            blocks,
            rows_per_block: ratio.unwrap_or(rows as f64 / blocks.max(1) as f64),
        }),
        _ => None,
    })
}

/// The table's file now, read in the batch's transaction after its statement took the
/// table's lock, so a rewrite cannot slip in between.
pub(super) async fn filenode(txn: &impl Query, relation: &str) -> Result<i64, Error> {
    Ok(txn
        .fetch_one(
            "SELECT pg_relation_filenode(to_regclass($1))::bigint",
            &[&relation],
        )
        .await
        .map_err(Error::sql(format!("read the file of {relation}")))?
        .get(0))
}

/// Rows in blocks `from` up to (not including) `to`.
pub(super) fn window(from: i64, to: i64) -> String {
    format!("ctid >= '({from},0)'::tid AND ctid < '({to},0)'::tid")
}

/// Where each of about `ranges` equal ranges of `blocks` blocks ends, but the last.
pub(super) fn splits(blocks: i64, ranges: i64) -> Vec<Vec<String>> {
    let length = (blocks + ranges - 1) / ranges.max(1);
    (1..ranges)
        .map(|i| i * length.max(1))
        .take_while(|&end| end < blocks)
        .map(|end| vec![end.to_string()])
        .collect()
}

/// A block number stored as a range bound or cursor.
pub(super) fn parse(bound: &[String]) -> Result<i64, Error> {
    bound
        .first()
        .and_then(|b| b.parse().ok())
        .ok_or_else(|| Error::Refused(format!("a block range is bounded by {bound:?}, which is not a block number: the ledger was edited by hand")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cover_the_blocks_in_equal_ranges() {
        let bounds: Vec<i64> = splits(10, 3).iter().map(|s| parse(s).unwrap()).collect();
        assert_eq!(bounds, vec![4, 8]);
        assert!(splits(10, 1).is_empty());
        assert!(splits(2, 8).iter().all(|s| parse(s).unwrap() < 2));
        assert!(splits(0, 4).is_empty());
    }
}
