//! A ratings table in columnar form, with its id maps.

use serde::{Deserialize, Serialize};

use crate::als::count_each;
use crate::column_checks;
use crate::ids::IdMap;
use crate::serve::RatedItems;
use crate::tier_up;

/// Ratings as three parallel columns of dense indices and values, plus the id maps that
/// translate indices back to the ids of the file they came from.
///
/// Two tables cut from one (a train/test split, or a test file read against a training
/// file's maps) share index meanings, so a model fitted on one can score the other.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ratings {
    users: IdMap,
    items: IdMap,
    user_idx: Vec<u32>,
    item_idx: Vec<u32>,
    values: Vec<f32>,
}

/// One rating, by index.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rating {
    /// Dense user index.
    pub user: u32,
    /// Dense item index.
    pub item: u32,
    /// The rating value.
    pub value: f32,
}

impl Ratings {
    /// An empty table whose ids are resolved against `users` and `items` (extended as needed).
    pub fn with_maps(users: IdMap, items: IdMap) -> Self {
        Self {
            users,
            items,
            ..Self::default()
        }
    }

    /// A table from its three columns, taken as they are (no copy); `None` when the columns
    /// differ in length or an index is outside its map.
    pub fn from_columns(
        users: IdMap,
        items: IdMap,
        user_idx: Vec<u32>,
        item_idx: Vec<u32>,
        values: Vec<f32>,
    ) -> Option<Self> {
        let (n_users, n_items) = (users.len(), items.len());
        let fits = user_idx.len() == item_idx.len()
            && user_idx.len() == values.len()
            && column_checks::all_below(&user_idx, n_users)
            && column_checks::all_below(&item_idx, n_items);
        fits.then_some(Self {
            users,
            items,
            user_idx,
            item_idx,
            values,
        })
    }

    /// Appends a rating given by external ids.
    pub fn push(&mut self, user: &str, item: &str, value: f32) {
        let u = self.users.intern(user);
        let i = self.items.intern(item);
        self.push_indexed(u, i, value);
    }

    /// Appends a rating given by indices already in the maps.
    pub fn push_indexed(&mut self, user: u32, item: u32, value: f32) {
        debug_assert!((user as usize) < self.users.len() && (item as usize) < self.items.len());
        self.user_idx.push(user);
        self.item_idx.push(item);
        self.values.push(value);
    }

    /// A table with the same maps holding the ratings at `rows`.
    pub fn select(&self, rows: impl IntoIterator<Item = usize>) -> Ratings {
        let mut out = Ratings::with_maps(self.users.clone(), self.items.clone());
        for r in rows {
            out.push_indexed(self.user_idx[r], self.item_idx[r], self.values[r]);
        }
        out
    }

    /// An empty table with this one's maps and room for `n` ratings: columns allocated once,
    /// as a column grown rating by rating can take up to twice its size while it moves, which
    /// a worker's memory keeps.
    fn empty_like(&self, n: usize) -> Ratings {
        let mut out = Ratings::with_maps(self.users.clone(), self.items.clone());
        out.user_idx.reserve_exact(n);
        out.item_idx.reserve_exact(n);
        out.values.reserve_exact(n);
        out
    }

    /// The table cut in two: the ratings `r` with `in_first(r)`, and the others, each part in
    /// the table's order with the table's maps (and its columns allocated once).
    pub fn partition(&self, in_first: impl Fn(usize) -> bool) -> (Ratings, Ratings) {
        let n_first = (0..self.len()).filter(|&r| in_first(r)).count();
        let mut first = self.empty_like(n_first);
        let mut second = self.empty_like(self.len() - n_first);
        for r in 0..self.len() {
            let part = if in_first(r) { &mut first } else { &mut second };
            part.push_indexed(self.user_idx[r], self.item_idx[r], self.values[r]);
        }
        (first, second)
    }

