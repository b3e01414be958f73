package clientchecks

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

type countingHandler struct {
	mu   sync.Mutex
	seen map[string]bool
	want int
	done chan struct{}
	once sync.Once
}

func (h *countingHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *countingHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *countingHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.seen[string(m.Value)] = true
		if len(h.seen) == h.want {
			h.once.Do(func() { close(h.done) })
		}
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

// sarama with its defaults (protocol version, acks=WaitForLocal, offsets committed
// automatically every second).
func TestSaramaProducesConsumesInAGroupAndCommits(t *testing.T) {
	brokers := []string{bootstrap(t)}
	topic, group := unique("sarama"), unique("sarama-group")
	config := sarama.NewConfig()
	config.Producer.Return.Successes = true
	config.Consumer.Offsets.Initial = sarama.OffsetOldest

	admin, err := sarama.NewClusterAdmin(brokers, config)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create: %v", err)
	}
	// Kafka applies a creation through its metadata log: a describe right after it may
	// not show the partitions yet.
	deadline := time.Now().Add(10 * time.Second)
	for {
		described, err := admin.DescribeTopics([]string{topic})
		if err == nil && len(described) == 1 && len(described[0].Partitions) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("describe: %v %+v", err, described)
		}
		time.Sleep(100 * time.Millisecond)
	}

	producer, err := sarama.NewSyncProducer(brokers, config)
	if err != nil {
		t.Fatal(err)
	}
	const records = 300
	for i := 0; i < records; i++ {
		msg := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprint(i % 5)), Value: sarama.StringEncoder(fmt.Sprint(i))}
		if _, _, err := producer.SendMessage(msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	producer.Close()

	consumer, err := sarama.NewConsumerGroup(brokers, group, config)
	if err != nil {
		t.Fatal(err)
	}
	handler := &countingHandler{seen: map[string]bool{}, want: records, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for ctx.Err() == nil {
			if err := consumer.Consume(ctx, []string{topic}, handler); err != nil && ctx.Err() == nil {
				t.Errorf("consume: %v", err)
				return
			}
		}
	}()
	select {
	case <-handler.done:
	case <-time.After(45 * time.Second):
		t.Fatalf("read %d of %d", len(handler.seen), records)
	}
	cancel()
	if err := consumer.Close(); err != nil { // commits what was marked
		t.Fatalf("close: %v", err)
	}

	offsets, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	for _, block := range offsets.Blocks[topic] {
		committed += block.Offset
	}
	if committed != records {
		t.Fatalf("committed offsets sum to %d, want %d", committed, records)
	}
	if err := admin.DeleteConsumerGroup(group); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if err := admin.DeleteTopic(topic); err != nil {
		t.Fatalf("delete topic: %v", err)
	}
}
