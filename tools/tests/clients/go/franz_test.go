package clientchecks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestFranzGoProducesConsumesInAGroupAndAdministers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	seeds := kgo.SeedBrokers(bootstrap(t))
	topic, group := unique("franz"), unique("franz-group")

	adminClient, err := kgo.NewClient(seeds)
	if err != nil {
		t.Fatal(err)
	}
	defer adminClient.Close()
	admin := kadm.NewClient(adminClient)
	created, err := admin.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, topic)
	if err != nil || created.Err != nil {
		t.Fatalf("create: %v %v", err, created.Err)
	}
	if again, err := admin.CreateTopic(ctx, 3, 1, nil, topic); err == nil && again.Err == nil {
		t.Fatal("creating the topic twice succeeded")
	}

	// franz-go's defaults: idempotent, acks=all.
	producer, err := kgo.NewClient(seeds, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	if err != nil {
		t.Fatal(err)
	}
	const records = 1200
	for i := 0; i < records; i += 100 {
		batch := make([]*kgo.Record, 0, 100)
		for j := i; j < i+100; j++ {
			batch = append(batch, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", j%9)), Value: []byte(fmt.Sprint(j))})
		}
		if err := producer.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	producer.Close()

	consumer, err := kgo.NewClient(seeds, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]int{}
	seen := 0
	for seen < records {
		fetches := consumer.PollFetches(ctx)
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			var n int
			fmt.Sscan(string(r.Value), &n)
			if prev, ok := last[string(r.Key)]; ok && prev >= n {
				t.Errorf("%s: %d after %d", r.Key, n, prev)
			}
			last[string(r.Key)] = n
			seen++
		})
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	consumer.Close()
	if seen != records {
		t.Fatalf("read %d records, wrote %d", seen, records)
	}

	ends, err := admin.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := admin.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		total += o.Offset
		c, ok := committed.Lookup(topic, o.Partition)
		if !ok || c.At != o.Offset {
			t.Errorf("partition %d: committed %v, end %d", o.Partition, c, o.Offset)
		}
	})
	if total != records {
		t.Fatalf("end offsets sum to %d", total)
	}
	groups, err := admin.DescribeGroups(ctx, group)
	if err != nil || groups[group].Err != nil {
		t.Fatalf("describe group: %v %v", err, groups[group].Err)
	}
	configs, err := admin.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := configs.On(topic, nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "retention.ms" && c.MaybeValue() == "3600000" {
			found = true
		}
	}
	if !found {
		t.Fatalf("retention.ms not described: %v", rc.Configs)
	}
	if _, err := admin.DeleteGroup(ctx, group); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	deleted, err := admin.DeleteTopic(ctx, topic)
	if err != nil || deleted.Err != nil {
		t.Fatalf("delete topic: %v %v", err, deleted.Err)
	}
}
