// Go clients against Brook (or Kafka): franz-go and sarama, each through its producer,
// group consumer and admin client. The broker is at $KAFKA_BOOTSTRAP; each test makes
// topics and groups of its own. Run by tools/tests/go_clients.rs.
package clientchecks

import (
	"fmt"
	"math/rand"
	"os"
	"testing"
)

func bootstrap(t *testing.T) string {
	b := os.Getenv("KAFKA_BOOTSTRAP")
	if b == "" {
		t.Fatal("KAFKA_BOOTSTRAP is not set (tools/tests/go_clients.rs sets it)")
	}
	return b
}

// unique names a topic or group no earlier run on the same cluster used.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%08x", prefix, rand.Uint32())
}
