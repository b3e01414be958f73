//! Property test: random sequences of append / read / roll / truncate / reopen agree
//! with an in-memory model of the log (a list of batches).

mod common;

use brook_broker::log::{LogOffsets, PartitionLog};
use brook_protocol::records::{BatchView, Batches};
use common::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append {
        records: usize,
        value_len: usize,
        new_epoch: bool,
    },
    Read {
        at: f64,
        max_bytes: usize,
    },
    Roll,
    Truncate {
        at: f64,
    },
    Reopen {
        clean: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..6, 0usize..400, proptest::bool::weighted(0.1))
            .prop_map(|(records, value_len, new_epoch)| Op::Append { records, value_len, new_epoch }),
        3 => (0.0..1.0f64, 1usize..3000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        1 => Just(Op::Roll),
        1 => (0.0..1.0f64).prop_map(|at| Op::Truncate { at }),
        1 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
    ]
}

/// The model: the batches in the log, as stored, with their base offsets.
#[derive(Default)]
struct Model {
    batches: Vec<(i64, Vec<u8>)>,
    log_end_offset: i64,
    epoch: i32,
}

impl Model {
    fn index_holding(&self, offset: i64) -> usize {
        self.batches
            .iter()
            .position(|(_, b)| BatchView::new(b).unwrap().last_offset() >= offset)
            .unwrap_or(self.batches.len())
    }

    /// (epoch, start offset) derived from the batches.
    fn epochs(&self) -> Vec<(i32, i64)> {
        let mut epochs: Vec<(i32, i64)> = Vec::new();
        for (base, bytes) in &self.batches {
            let epoch = BatchView::new(bytes).unwrap().partition_leader_epoch();
            if epochs.last().is_none_or(|&(e, _)| epoch > e) {
                epochs.push((epoch, *base));
            }
        }
        epochs
    }
}

fn check(log: &PartitionLog, model: &Model) {
    assert_eq!(log.log_end_offset(), model.log_end_offset);
    assert_eq!(read_all(log, 0), model.batches);
    let epochs: Vec<(i32, i64)> = log.leader_epochs().iter().map(|e| (e.epoch, e.start_offset)).collect();
    assert_eq!(epochs, model.epochs());
    if let Some(&(latest, _)) = model.epochs().last() {
        assert_eq!(log.end_offset_for_epoch(latest), (latest, model.log_end_offset));
    }
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let mut log = Some(open(dir.path(), config.clone()));
    let mut model = Model::default();
    for op in ops {
        let current = log.as_ref().unwrap();
        match op {
            Op::Append {
                records,
                value_len,
                new_epoch,
            } => {
                model.epoch += i32::from(new_epoch);
                let info = current
                    .append_as_leader(&batch(records, value_len, model.log_end_offset), model.epoch)
                    .unwrap();
                assert_eq!(info.first_offset, model.log_end_offset);
                let stored = current.read(info.first_offset, 1, i64::MAX).unwrap();
                model.batches.push((info.first_offset, stored[0].to_vec()));
                model.log_end_offset = info.last_offset + 1;
            }
            Op::Read { at, max_bytes } => {
                let offset = (at * model.log_end_offset as f64) as i64;
                let chunks = current.read(offset, max_bytes, i64::MAX).unwrap();
                let got: Vec<Vec<u8>> = chunks
                    .iter()
                    .flat_map(|c| {
                        Batches::new(c)
                            .map(|b| b.unwrap().as_bytes().to_vec())
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let first = model.index_holding(offset);
                let mut expected = Vec::new();
                let mut total = 0;
                for (_, bytes) in &model.batches[first..] {
                    if !expected.is_empty() && total + bytes.len() > max_bytes {
                        break;
                    }
                    total += bytes.len();
                    expected.push(bytes.clone());
                }
                assert_eq!(got, expected, "read at {offset} max {max_bytes}");
            }
            Op::Roll => current.roll().unwrap(),
            Op::Truncate { at } => {
                let offset = (at * model.log_end_offset as f64) as i64;
                current.truncate_to(offset).unwrap();
                // The batch holding the offset goes whole.
                let keep = model.index_holding(offset);
                if let Some(&(base, _)) = model.batches.get(keep) {
                    model.log_end_offset = base;
                    model.batches.truncate(keep);
                }
            }
            Op::Reopen { clean } => {
                let old = log.take().unwrap();
                let offsets = LogOffsets {
                    recovery_point: old.recovery_point(),
                    log_start_offset: old.log_start_offset(),
                    high_watermark: old.high_watermark(),
                };
                // An unclean stop: no close, so files keep their preallocated tails.
                let clean = clean && old.close().unwrap();
                drop(old);
                log = Some(PartitionLog::open(dir.path(), config.clone(), offsets, clean).unwrap());
            }
        }
        check(log.as_ref().unwrap(), &model);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn log_agrees_with_a_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops);
    }
}
