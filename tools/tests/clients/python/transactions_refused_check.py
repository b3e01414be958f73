"""Transactional producers against Brook fail at once, saying why (issue 18).

Brook has no transactions yet. confluent-kafka (librdkafka) and aiokafka must fail fast
with the fatal TRANSACTIONAL_ID_AUTHORIZATION_FAILED, not retry until their timeouts.
Prints one JSON line per client: how long the failure took and its text.
Usage: transactions_refused_check.py BOOTSTRAP [IGNORED...]
"""
import asyncio
import json
import sys
import time

from confluent_kafka import KafkaException, Producer

bootstrap = sys.argv[1]


def confluent():
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "txn-refused"})
    started = time.monotonic()
    try:
        producer.init_transactions(30)
        error = None
    except KafkaException as e:
        error = e.args[0]
    elapsed = time.monotonic() - started
    return {
        "client": "confluent-kafka",
        "seconds": round(elapsed, 3),
        "error": None if error is None else error.str(),
        "fatal": None if error is None else error.fatal(),
        "retriable": None if error is None else error.retriable(),
    }


async def aiokafka():
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id="txn-refused-aio")
    started = time.monotonic()
    try:
        await asyncio.wait_for(producer.start(), 30)
        error = None
    except Exception as e:  # whatever aiokafka raises, its text is what users see
        error = f"{type(e).__name__}: {e}"
    elapsed = time.monotonic() - started
    await producer.stop()
    return {"client": "aiokafka", "seconds": round(elapsed, 3), "error": error}


print(json.dumps(confluent()), flush=True)
print(json.dumps(asyncio.run(aiokafka())), flush=True)
