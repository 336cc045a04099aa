package main

import (
	"context"
	"testing"
)

func TestRun(t *testing.T) {
	if err := run(context.Background(), "", "", 2000, 4); err != nil {
		t.Fatal(err)
	}
}
