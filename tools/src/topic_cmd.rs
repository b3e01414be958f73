//! `brook topic ...`: create, list, describe, delete, add partitions, change configs,
//! reassign replicas and elect leaders, in the manner of `rpk topic` and Kafka's tools.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use brook_client::{Client, ConfigChange, Election, NewTopic, PartitionOutcome, TopicInfo};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::connect::Connect;
use crate::output::{self, Format};
use crate::partition_spec;

#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create topics.
    Create {
        #[arg(required = true)]
        topics: Vec<String>,
        /// Partitions per topic (default: the cluster's num.partitions).
        #[arg(long, short = 'p')]
        partitions: Option<i32>,
        /// Replicas per partition (default: the cluster's default.replication.factor).
        #[arg(long, short = 'r')]
        replicas: Option<i16>,
        /// A topic config, `key=value`; repeatable.
        #[arg(long = "config", short = 'c', value_parser = crate::connect::key_value)]
        configs: Vec<(String, String)>,
    },
    /// List topics with their partition count and replication factor.
    List,
    /// Show each partition's leader, replicas and in-sync replicas.
    Describe {
        /// Topics to describe (default: all).
        topics: Vec<String>,
        /// Also print each topic's configs, with their values and sources.
        #[arg(long, short = 'c')]
        print_configs: bool,
    },
    /// Delete topics and all their records.
    Delete {
        #[arg(required = true)]
        topics: Vec<String>,
    },
    /// Add partitions to topics.
    AddPartitions {
        #[arg(required = true)]
        topics: Vec<String>,
        /// How many partitions to add.
        #[arg(long, short = 'n')]
        num: i32,
    },
    /// Set or remove topic configs (the others stay as they are).
    AlterConfig {
        #[arg(required = true)]
        topics: Vec<String>,
        /// `key=value`; repeatable.
        #[arg(long = "set", short = 's', value_parser = crate::connect::key_value)]
        set: Vec<(String, String)>,
        /// A key to return to its default; repeatable.
        #[arg(long = "delete", short = 'd')]
        delete: Vec<String>,
    },
    /// Move partitions to other brokers; new replicas copy the log, then old ones drop it.
    Reassign(ReassignArgs),
    /// List the reassignments in progress.
    Reassignments {
        /// Topics or `topic:0,1` (default: all).
        partitions: Vec<String>,
    },
    /// Give leadership back to each partition's preferred (first) replica, or with
    /// --unclean elect any live replica where no in-sync one is left.
    ElectLeaders {
        /// Topics or `topic:0,1` (default: every partition).
        partitions: Vec<String>,
        /// An unclean election: may lose acknowledged records.
        #[arg(long)]
        unclean: bool,
    },
}

