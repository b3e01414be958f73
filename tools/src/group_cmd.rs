//! `brook group list|describe|delete|reset-offsets`, like `kafka-consumer-groups`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use brook_client::{Client, GroupDescription, OffsetSpec};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::connect::Connect;
use crate::output::{self, Format};

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List every consumer group with its state.
    List,
    /// Show a group's members and, per partition, its committed offset, log end offset and lag.
    Describe { group: String },
    /// Delete groups with no active members, and their committed offsets.
    Delete {
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Move an inactive group's committed offsets (a dry run unless --execute).
    ResetOffsets(ResetArgs),
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    group: String,
    /// A topic (all its partitions) or `topic:0,1,2`; repeatable.
    #[arg(long = "topic", required_unless_present = "all_topics")]
    topics: Vec<String>,
    /// Every topic the group has committed offsets for.
    #[arg(long)]
    all_topics: bool,
    #[command(flatten)]
    target: ResetTarget,
    /// Commit the new offsets (without it, only show them).
    #[arg(long)]
    execute: bool,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct ResetTarget {
    #[arg(long)]
    to_earliest: bool,
    #[arg(long)]
    to_latest: bool,
    /// This offset, kept within the partition's earliest and latest.
    #[arg(long, allow_hyphen_values = true)]
    to_offset: Option<i64>,
    /// The first offset at or after a time: `YYYY-MM-DDTHH:MM:SS[.sss][Z|±HH:MM]` (UTC
    /// when no zone is given) or milliseconds since the epoch.
    #[arg(long)]
    to_datetime: Option<String>,
    /// The committed offset moved by this many (negative: back).
    #[arg(long, allow_hyphen_values = true)]
    shift_by: Option<i64>,
}

/// One line of `group list`.
#[derive(Serialize)]
struct GroupRow {
    group: String,
    state: String,
    protocol_type: String,
}

/// `group describe`.
#[derive(Serialize)]
struct GroupView {
    group: String,
    state: String,
    /// The assignor (`range`, ...); empty when the group has none.
    protocol: String,
    members: usize,
    partitions: Vec<GroupPartition>,
}

#[derive(Serialize)]
struct GroupPartition {
    topic: String,
    partition: i32,
    /// `null`: nothing committed.
    current_offset: Option<i64>,
    log_end_offset: Option<i64>,
    lag: Option<i64>,
    /// The member it is assigned to, if any.
    consumer_id: Option<String>,
    host: Option<String>,
    client_id: Option<String>,
}

/// `group reset-offsets`.
#[derive(Serialize)]
struct ResetView {
    group: String,
    executed: bool,
    offsets: Vec<NewOffset>,
}

#[derive(Serialize)]
struct NewOffset {
    topic: String,
    partition: i32,
    new_offset: i64,
}

pub async fn run(command: GroupCommand, connect: &Connect, format: Format) -> Result<()> {
    let client = connect.client();
    match command {
        GroupCommand::List => {
            let rows: Vec<GroupRow> = client
                .list_groups()
                .await?
                .into_iter()
                .map(|g| GroupRow {
                    group: g.group_id,
                    state: g.state,
                    protocol_type: g.protocol_type,
                })
                .collect();
            output::print(format, &rows, |rows| {
                let mut text = format!("{:<40} {:<22} PROTOCOL-TYPE\n", "GROUP", "STATE");
                for g in rows {
                    text += &format!("{:<40} {:<22} {}\n", g.group, g.state, g.protocol_type);
                }
                text
            })?;
        }
        GroupCommand::Describe { group } => {
            let view = describe(&client, &group).await?;
            output::print(format, &view, describe_text)?;
        }
        GroupCommand::Delete { groups } => {
            let mut deleted = Vec::new();
            for group in groups {
                client
                    .delete_group(&group)
                    .await
                    .with_context(|| format!("cannot delete group {group}"))?;
                deleted.push(group);
            }
            output::print(format, &deleted, |deleted| {
                deleted.iter().map(|g| format!("deleted group {g}\n")).collect()
            })?;
        }
        GroupCommand::ResetOffsets(args) => reset(&client, args, format).await?,
    }
    Ok(())
}

async fn existing_group(client: &Client, group: &str) -> Result<GroupDescription> {
    let description = client.describe_group(group).await?;
    if description.state == "Dead" {
        bail!("consumer group {group} does not exist");
    }
    Ok(description)
}

async fn describe(client: &Client, group: &str) -> Result<GroupView> {
    let description = existing_group(client, group).await?;
    let committed = client.committed_offsets(group).await?;
    // Every partition the group has a commit for or a member is assigned.
    let mut owners: BTreeMap<(String, i32), (&str, &str, &str)> = BTreeMap::new();
    for m in &description.members {
        for (topic, partitions) in &m.assignment {
            for p in partitions {
                owners.insert((topic.clone(), *p), (&m.member_id, &m.host, &m.client_id));
            }
        }
    }
    let partitions: BTreeSet<(String, i32)> = committed.keys().chain(owners.keys()).cloned().collect();
    let partitions: Vec<(String, i32)> = partitions.into_iter().collect();
    let ends = if partitions.is_empty() {
        BTreeMap::new()
    } else {
        client.list_offsets(&partitions, OffsetSpec::Latest).await?
    };
    let partitions = partitions
        .into_iter()
        .map(|key| {
            let current = committed.get(&key).copied();
            let end = ends.get(&key).copied();
            let owner = owners.get(&key);
            GroupPartition {
                lag: current.zip(end).map(|(c, e)| (e - c).max(0)),
                current_offset: current,
                log_end_offset: end,
                consumer_id: owner.map(|o| o.0.to_owned()),
                host: owner.map(|o| o.1.to_owned()),
                client_id: owner.map(|o| o.2.to_owned()),
                topic: key.0,
                partition: key.1,
            }
        })
        .collect();
    Ok(GroupView {
        group: group.to_owned(),
        state: description.state,
        protocol: description.protocol,
        members: description.members.len(),
        partitions,
    })
}

/// `kafka-consumer-groups --describe`'s table, after a summary line.
fn describe_text(view: &GroupView) -> String {
    let mut text = format!(
        "Group {}: {}, {} member(s), assignor {}\n",
        view.group,
        view.state,
        view.members,
        if view.protocol.is_empty() { "-" } else { &view.protocol }
    );
    text += &format!(
        "{:<24} {:<24} {:>9} {:>15} {:>15} {:>8}  {:<40} {:<16} CLIENT-ID\n",
        "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST"
    );
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
    for p in &view.partitions {
        text += &format!(
            "{:<24} {:<24} {:>9} {:>15} {:>15} {:>8}  {:<40} {:<16} {}\n",
            view.group,
            p.topic,
            p.partition,
            or_dash(p.current_offset.map(|o| o.to_string())),
            or_dash(p.log_end_offset.map(|o| o.to_string())),
            or_dash(p.lag.map(|o| o.to_string())),
            or_dash(p.consumer_id.clone()),
            or_dash(p.host.clone()),
            or_dash(p.client_id.clone())
        );
    }
    text
}

async fn reset(client: &Client, args: ResetArgs, format: Format) -> Result<()> {
    let group = args.group.as_str();
    let description = client.describe_group(group).await?;
    if !matches!(description.state.as_str(), "Empty" | "Dead") {
        bail!(
            "consumer group {group} is {} with {} member(s): offsets can only be reset while it is inactive",
            description.state,
            description.members.len()
        );
    }
    let committed = client.committed_offsets(group).await?;
    let partitions = chosen_partitions(client, &args, &committed).await?;
    if partitions.is_empty() {
        bail!("no partitions to reset");
    }
    let earliest = client.list_offsets(&partitions, OffsetSpec::Earliest).await?;
    let latest = client.list_offsets(&partitions, OffsetSpec::Latest).await?;
    let t = &args.target;
    let by_time = match &t.to_datetime {
        Some(text) => Some(
            client
                .list_offsets(&partitions, OffsetSpec::Timestamp(parse_datetime(text)?))
                .await?,
        ),
        None => None,
    };
    let mut targets = BTreeMap::new();
    for key in &partitions {
        let (low, high) = (earliest[key], latest[key]);
        let wanted = if t.to_earliest {
            low
        } else if t.to_latest {
            high
        } else if let Some(offset) = t.to_offset {
            offset
        } else if let Some(found) = &by_time {
            // No record at or after the time: the end (ListOffsets answers -1).
            found.get(key).copied().filter(|o| *o >= 0).unwrap_or(high)
        } else {
            committed.get(key).copied().unwrap_or(low) + t.shift_by.unwrap_or(0)
        };
        targets.insert(key.clone(), wanted.clamp(low, high));
    }
    if args.execute {
        client.commit_offsets(group, &targets).await?;
    }
    let view = ResetView {
        group: group.to_owned(),
        executed: args.execute,
        offsets: targets
            .into_iter()
            .map(|((topic, partition), new_offset)| NewOffset {
                topic,
                partition,
                new_offset,
            })
            .collect(),
    };
    output::print(format, &view, |view| {
        let mut text = format!(
            "{:<24} {:<24} {:>9} {:>12}\n",
            "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"
        );
        for o in &view.offsets {
            text += &format!(
                "{:<24} {:<24} {:>9} {:>12}\n",
                view.group, o.topic, o.partition, o.new_offset
            );
        }
        if view.executed {
            text += &format!("committed {} offset(s) for group {}\n", view.offsets.len(), view.group);
        } else {
            text += "(dry run: add --execute to commit these offsets)\n";
        }
        text
    })
}

async fn chosen_partitions(
    client: &Client,
    args: &ResetArgs,
    committed: &BTreeMap<(String, i32), i64>,
) -> Result<Vec<(String, i32)>> {
    if args.all_topics {
        return Ok(committed.keys().cloned().collect());
    }
    crate::partition_spec::resolve(client, &args.topics).await
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.sss][Z|±HH:MM]` (UTC without a
/// zone), or of a plain number of milliseconds.
fn parse_datetime(text: &str) -> Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let bad = || anyhow::anyhow!("cannot read {text:?} as YYYY-MM-DDTHH:MM:SS[.sss][Z|±HH:MM]");
    let (date, rest) = text.split_once('T').ok_or_else(bad)?;
    let (clock, offset_minutes) = if let Some(clock) = rest.strip_suffix('Z') {
        (clock, 0)
    } else if let Some(at) = rest.rfind(['+', '-']).filter(|at| *at >= 8) {
        let (clock, zone) = rest.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':').ok_or_else(bad)?;
        let minutes = h.parse::<i64>().map_err(|_| bad())? * 60 + m.parse::<i64>().map_err(|_| bad())?;
        (clock, sign * minutes)
    } else {
        (rest, 0)
    };
    let number = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let date: Vec<&str> = date.split('-').collect();
    let [year, month, day] = date[..] else {
        return Err(bad());
    };
    let (hms, millis) = clock.split_once('.').unwrap_or((clock, "0"));
    let hms: Vec<&str> = hms.split(':').collect();
    let [hour, minute, second] = hms[..] else {
        return Err(bad());
    };
    let (year, month, day) = (number(year)?, number(month)?, number(day)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(bad());
    }
    let millis = number(&format!("{millis:0<3}")[..3])?;
    let seconds =
        days_from_civil(year, month, day) * 86_400 + number(hour)? * 3600 + number(minute)? * 60 + number(second)?
            - offset_minutes * 60;
    Ok(seconds * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn datetimes_read_like_kafka_consumer_groups() {
        assert_eq!(parse_datetime("1970-01-01T00:00:00").unwrap(), 0);
        assert_eq!(parse_datetime("2026-11-23T10:00:00Z").unwrap(), 1_795_428_000_000);
        assert_eq!(parse_datetime("2026-11-23T10:00:00.250").unwrap(), 1_795_428_000_250);
        assert_eq!(parse_datetime("2026-11-23T12:00:00+02:00").unwrap(), 1_795_428_000_000);
        assert_eq!(parse_datetime("2026-11-23T05:30:00-04:30").unwrap(), 1_795_428_000_000);
        assert_eq!(parse_datetime("2000-02-29T00:00:00").unwrap(), 951_782_400_000);
        assert_eq!(parse_datetime("1795428000000").unwrap(), 1_795_428_000_000);
        assert!(parse_datetime("yesterday").is_err());
        assert!(parse_datetime("2026-13-01T00:00:00").is_err());
    }
}