    /// The table whose `r`-th rating is the next unused one of `first` when `from_first[r]`,
    /// else the next unused one of `second`: the inverse of cutting a table in two with
    /// [`Ratings::select`] by a mask. The result has `first`'s maps (parts cut from one table
    /// share them); `None` when the mask does not use every rating of both parts exactly, or
    /// when `second`'s maps are larger than `first`'s (its indices could then fall outside).
    pub fn interleave(first: &Ratings, second: &Ratings, from_first: &[bool]) -> Option<Ratings> {
        let n_first = from_first.iter().filter(|&&f| f).count();
        if n_first != first.len() || from_first.len() - n_first != second.len() {
            return None;
        }
        let within =
            second.users.len() <= first.users.len() && second.items.len() <= first.items.len();
        if !within {
            return None;
        }
        let mut out = first.empty_like(from_first.len());
        let (mut a, mut b) = (first.iter(), second.iter());
        for &take_first in from_first {
            // The counts match, so neither part runs out.
            let next = if take_first { a.next() } else { b.next() };
            if let Some(r) = next {
                out.push_indexed(r.user, r.item, r.value);
            }
        }
        Some(out)
    }

    /// Number of ratings.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there is no rating.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The user id map (may hold users without ratings in this table).
    pub fn users(&self) -> &IdMap {
        &self.users
    }

    /// The item id map (may hold items without ratings in this table).
    pub fn items(&self) -> &IdMap {
        &self.items
    }

    /// Size of the user index space.
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    /// Size of the item index space.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// The user index column.
    pub fn user_indices(&self) -> &[u32] {
        &self.user_idx
    }

    /// The item index column.
    pub fn item_indices(&self) -> &[u32] {
        &self.item_idx
    }

