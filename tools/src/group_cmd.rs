//! `brook group list|describe|delete|reset-offsets`, like `kafka-consumer-groups`.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use brook_client::{Client, GroupDescription, OffsetSpec};
use clap::{Args, Subcommand};

use crate::connect::Connect;

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

pub async fn run(command: GroupCommand, connect: &Connect) -> Result<()> {
    let client = connect.client();
    match command {
        GroupCommand::List => {
            let groups = client.list_groups().await?;
            println!("{:<40} {:<22} PROTOCOL-TYPE", "GROUP", "STATE");
            for g in groups {
                println!("{:<40} {:<22} {}", g.group_id, g.state, g.protocol_type);
            }
        }
        GroupCommand::Describe { group } => describe(&client, &group).await?,
        GroupCommand::Delete { groups } => {
            for group in groups {
                client
                    .delete_group(&group)
                    .await
                    .with_context(|| format!("cannot delete group {group}"))?;
                println!("deleted group {group}");
            }
        }
        GroupCommand::ResetOffsets(args) => reset(&client, args).await?,
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

async fn describe(client: &Client, group: &str) -> Result<()> {
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
    println!(
        "Group {group}: {}, {} member(s), assignor {}",
        description.state,
        description.members.len(),
        if description.protocol.is_empty() {
            "-"
        } else {
            &description.protocol
        }
    );
    println!(
        "{:<24} {:<24} {:>9} {:>15} {:>15} {:>8}  {:<40} {:<16} CLIENT-ID",
        "GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST"
    );
    let dash = || "-".to_owned();
    for key in &partitions {
        let current = committed.get(key);
        let end = ends.get(key);
        let lag = match (current, end) {
            (Some(c), Some(e)) => (e - c).max(0).to_string(),
            _ => dash(),
        };
        let (member, host, client_id) = owners.get(key).copied().unwrap_or(("-", "-", "-"));
        println!(
            "{:<24} {:<24} {:>9} {:>15} {:>15} {:>8}  {:<40} {:<16} {}",
            group,
            key.0,
            key.1,
            current.map_or_else(dash, i64::to_string),
            end.map_or_else(dash, i64::to_string),
            lag,
            member,
            host,
            client_id
        );
    }
    Ok(())
}

async fn reset(client: &Client, args: ResetArgs) -> Result<()> {
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
    println!(
        "{:<24} {:<24} {:>9} {:>12}",
        "GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"
    );
    for ((topic, partition), offset) in &targets {
        println!("{group:<24} {topic:<24} {partition:>9} {offset:>12}");
    }
    if args.execute {
        client.commit_offsets(group, &targets).await?;
        println!("committed {} offset(s) for group {group}", targets.len());
    } else {
        println!("(dry run: add --execute to commit these offsets)");
    }
    Ok(())
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
