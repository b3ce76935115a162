package otelstorage_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/orga-server/storage"
	"github.com/orga-server/storage/memstore"
	"github.com/orga-server/storage/otelstorage"
)

// ExampleInstrument wraps the storage a program uses once at startup, as
// the README does with FromEnv's: every call is then traced and measured
// with the global OpenTelemetry providers.
func ExampleInstrument() {
	var store storage.Storage = new(memstore.Store) // at startup: store, err := storage.FromEnv()
	store = otelstorage.Instrument(store)           // the global providers; or WithTracerProvider, WithMeterProvider
	defer store.Close()

	info, err := store.Put(context.Background(), "events/42/logo.txt", strings.NewReader("logo"), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Key, info.Size)
	// Output:
	// events/42/logo.txt 4
}