    /// The rating column.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The ratings one by one.
    pub fn iter(&self) -> impl Iterator<Item = Rating> + '_ {
        (0..self.len()).map(|r| Rating {
            user: self.user_idx[r],
            item: self.item_idx[r],
            value: self.values[r],
        })
    }

    /// The items `user` rated in this table, in file order.
    pub fn items_of_user(&self, user: u32) -> Vec<u32> {
        self.iter()
            .filter(|r| r.user == user)
            .map(|r| r.item)
            .collect()
    }

    /// The rows whose (user, item) pair appears again later in the table.
    ///
    /// Dropping [`Duplicates::superseded`] (as [`Ratings::keep_last`] does) leaves one rating
    /// per pair, the last one: a later line of a file corrects an earlier one.
    ///
    /// The rows are grouped by user (a counting sort, which keeps each group in row order),
    /// then each user's few rows sorted by item in a small buffer. One sort of all the rows
    /// by (user, item) looked up both through the row index, at random, and took three
    /// times as long on ten million ratings. Four bytes a rating, far less than a hash map
    /// of pairs.
    pub fn duplicates(&self) -> Duplicates {
        self.group_pairs(false).0
    }

    /// [`Ratings::duplicates`], and the items each user rated as
    /// [`RatedItems::from_ratings`] finds them in the table without the duplicates (the last
    /// rating of each pair), from the same grouping of the rows: a reader that needs both
    /// groups the rows once. Eight bytes a rating while it works.
    pub fn duplicates_and_rated(&self) -> (Duplicates, RatedItems) {
        let (dups, rated) = self.group_pairs(true);
        (dups, rated.unwrap_or_default())
    }

    fn group_pairs(&self, want_rated: bool) -> (Duplicates, Option<RatedItems>) {
        // Each pass over the rows goes a chunk, or a user, per call (see `crate::tier_up`):
        // a browser's reading worker runs this once per file.
        let max_user = column_checks::max(&self.user_idx).map_or(0, |u| u as usize + 1);
        let n_users = self.n_users().max(max_user);
        // ends[u] becomes the end of user u's group, then (filling from the back) its start.
        let mut ends = vec![0usize; n_users];
        for chunk in self.user_idx.chunks(tier_up::CHUNK) {
            count_each(chunk, &mut ends);
        }
        let mut sum = 0;
        for e in &mut ends {
            sum += *e;
            *e = sum;
        }
        // Each row, by user. With the rated items wanted, the rows are then overwritten, user
        // by user, by the bits of the last rating of each of the user's items: never ahead
        // of the rows still to be read, and no third column of the table's length.
        let mut rows = vec![0u32; self.len()];
        for start in (0..self.len()).step_by(tier_up::CHUNK).rev() {
            let end = (start + tier_up::CHUNK).min(self.len());
            place_rows_back(&self.user_idx[start..end], start, &mut ends, &mut rows);
        }
        let mut grouping = Grouping {
            want_rated,
            items: Vec::with_capacity(if want_rated { self.len() } else { 0 }),
            offsets: Vec::with_capacity(if want_rated { n_users + 1 } else { 0 }),
            superseded: Vec::new(),
            first_repeat: None,
            pairs: Vec::new(),
        };
        grouping.offsets.push(0);
        for (u, &start) in ends.iter().enumerate() {
            let end = ends.get(u + 1).map_or(rows.len(), |&e| e);
            grouping.take_user(self, &mut rows, start, end);
        }
        let Grouping {
            items,
            offsets,
            mut superseded,
            first_repeat,
            ..
        } = grouping;
        superseded.sort_unstable();
        let dups = Duplicates {
            superseded,
            first_repeat,
        };
        if !want_rated {
            return (dups, None);
        }
        rows.truncate(items.len());
        let values = rows.into_iter().map(f32::from_bits).collect();
        (dups, Some(RatedItems::from_grouped(offsets, items, values)))
    }

    /// The table with one rating per (user, item) pair, the last one, and what was dropped.
    /// Rows keep their order; the id maps are unchanged.
    pub fn keep_last(&self) -> (Ratings, Duplicates) {
        let dups = self.duplicates();
        (self.clone().without_rows(&dups.superseded), dups)
    }

    /// The table without the ratings at `rows` (ascending, as [`Duplicates::superseded`]),
    /// removed in place: a table no longer needed whole is not copied (a browser worker that
    /// read a 10M-rating file held it twice for this).
    pub fn without_rows(mut self, rows: &[usize]) -> Ratings {
        if !rows.is_empty() {
            retain_rows(&mut self.user_idx, rows);
            retain_rows(&mut self.item_idx, rows);
            retain_rows(&mut self.values, rows);
        }
        self
    }

    /// Makes room for `additional` more ratings, exactly: for a reader that knows about how
    /// many are coming (a column left to double can hold up to twice what it needs).
    pub fn reserve(&mut self, additional: usize) {
        self.user_idx.reserve_exact(additional);
        self.item_idx.reserve_exact(additional);
        self.values.reserve_exact(additional);
    }

    /// How many ratings the columns have room for without growing.
    pub fn capacity(&self) -> usize {
        self.user_idx
            .capacity()
            .min(self.item_idx.capacity())
            .min(self.values.capacity())
    }

    /// A summary a person can read: counts, density and the rating scale.
    pub fn summary(&self) -> Summary {
        let mut seen_users = vec![false; self.n_users()];
        let mut seen_items = vec![false; self.n_items()];
        let mut scale = Scale {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            sum: 0.0,
        };
        for start in (0..self.len()).step_by(tier_up::CHUNK) {
            let rows = start..(start + tier_up::CHUNK).min(self.len());
            summarise(
                &self.user_idx[rows.clone()],
                &self.item_idx[rows.clone()],
                &self.values[rows],
                &mut seen_users,
                &mut seen_items,
                &mut scale,
            );
        }
        let Scale { min, max, sum } = scale;
        let n_users = seen_users.iter().filter(|&&s| s).count();
        let n_items = seen_items.iter().filter(|&&s| s).count();
        let cells = (n_users as f64) * (n_items as f64);
        Summary {
            n_ratings: self.len(),
            n_users,
            n_items,
            density: if cells > 0.0 {
                self.len() as f64 / cells
            } else {
                0.0
            },
            min_rating: if self.is_empty() { 0.0 } else { min },
            max_rating: if self.is_empty() { 0.0 } else { max },
            mean_rating: if self.is_empty() {
                0.0
            } else {
                sum / self.len() as f64
            },
        }
    }
}

