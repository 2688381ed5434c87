//go:build !pcsc

package pcsc

import (
	"context"
	"errors"
	"testing"
)

func TestStubSaysNotBuilt(t *testing.T) {
	if Built {
		t.Fatal("Built is true without the pcsc tag")
	}
	tr, closeFn, err := Open(context.Background(), "")
	if !errors.Is(err, ErrNotBuilt) || tr != nil || closeFn != nil {
		t.Fatalf("Open = %v, %v, want ErrNotBuilt", tr, err)
	}
	if _, err := Readers(context.Background()); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Readers = %v, want ErrNotBuilt", err)
	}
}
