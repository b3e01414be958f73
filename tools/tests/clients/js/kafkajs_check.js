// kafkajs against Brook: admin, a keyed produce, a group consumer reading every record
// once in order per partition, and a transactional producer that must fail at once
// saying transactions are not supported (issue 18). Prints one JSON line per check and
// exits non-zero with the reason when one fails.
// Usage: node kafkajs_check.js BOOTSTRAP TOPIC [round-trip|transactions]  (default: both)
"use strict";
const { Kafka, logLevel } = require("kafkajs");

const [bootstrap, topic, only] = process.argv.slice(2);
const kafka = new Kafka({
  clientId: "brook-kafkajs-check",
  brokers: [bootstrap],
  logLevel: logLevel.NOTHING,
  retry: { retries: 5 },
});

const PARTITIONS = 3;
const RECORDS = 300;

function fail(message) {
  console.error(message);
  process.exit(1);
}

async function roundTrip() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const listed = await admin.fetchTopicMetadata({ topics: [topic] });
  if (listed.topics[0].partitions.length !== PARTITIONS) fail(`metadata: ${JSON.stringify(listed)}`);
  await admin.disconnect();

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = [];
  for (let i = 0; i < RECORDS; i++) messages.push({ key: `key-${i % 7}`, value: `value-${i}` });
  for (let i = 0; i < RECORDS; i += 50) {
    await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 50) });
  }
  await producer.disconnect();

  const consumer = kafka.consumer({ groupId: `${topic}-group` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Map(); // key -> values in the order read
  let count = 0;
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${count} of ${RECORDS} in 30 s`)), 30000);
    consumer
      .run({
        eachMessage: async ({ message }) => {
          const key = message.key.toString();
          if (!seen.has(key)) seen.set(key, []);
          seen.get(key).push(Number(message.value.toString().slice("value-".length)));
          count += 1;
          if (count === RECORDS) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  for (const [key, values] of seen) {
    for (let i = 1; i < values.length; i++) {
      if (values[i] <= values[i - 1]) fail(`${key} out of order: ${values}`);
    }
  }
  if (count !== RECORDS) fail(`read ${count} records, wrote ${RECORDS}`);
  return { client: "kafkajs", check: "round-trip", records: count, keys: seen.size };
}

async function transactionRefused() {
  const producer = kafka.producer({
    transactionalId: `${topic}-txn`,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  const started = process.hrtime.bigint();
  let error = null;
  try {
    await producer.connect();
    const txn = await producer.transaction();
    await txn.abort();
  } catch (e) {
    error = `${e.name}: ${e.message}`;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await producer.disconnect().catch(() => {});
  return { client: "kafkajs", check: "transactions", seconds: Math.round(seconds * 1000) / 1000, error };
}

(async () => {
  if (only !== "transactions") console.log(JSON.stringify(await roundTrip()));
  if (only !== "round-trip") console.log(JSON.stringify(await transactionRefused()));
})().catch((e) => fail(`${e.name}: ${e.message}\n${e.stack}`));