/// Puts the rows `first_row..` (whose users are `users`) at their users' places in `rows`,
/// filling each user's group from its end (`ends[u]`, moved back): called on the table's
/// chunks from the last, the rows of a user end up in row order.
#[inline(never)]
fn place_rows_back(users: &[u32], first_row: usize, ends: &mut [usize], rows: &mut [u32]) {
    for (k, &u) in users.iter().enumerate().rev() {
        let slot = &mut ends[u as usize];
        *slot -= 1;
        rows[*slot] = (first_row + k) as u32;
    }
}

/// What [`Ratings::group_pairs`] gathers user by user.
struct Grouping {
    want_rated: bool,
    /// Each user's distinct items, user after user (with the rated items wanted).
    items: Vec<u32>,
    /// Where each user's items start in `items`, and one past the last.
    offsets: Vec<usize>,
    superseded: Vec<usize>,
    first_repeat: Option<(usize, usize)>,
    /// (item, row) of the user at hand: a buffer kept from user to user.
    pairs: Vec<(u32, u32)>,
}

impl Grouping {
    /// Takes the user whose rows are `rows[start..end]` (in row order). A call per user (see
    /// `crate::tier_up`).
    #[inline(never)]
    fn take_user(&mut self, table: &Ratings, rows: &mut [u32], start: usize, end: usize) {
        let pairs = &mut self.pairs;
        pairs.clear();
        pairs.extend(
            rows[start..end]
                .iter()
                .map(|&r| (table.item_idx[r as usize], r)),
        );
        // (item, row): a pair's rows side by side, in row order.
        pairs.sort_unstable();
        for run in pairs.chunk_by(|a, b| a.0 == b.0) {
            if run.len() > 1 {
                self.superseded
                    .extend(run[..run.len() - 1].iter().map(|&(_, r)| r as usize));
                // The first repeat of a pair is its second row; the earliest over all
                // pairs is the one a person reading the file meets first.
                let (first, second) = (run[0].1 as usize, run[1].1 as usize);
                if self.first_repeat.is_none_or(|(_, later)| second < later) {
                    self.first_repeat = Some((first, second));
                }
            }
            if self.want_rated {
                let (item, last) = run[run.len() - 1];
                rows[self.items.len()] = table.values[last as usize].to_bits();
                self.items.push(item);
            }
        }
        if self.want_rated {
            self.offsets.push(self.items.len());
        }
    }
}

/// The lowest, highest and sum of the ratings seen so far.
struct Scale {
    min: f32,
    max: f32,
    sum: f64,
}

/// Marks the users and items of some rows as seen and takes their ratings into `scale` (a
/// call per chunk: see [`crate::tier_up`]).
#[inline(never)]
fn summarise(
    users: &[u32],
    items: &[u32],
    values: &[f32],
    seen_users: &mut [bool],
    seen_items: &mut [bool],
    scale: &mut Scale,
) {
    for ((&u, &i), &v) in users.iter().zip(items).zip(values) {
        seen_users[u as usize] = true;
        seen_items[i as usize] = true;
        scale.min = scale.min.min(v);
        scale.max = scale.max.max(v);
        scale.sum += f64::from(v);
    }
}

/// Keeps the entries of `column` whose positions are not in `rows` (ascending).
fn retain_rows<T>(column: &mut Vec<T>, rows: &[usize]) {
    let mut drop = rows.iter().copied().peekable();
    let mut r = 0;
    column.retain(|_| {
        let dropped = drop.peek() == Some(&r);
        if dropped {
            drop.next();
        }
        r += 1;
        !dropped
    });
}

/// Repeated (user, item) pairs found by [`Ratings::duplicates`]; rows count from 0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Duplicates {
    /// Rows whose pair appears again later, ascending: the ratings a "last wins" rule drops.
    pub superseded: Vec<usize>,
    /// The earliest row that repeats a pair seen before, as (the pair's first row, that row).
    pub first_repeat: Option<(usize, usize)>,
}

