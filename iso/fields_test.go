package iso

import (
	"reflect"
	"testing"
)

// TestFieldTable: the field table is in wire order, each line's accessor
// matches its format's class, and every field of Message but the MTI has
// exactly one line (a new Message field without its line fails here).
func TestFieldTable(t *testing.T) {
	reached := map[string]int{}
	keys := map[string]bool{}
	for i := range contract {
		f := &contract[i]
		if f.n < 2 || f.n > 128 || f.n == 65 || (i > 0 && f.n <= contract[i-1].n) {
			t.Errorf("line %d: DE%d out of order or out of range", i, f.n)
		}
		binary := f.class == classHex || f.class == classBig5
		if (f.str == nil) == (f.bin == nil) || (f.bin != nil) != binary {
			t.Errorf("DE%d: accessor does not match class %d", f.n, f.class)
		}
		if (f.log == logNever) != (f.key == "") || keys[f.key] && f.key != "" {
			t.Errorf("DE%d: log key %q (log %d) missing or not unique", f.n, f.key, f.log)
		}
		keys[f.key] = true
		if f.log == logMasked && f.n != 2 {
			t.Errorf("DE%d masked as a PAN", f.n)
		}
		// Which Message field does the accessor reach?
		var m Message
		if f.str != nil {
			*f.str(&m) = "x"
		} else {
			*f.bin(&m) = []byte{1}
		}
		v := reflect.ValueOf(m)
		for j := 0; j < v.NumField(); j++ {
			if !v.Field(j).IsZero() {
				reached[v.Type().Field(j).Name]++
			}
		}
		if g := lookup(f.n); g != f {
			t.Errorf("lookup(%d) = %v", f.n, g)
		}
	}
	typ := reflect.TypeFor[Message]()
	for j := 0; j < typ.NumField(); j++ {
		name := typ.Field(j).Name
		if want := map[bool]int{true: 0, false: 1}[name == "MTI"]; reached[name] != want {
			t.Errorf("Message.%s is reached by %d lines of the field table, want %d", name, reached[name], want)
		}
	}
	for _, n := range []int{0, 1, 4, 65, 99, 127, 129, -1} {
		if lookup(n) != nil {
			t.Errorf("lookup(%d) found a line", n)
		}
	}
}