#[derive(Debug, Args)]
pub struct ReassignArgs {
    /// The topic to move.
    #[arg(required_unless_present = "plan")]
    topic: Option<String>,
    #[command(flatten)]
    how: ReassignHow,
    /// With --replicas: the partitions to move (default: all of the topic's).
    #[arg(long = "partition", short = 'p', value_delimiter = ',')]
    partitions: Vec<i32>,
    /// Wait until every move has finished, printing progress.
    #[arg(long)]
    wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct ReassignHow {
    /// The new replica list, preferred leader first: `2,3,1`.
    #[arg(long, value_delimiter = ',')]
    replicas: Option<Vec<i32>>,
    /// Spread the topic's partitions over these brokers, keeping its replication factor.
    #[arg(long, value_delimiter = ',')]
    to_brokers: Option<Vec<i32>>,
    /// Cancel the moves in progress, back to where they started.
    #[arg(long)]
    cancel: bool,
    /// A plan in kafka-reassign-partitions' JSON format:
    /// {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}.
    #[arg(long)]
    plan: Option<std::path::PathBuf>,
}

/// One line of `topic list`.
#[derive(Serialize)]
struct TopicRow {
    name: String,
    partitions: usize,
    replicas: usize,
}

/// One topic of `topic describe`.
#[derive(Serialize)]
struct TopicView {
    name: String,
    partitions: Vec<PartitionView>,
    /// With `-c`.
    #[serde(skip_serializing_if = "Option::is_none")]
    configs: Option<Vec<ConfigView>>,
}

#[derive(Serialize)]
struct PartitionView {
    partition: i32,
    /// -1: offline.
    leader: i32,
    replicas: Vec<i32>,
    isr: Vec<i32>,
    /// `offline`, `under-replicated`, `reassigning (+adding -removing)`.
    notes: Vec<String>,
}

#[derive(Serialize)]
struct ConfigView {
    name: String,
    /// `null` when sensitive or unset.
    value: Option<String>,
    source: String,
    sensitive: bool,
}

/// What a create, delete or change did to one topic.
#[derive(Serialize)]
struct TopicDone {
    topic: String,
    done: String,
}

fn done_text(done: &[TopicDone]) -> String {
    done.iter().map(|d| format!("{}\n", d.done)).collect()
}

pub async fn run(command: TopicCommand, connect: &Connect, format: Format) -> Result<()> {
    let client = connect.client();
    match command {
        TopicCommand::Create {
            topics,
            partitions,
            replicas,
            configs,
        } => {
            let mut done = Vec::new();
            for name in topics {
                let topic = NewTopic {
                    name: name.clone(),
                    partitions: partitions.unwrap_or(-1),
                    replication_factor: replicas.unwrap_or(-1),
                    configs: configs.clone(),
                };
                client.create_topic(&topic).await.context("cannot create the topic")?;
                done.push(TopicDone {
                    done: format!("created topic {name}"),
                    topic: name,
                });
            }
            output::print(format, done.as_slice(), done_text)?;
        }
        TopicCommand::List => {
            let rows: Vec<TopicRow> = client
                .topics(None)
                .await?
                .into_iter()
                .map(|topic| TopicRow {
                    replicas: topic.partitions.first().map_or(0, |p| p.replicas.len()),
                    partitions: topic.partitions.len(),
                    name: topic.name,
                })
                .collect();
            output::print(format, &rows, |rows| {
                let mut text = format!("{:<40} {:>10} {:>8}\n", "NAME", "PARTITIONS", "REPLICAS");
                for r in rows {
                    text += &format!("{:<40} {:>10} {:>8}\n", r.name, r.partitions, r.replicas);
                }
                text
            })?;
        }
        TopicCommand::Describe { topics, print_configs } => {
            let views = describe(&client, &topics, print_configs).await?;
            output::print(format, views.as_slice(), describe_text)?;
        }
        TopicCommand::Delete { topics } => {
            let mut done = Vec::new();
            for topic in topics {
                client.delete_topic(&topic).await.context("cannot delete the topic")?;
                done.push(TopicDone {
                    done: format!("deleted topic {topic}"),
                    topic,
                });
            }
            output::print(format, done.as_slice(), done_text)?;
        }
        TopicCommand::AddPartitions { topics, num } => {
            if num <= 0 {
                bail!("--num must be at least 1");
            }
            let mut done = Vec::new();
            for topic in topics {
                let current = existing(&client, &topic).await?.partitions.len() as i32;
                client
                    .add_partitions(&topic, current + num)
                    .await
                    .context("cannot add partitions")?;
                done.push(TopicDone {
                    done: format!("topic {topic}: {current} -> {} partitions", current + num),
                    topic,
                });
            }
            output::print(format, done.as_slice(), done_text)?;
        }
        TopicCommand::AlterConfig { topics, set, delete } => {
            if set.is_empty() && delete.is_empty() {
                bail!("nothing to change: give --set key=value or --delete key");
            }
            let changes: Vec<ConfigChange> = set
                .into_iter()
                .map(|(k, v)| ConfigChange::Set(k, v))
                .chain(delete.into_iter().map(ConfigChange::Delete))
                .collect();
            let mut done = Vec::new();
            for topic in topics {
                client
                    .alter_topic_configs(&topic, &changes)
                    .await
                    .context("cannot change the configs")?;
                done.push(TopicDone {
                    done: format!("topic {topic}: configs changed"),
                    topic,
                });
            }
            output::print(format, done.as_slice(), done_text)?;
        }
        TopicCommand::Reassign(args) => reassign(&client, args, format).await?,
        TopicCommand::Reassignments { partitions } => {
            let named = named_partitions(&client, &partitions).await?;
            let rows: Vec<ReassignmentRow> = client
                .list_reassignments(named.as_deref())
                .await?
                .into_iter()
                .map(|r| ReassignmentRow {
                    topic: r.topic,
                    partition: r.partition,
                    replicas: r.replicas,
                    adding: r.adding,
                    removing: r.removing,
                })
                .collect();
            output::print(format, rows.as_slice(), reassignments_text)?;
        }
        TopicCommand::ElectLeaders { partitions, unclean } => {
            let named = named_partitions(&client, &partitions).await?;
            let election = if unclean {
                Election::Unclean
            } else {
                Election::Preferred
            };
            let outcomes = client.elect_leaders(election, named.as_deref()).await?;
            report(
                format,
                &outcomes,
                "new leader elected",
                "every partition already has its preferred leader",
            )?;
        }
    }
    Ok(())
}

/// The partitions a command names, resolved; `None` (every partition) when it names none.
async fn named_partitions(client: &Client, specs: &[String]) -> Result<Option<Vec<(String, i32)>>> {
    if specs.is_empty() {
        return Ok(None);
    }
    Ok(Some(partition_spec::resolve(client, specs).await?))
}

fn ids(list: &[i32]) -> String {
    if list.is_empty() {
        return "-".into();
    }
    list.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

async fn existing(client: &Client, topic: &str) -> Result<TopicInfo> {
    let mut topics = client
        .topics(Some(&[topic.to_owned()]))
        .await
        .with_context(|| format!("cannot find topic {topic}"))?;
    topics.pop().with_context(|| format!("topic {topic} does not exist"))
}

async fn describe(client: &Client, names: &[String], with_configs: bool) -> Result<Vec<TopicView>> {
    let topics = client
        .topics(if names.is_empty() { None } else { Some(names) })
        .await
        .context("cannot describe topics")?;
    let ongoing = client.list_reassignments(None).await.unwrap_or_default();
    let mut views = Vec::with_capacity(topics.len());
    for topic in topics {
        let partitions = topic
            .partitions
            .iter()
            .map(|p| {
                let mut notes = Vec::new();
                if p.leader < 0 {
                    notes.push("offline".to_owned());
                } else if p.isr.len() < p.replicas.len() {
                    notes.push("under-replicated".to_owned());
                }
                if let Some(r) = ongoing
                    .iter()
                    .find(|r| r.topic == topic.name && r.partition == p.partition)
                {
                    notes.push(format!("reassigning (+{} -{})", ids(&r.adding), ids(&r.removing)));
                }
                PartitionView {
                    partition: p.partition,
                    leader: p.leader,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    notes,
                }
            })
            .collect();
        let configs = if with_configs {
            let entries = client
                .describe_topic_configs(&topic.name)
                .await
                .with_context(|| format!("cannot describe the configs of {}", topic.name))?;
            Some(
                entries
                    .into_iter()
                    .map(|e| ConfigView {
                        value: if e.sensitive { None } else { e.value },
                        name: e.name,
                        source: e.source.to_string(),
                        sensitive: e.sensitive,
                    })
                    .collect(),
            )
        } else {
            None
        };
        views.push(TopicView {
            name: topic.name,
            partitions,
            configs,
        });
    }
    Ok(views)
}

/// The partition table, then each topic's configs (name, value, source; rpk's `-c`).
fn describe_text(views: &[TopicView]) -> String {
    let mut text = format!(
        "{:<32} {:>9} {:>7}  {:<16} {:<16} NOTE\n",
        "TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR"
    );
    for topic in views {
        for p in &topic.partitions {
            text += &format!(
                "{:<32} {:>9} {:>7}  {:<16} {:<16} {}\n",
                topic.name,
                p.partition,
                p.leader,
                ids(&p.replicas),
                ids(&p.isr),
                p.notes.join(", ")
            );
        }
    }
    for topic in views {
        let Some(configs) = &topic.configs else { continue };
        text += "\n";
        text += &format!("{:<44} {:<24} SOURCE\n", format!("CONFIGS OF {}", topic.name), "VALUE");
        for c in configs {
            let value = match (&c.value, c.sensitive) {
                (_, true) => "(sensitive)",
                (Some(v), false) => v.as_str(),
                (None, false) => "-",
            };
            text += &format!("{:<44} {value:<24} {}\n", c.name, c.source);
        }
    }
    text
}

/// Prints each partition's outcome; fails if any was refused.
/// One partition a reassignment or election acted on: `done` when it was accepted,
/// `error` when it was refused.
#[derive(Serialize)]
struct PartitionDone {
    topic: String,
    partition: i32,
    done: Option<String>,
    error: Option<String>,
}

/// Prints what happened to each partition (`nothing` when there were none); fails when
/// any was refused. In text the refusals go to stderr, each naming its partition.
fn report(format: Format, outcomes: &[PartitionOutcome], done: &str, nothing: &str) -> Result<()> {
    let rows: Vec<PartitionDone> = outcomes
        .iter()
        .map(|o| PartitionDone {
            topic: o.topic.clone(),
            partition: o.partition,
            done: o.result.as_ref().ok().map(|()| done.to_owned()),
            error: o.result.as_ref().err().map(|e| format!("{e:#}")),
        })
        .collect();
    output::print(format, rows.as_slice(), |rows| {
        if rows.is_empty() {
            return format!("{nothing}\n");
        }
        let mut text = String::new();
        for r in rows {
            match (&r.done, &r.error) {
                (Some(done), _) => text += &format!("{}-{}: {done}\n", r.topic, r.partition),
                (None, Some(error)) => eprintln!("{error}"),
                (None, None) => {}
            }
        }
        text
    })?;
    let refused = rows.iter().filter(|r| r.error.is_some()).count();
    if refused > 0 {
        bail!("{refused} of {} partitions refused", rows.len());
    }
    Ok(())
}

/// A reassignment in progress, as `topic reassignments` prints it.
#[derive(Serialize)]
struct ReassignmentRow {
    topic: String,
    partition: i32,
    replicas: Vec<i32>,
    adding: Vec<i32>,
    removing: Vec<i32>,
}

fn reassignments_text(rows: &[ReassignmentRow]) -> String {
    let mut text = format!(
        "{:<32} {:>9}  {:<16} {:<12} REMOVING\n",
        "TOPIC", "PARTITION", "REPLICAS", "ADDING"
    );
    for r in rows {
        text += &format!(
            "{:<32} {:>9}  {:<16} {:<12} {}\n",
            r.topic,
            r.partition,
            ids(&r.replicas),
            ids(&r.adding),
            ids(&r.removing)
        );
    }
    text
}

/// Partition `i` on `rf` of `brokers`, starting at broker `i mod n`: leaders and replicas
/// spread evenly (what `--to-brokers` proposes).
fn spread(partitions: usize, rf: usize, brokers: &[i32]) -> Vec<Vec<i32>> {
    (0..partitions)
        .map(|i| (0..rf).map(|j| brokers[(i + j) % brokers.len()]).collect())
        .collect()
}

#[derive(serde::Deserialize)]
struct Plan {
    partitions: Vec<PlannedMove>,
}

#[derive(serde::Deserialize)]
struct PlannedMove {
    topic: String,
    partition: i32,
    replicas: Vec<i32>,
}

async fn reassign(client: &Client, args: ReassignArgs, format: Format) -> Result<()> {
    let moves: Vec<(String, i32, Option<Vec<i32>>)> = if let Some(path) = &args.how.plan {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let plan: Plan =
            serde_json::from_str(&text).with_context(|| format!("{} is not a reassignment plan", path.display()))?;
        plan.partitions
            .into_iter()
            .map(|m| (m.topic, m.partition, Some(m.replicas)))
            .collect()
    } else {
        let name = args.topic.as_deref().context("name the topic")?;
        let topic = existing(client, name).await?;
        let chosen: Vec<i32> = if args.partitions.is_empty() {
            topic.partitions.iter().map(|p| p.partition).collect()
        } else {
            args.partitions.clone()
        };
        if let Some(replicas) = &args.how.replicas {
            chosen
                .iter()
                .map(|p| (name.to_owned(), *p, Some(replicas.clone())))
                .collect()
        } else if let Some(brokers) = &args.how.to_brokers {
            let rf = topic.partitions.first().map_or(1, |p| p.replicas.len());
            if rf > brokers.len() {
                bail!(
                    "topic {name} has {rf} replicas per partition; --to-brokers names only {}",
                    brokers.len()
                );
            }
            let placement = spread(topic.partitions.len(), rf, brokers);
            topic
                .partitions
                .iter()
                .filter(|p| chosen.contains(&p.partition) && p.replicas != placement[p.partition as usize])
                .map(|p| {
                    (
                        name.to_owned(),
                        p.partition,
                        Some(placement[p.partition as usize].clone()),
                    )
                })
                .collect()
        } else {
            chosen.iter().map(|p| (name.to_owned(), *p, None)).collect()
        }
    };
    let nothing = "nothing to move: every partition is already there";
    let outcomes = if moves.is_empty() {
        Vec::new()
    } else {
        client.reassign_partitions(&moves).await?
    };
    let done = if args.how.cancel {
        "cancelled"
    } else {
        "reassignment started"
    };
    report(format, &outcomes, done, nothing)?;
    if args.wait && !args.how.cancel && !moves.is_empty() {
        let partitions: Vec<(String, i32)> = moves.into_iter().map(|(t, p, _)| (t, p)).collect();
        wait_for(client, &partitions, Duration::from_secs(args.timeout), format).await?;
    }
    Ok(())
}

/// Waits until none of `partitions` is being reassigned. Progress goes to stdout in text
/// and to stderr otherwise, so that JSON or YAML output stays one document.
async fn wait_for(client: &Client, partitions: &[(String, i32)], timeout: Duration, format: Format) -> Result<()> {
    let progress = |line: String| {
        if format == Format::Text {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    };
    let deadline = Instant::now() + timeout;
    let mut last_left = usize::MAX;
    loop {
        let left = client.list_reassignments(Some(partitions)).await?.len();
        if left == 0 {
            progress(format!("all {} reassignments finished", partitions.len()));
            return Ok(());
        }
        if left != last_left {
            progress(format!("{left} of {} reassignments in progress", partitions.len()));
            last_left = left;
        }
        if Instant::now() >= deadline {
            bail!("{left} reassignments still in progress after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        crate::Cli::command().debug_assert();
    }

    #[test]
    fn spread_rotates_leaders_and_replicas_over_the_brokers() {
        assert_eq!(
            spread(4, 2, &[1, 2, 3]),
            vec![vec![1, 2], vec![2, 3], vec![3, 1], vec![1, 2]]
        );
    }

    #[test]
    fn plans_read_kafkas_json() {
        let plan: Plan = serde_json::from_str(
            r#"{"version":1,"partitions":[{"topic":"t","partition":2,"replicas":[3,1],"log_dirs":["any","any"]}]}"#,
        )
        .unwrap();
        assert_eq!(
            (
                plan.partitions[0].topic.as_str(),
                plan.partitions[0].partition,
                plan.partitions[0].replicas.clone()
            ),
            ("t", 2, vec![3, 1])
        );
    }
}