/// What a ratings table holds, in numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of ratings.
    pub n_ratings: usize,
    /// Users with at least one rating.
    pub n_users: usize,
    /// Items with at least one rating.
    pub n_items: usize,
    /// Ratings over users × items.
    pub density: f64,
    /// Smallest rating.
    pub min_rating: f32,
    /// Largest rating.
    pub max_rating: f32,
    /// Mean rating.
    pub mean_rating: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_over_many_chunks_is_that_of_every_row() {
        // Three chunks and a part: the extremes and the last user and item sit in the last.
        let n = 2 * crate::tier_up::CHUNK + 1000;
        let map = |n: u32| {
            let mut m = IdMap::new();
            (0..n).for_each(|k| {
                m.intern(&k.to_string());
            });
            m
        };
        let (users, items) = (map(500), map(900));
        let user_idx: Vec<u32> = (0..n as u32).map(|r| r * 7 % 499).collect();
        let mut item_idx: Vec<u32> = (0..n as u32).map(|r| r * 13 % 700).collect();
        let mut values: Vec<f32> = (0..n).map(|r| 1.0 + (r % 9) as f32 * 0.5).collect();
        item_idx[n - 1] = 899;
        values[n - 2] = 0.25;
        values[n - 1] = 9.5;
        let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
        let mut user_idx = user_idx;
        user_idx[n - 3] = 499;
        let r = Ratings::from_columns(users, items, user_idx, item_idx, values).unwrap();
        let s = r.summary();
        assert_eq!((s.n_ratings, s.n_users, s.n_items), (n, 500, 701));
        assert_eq!((s.min_rating, s.max_rating), (0.25, 9.5));
        assert_eq!(s.mean_rating, sum / n as f64);
    }

    #[test]
    fn summary_counts_only_users_and_items_with_ratings() {
        let mut all = Ratings::default();
        all.push("a", "x", 1.0);
        all.push("b", "y", 5.0);
        all.push("a", "y", 3.0);
        let part = all.select([0, 2]);
        let s = part.summary();
        assert_eq!((s.n_ratings, s.n_users, s.n_items), (2, 1, 2));
        assert_eq!((s.min_rating, s.max_rating), (1.0, 3.0));
        assert!((s.mean_rating - 2.0).abs() < 1e-12);
        assert!((s.density - 1.0).abs() < 1e-12);
        assert_eq!(part.n_users(), 2, "maps are shared with the parent table");
        assert_eq!(all.items_of_user(0), vec![0, 1]);
    }

    #[test]
    fn interleaving_the_parts_of_a_mask_gives_the_table_back() {
        let mut all = Ratings::default();
        for k in 0..50 {
            all.push(&(k % 7).to_string(), &(k % 11).to_string(), k as f32);
        }
        let mask: Vec<bool> = (0..50).map(|k| (k * 7919) % 5 < 3).collect();
        let n_first = mask.iter().filter(|&&f| f).count();
        let (first, second) = all.partition(|r| mask[r]);
        assert_eq!(first.len(), n_first);
        assert_eq!(
            first.values()[0],
            all.values()[mask.iter().position(|&f| f).unwrap()]
        );
        let back = Ratings::interleave(&first, &second, &mask).unwrap();
        assert_eq!(back.user_indices(), all.user_indices());
        assert_eq!(back.item_indices(), all.item_indices());
        assert_eq!(back.values(), all.values());
        assert_eq!((back.n_users(), back.n_items()), (7, 11));
        // Parts swapped, or a mask that takes one rating too many from a part: refused.
        assert!(Ratings::interleave(&second, &first, &mask).is_none());
        let mut off = mask.clone();
        let k = off.iter().position(|&f| !f).unwrap();
        off[k] = true;
        assert!(Ratings::interleave(&first, &second, &off).is_none());
        assert!(Ratings::interleave(&first, &second, &mask[1..]).is_none());
    }

    #[test]
    fn the_last_rating_of_a_pair_wins() {
        let mut r = Ratings::default();
        for (u, i, v) in [
            ("a", "x", 1.0),
            ("b", "y", 2.0),
            ("a", "x", 3.0), // repeats row 0
            ("b", "z", 4.0),
            ("b", "y", 5.0), // repeats row 1
            ("a", "x", 6.0), // repeats rows 0 and 2
        ] {
            r.push(u, i, v);
        }
        let dups = r.duplicates();
        assert_eq!(dups.superseded, vec![0, 1, 2]);
        assert_eq!(dups.first_repeat, Some((0, 2)));
        let (kept, _) = r.keep_last();
        assert_eq!(kept.values(), &[4.0, 5.0, 6.0]);
        assert_eq!(kept.user_indices(), &[1, 1, 0]);
        assert_eq!(kept.n_items(), 3);
        let (same, none) = kept.keep_last();
        assert_eq!(same.values(), kept.values());
        assert_eq!(none, Duplicates::default());
    }

    #[test]
    fn duplicates_match_a_plain_count_of_each_pair() {
        // Many repeats, some pairs three or more times, in a scrambled order; more rows than
        // fit in two of the chunks the grouping passes go by.
        let mut r = Ratings::default();
        let mut x: u64 = 12345;
        for k in 0..2 * tier_up::CHUNK + 5000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (u, i) = ((x >> 33) % 23, (x >> 45) % 41);
            r.push(
                &format!("u{u}"),
                &format!("i{i}"),
                (k % 9) as f32 * 0.5 + 1.0,
            );
        }
        let mut rows_of: std::collections::HashMap<(u32, u32), Vec<usize>> = Default::default();
        for (row, rating) in r.iter().enumerate() {
            rows_of
                .entry((rating.user, rating.item))
                .or_default()
                .push(row);
        }
        let mut superseded: Vec<usize> = rows_of
            .values()
            .flat_map(|rows| rows[..rows.len() - 1].iter().copied())
            .collect();
        superseded.sort_unstable();
        let first_repeat = rows_of
            .values()
            .filter(|rows| rows.len() > 1)
            .map(|rows| (rows[0], rows[1]))
            .min_by_key(|&(_, second)| second);
        let dups = r.duplicates();
        assert!(superseded.len() > 3000 && rows_of.values().any(|rows| rows.len() > 3));
        assert_eq!(dups.superseded, superseded);
        assert_eq!(dups.first_repeat, first_repeat);
        assert_eq!(Ratings::default().duplicates(), Duplicates::default());
        // Grouped along: each user's items as the table without the duplicates has them,
        // with the last rating of each pair.
        let (same, rated) = r.duplicates_and_rated();
        assert_eq!(same, dups);
        let kept = r.clone().without_rows(&dups.superseded);
        assert_eq!(rated.parts(), RatedItems::from_ratings(&kept).parts());
        let (none, empty) = Ratings::default().duplicates_and_rated();
        assert_eq!(none, Duplicates::default());
        assert_eq!(
            empty.parts(),
            RatedItems::from_ratings(&Ratings::default()).parts()
        );
    }

    #[test]
    fn from_columns_checks_lengths_and_indices() {
        let ids = |n: usize| IdMap::from((0..n).map(|k| format!("id{k}")).collect::<Vec<_>>());
        let r = Ratings::from_columns(ids(2), ids(3), vec![0, 1], vec![2, 0], vec![4.0, 5.0])
            .expect("valid columns");
        assert_eq!(
            r.iter()
                .map(|x| (x.user, x.item, x.value))
                .collect::<Vec<_>>(),
            vec![(0, 2, 4.0), (1, 0, 5.0)]
        );
        assert_eq!(r.users().id(1), "id1");
        assert!(
            Ratings::from_columns(ids(2), ids(3), vec![0, 2], vec![0, 0], vec![1.0, 1.0]).is_none()
        );
        assert!(Ratings::from_columns(ids(2), ids(3), vec![0], vec![3], vec![1.0]).is_none());
        assert!(
            Ratings::from_columns(ids(2), ids(3), vec![0, 1], vec![0], vec![1.0, 1.0]).is_none()
        );
    }
}
