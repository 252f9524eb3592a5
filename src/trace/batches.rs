//! The parts waiting for the span thread, as the readers handed them: a
//! read's worth at a time. A reader's batch is moved in whole (three
//! words) under the lock instead of copied part by part (a part is about
//! 300 bytes), and the thread's emptied batches go back to the readers
//! with their capacity, so that neither side allocates once warm.

use std::collections::VecDeque;

/// Emptied batches kept for the readers, at most.
const MAX_SPARE: usize = 8;
/// A spare batch larger than this is freed, not kept (a burst's): a
/// reader hands its parts on at 256 ([`super::feed`]), so about 600 kB
/// of spares at most.
const MAX_SPARE_CAPACITY: usize = 512;

#[derive(Debug)]
pub struct Batches<T> {
    /// Oldest first.
    full: VecDeque<Vec<T>>,
    /// Items in `full`.
    len: usize,
    spare: Vec<Vec<T>>,
}

impl<T> Default for Batches<T> {
    fn default() -> Batches<T> {
        Batches {
            full: VecDeque::new(),
            len: 0,
            spare: Vec::new(),
        }
    }
}

impl<T> Batches<T> {
    /// Items waiting, over every batch.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves `batch`'s items in, as one batch; `batch` is left empty (a
    /// spare batch with room, when there is one).
    pub fn push(&mut self, batch: &mut Vec<T>) {
        if batch.is_empty() {
            return;
        }
        self.len += batch.len();
        let spare = self.spare.pop().unwrap_or_default();
        self.full.push_back(std::mem::replace(batch, spare));
    }

    /// Drops the oldest items beyond `max`; returns how many.
    pub fn keep_newest(&mut self, max: usize) -> u64 {
        let over = self.len.saturating_sub(max);
        let mut left = over;
        while left > 0 {
            let Some(oldest) = self.full.front_mut() else {
                break;
            };
            let n = left.min(oldest.len());
            oldest.drain(..n);
            (left, self.len) = (left - n, self.len - n);
            if oldest.is_empty() {
                if let Some(empty) = self.full.pop_front() {
                    self.recycle(empty);
                }
            }
        }
        over as u64
    }

    /// Moves every batch, oldest first, to the end of `into`.
    pub fn take_all(&mut self, into: &mut Vec<Vec<T>>) {
        into.extend(self.full.drain(..));
        self.len = 0;
    }

    /// Keeps an emptied batch for a reader's next [`Batches::push`].
    pub fn recycle(&mut self, mut batch: Vec<T>) {
        batch.clear();
        if self.spare.len() < MAX_SPARE && batch.capacity() <= MAX_SPARE_CAPACITY {
            self.spare.push(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken(b: &mut Batches<u32>) -> Vec<Vec<u32>> {
        let mut all = Vec::new();
        b.take_all(&mut all);
        all
    }

    #[test]
    fn batches_come_out_whole_and_in_order_and_the_reader_gets_an_empty_one() {
        let mut b = Batches::default();
        let mut reader = vec![1, 2, 3];
        b.push(&mut reader);
        assert!(reader.is_empty());
        reader.extend([4, 5]);
        b.push(&mut reader);
        b.push(&mut Vec::new());
        assert_eq!(b.len(), 5);
        assert_eq!(taken(&mut b), [vec![1, 2, 3], vec![4, 5]]);
        assert!(b.is_empty());
        assert_eq!(taken(&mut b), Vec::<Vec<u32>>::new());
    }

    #[test]
    fn a_recycled_batch_goes_back_to_a_reader_with_its_room() {
        let mut b = Batches::default();
        b.recycle(Vec::with_capacity(100));
        let mut reader = vec![7];
        b.push(&mut reader);
        assert!(reader.is_empty());
        assert!(reader.capacity() >= 100);
        // A burst's batch is not kept.
        b.recycle(Vec::with_capacity(MAX_SPARE_CAPACITY + 1));
        let mut reader = vec![8];
        b.push(&mut reader);
        assert_eq!(reader.capacity(), 0);
    }

    #[test]
    fn items_past_the_bound_are_dropped_oldest_first_across_batches() {
        let mut b = Batches::default();
        for batch in [vec![0, 1, 2], vec![3, 4], vec![5, 6, 7, 8, 9]] {
            b.push(&mut batch.clone());
        }
        assert_eq!(b.keep_newest(10), 0);
        assert_eq!(b.len(), 10);
        assert_eq!(b.keep_newest(4), 6);
        assert_eq!(b.len(), 4);
        assert_eq!(taken(&mut b), [vec![6, 7, 8, 9]]);
        b.push(&mut vec![1, 2]);
        assert_eq!(b.keep_newest(0), 2);
        assert!(b.is_empty());
        assert_eq!(taken(&mut b), Vec::<Vec<u32>>::new());
    }
}
