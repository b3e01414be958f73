//! Partition lists on the command line: `topic` (all its partitions) or `topic:0,1,2`.

use anyhow::{Context, Result};
use brook_client::Client;

/// The partitions `specs` name, in order; a bare topic is looked up for its partitions.
pub async fn resolve(client: &Client, specs: &[String]) -> Result<Vec<(String, i32)>> {
    let mut chosen = Vec::new();
    for spec in specs {
        match spec.split_once(':') {
            Some((topic, list)) => {
                for p in list.split(',') {
                    let p: i32 = p.trim().parse().with_context(|| format!("bad partition in {spec:?}"))?;
                    chosen.push((topic.to_owned(), p));
                }
            }
            None => {
                let topics = client
                    .topics(Some(std::slice::from_ref(spec)))
                    .await
                    .with_context(|| format!("cannot find topic {spec}"))?;
                for topic in topics {
                    chosen.extend(topic.partitions.iter().map(|p| (topic.name.clone(), p.partition)));
                }
            }
        }
    }
    Ok(chosen)
}
